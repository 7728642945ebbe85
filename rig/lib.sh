# shellcheck shell=bash
# Shared helpers for the vmstack test rig. Sourced, never executed.

RIG_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "${RIG_DIR}/.." && pwd)"
# Used by the scripts that source this file.
# shellcheck disable=SC2034
{
  RIG_CACHE="${VMSTACK_RIG_CACHE:-${REPO_DIR}/.cache/rig}"
  RIG_SUITE="${VMSTACK_RIG_SUITE:-trixie}"
  RIG_MIRROR="${VMSTACK_RIG_MIRROR:-http://deb.debian.org/debian}"
  RIG_PREFIX="${VMSTACK_RIG_PREFIX:-vmstack-rig}"
}

# log/die: the one definition every vmstack script uses.
# shellcheck source=scripts/lib.sh
source "${REPO_DIR}/scripts/lib.sh"
VMSTACK_LOG_TAG=rig

# Prints the sha256 of the given files' contents (order matters), short form.
recipe_hash() {
  cat "$@" | sha256sum | cut -c1-16
}

# Label value of an image, empty when the image is absent.
image_label() {
  docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}

# Installs debootstrap on the machine building an image, when it is missing.
rig_need_debootstrap() {
  command -v debootstrap >/dev/null 2>&1 && return 0
  log "installing debootstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}

# apt inside a debootstrapped root (rig images and the VM image alike): the rig's
# mirror in deb822 form, no Valid-Until check (snapshot mirrors need that), no
# recommends or suggests. Part of both images' recipe hashes (`declare -f`).
rig_apt_setup() {
  local rootfs="$1"
  rm -f "${rootfs}/etc/apt/sources.list"
  cat >"${rootfs}/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: ${RIG_MIRROR}
Suites: ${RIG_SUITE} ${RIG_SUITE}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  cat >"${rootfs}/etc/apt/apt.conf.d/99vmstack-rig" <<'APTCONF'
Acquire::Check-Valid-Until "false";
APT::Install-Recommends "false";
APT::Install-Suggests "false";
APTCONF
}
