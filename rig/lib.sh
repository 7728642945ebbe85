# shellcheck shell=bash
# Shared helpers for the vmstack test rig. Sourced, never executed.

RIG_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "${RIG_DIR}/.." && pwd)"
RIG_CACHE="${VMSTACK_RIG_CACHE:-${REPO_DIR}/.cache/rig}"
RIG_SUITE="${VMSTACK_RIG_SUITE:-trixie}"
RIG_MIRROR="${VMSTACK_RIG_MIRROR:-http://deb.debian.org/debian}"
RIG_PREFIX="${VMSTACK_RIG_PREFIX:-vmstack-rig}"

log() { printf '[rig] %s\n' "$*" >&2; }
die() { printf '[rig] ERROR: %s\n' "$*" >&2; exit 1; }

# Prints the sha256 of the given files' contents (order matters), short form.
recipe_hash() {
  cat "$@" | sha256sum | cut -c1-16
}

# Label value of an image, empty when the image is absent.
image_label() {
  docker image inspect --format "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true
}
