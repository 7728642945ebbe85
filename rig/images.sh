#!/usr/bin/env bash
# Builds the rig's images locally from Debian packages: no registry is needed.
#
#   rig/images.sh [debian|systemd|python|postgres|nginx|redis|all]...
#
#   vmstack-rig/debian:SUITE   debootstrap minbase, imported (cached by recipe hash)
#   vmstack-rig/systemd:SUITE  systemd instance for Molecule and the demo target
#   vmstack-rig/python:SUITE   stand-in for python:3.12-slim (the app's BASE_IMAGE)
#   vmstack-rig/postgres:SUITE stand-in for postgres:17 (same env/PGDATA/port contract)
#   vmstack-rig/nginx:SUITE    stand-in for nginx:stable (same conf.d layout)
#   vmstack-rig/redis:SUITE    stand-in for redis:8 (user 999, /data, port 6379)
set -euo pipefail
# shellcheck source=rig/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

build_debian() {
  local name="${RIG_PREFIX}/debian:${RIG_SUITE}" recipe hash rootfs
  recipe="${RIG_DIR}/images/debian/recipe.env"
  hash="$(printf '%s %s %s %s\n' "${RIG_SUITE}" "${RIG_MIRROR}" "$(recipe_hash "${recipe}" "${BASH_SOURCE[0]}")" \
    "$(declare -f rig_apt_setup | sha256sum | cut -c1-16)" | sha256sum | cut -c1-16)"
  if [[ "$(image_label "${name}" vmstack.rig.recipe)" == "${hash}" ]]; then
    log "${name} is current (recipe ${hash})"
    return 0
  fi
  [[ ${EUID} -eq 0 ]] || die "building ${name} needs root (debootstrap)"
  rig_need_debootstrap
  # shellcheck source=/dev/null
  source "${recipe}"
  rootfs="${RIG_CACHE}/rootfs-${RIG_SUITE}-${hash}"
  rm -rf "${rootfs}"
  mkdir -p "${rootfs}"
  log "debootstrap ${RIG_SUITE} (${DEBOOTSTRAP_VARIANT}) into ${rootfs}"
  local t0=${SECONDS}
  debootstrap --variant="${DEBOOTSTRAP_VARIANT}" --include="${DEBOOTSTRAP_INCLUDE}" \
    "${RIG_SUITE}" "${rootfs}" "${RIG_MIRROR}" >"${RIG_CACHE}/debootstrap.log" 2>&1 \
    || { tail -20 "${RIG_CACHE}/debootstrap.log" >&2; die "debootstrap failed"; }
  rig_apt_setup "${rootfs}"
  # Drop the package cache and make images reproducible-ish.
  rm -rf "${rootfs}"/var/cache/apt/archives/*.deb "${rootfs}"/var/lib/apt/lists/*
  : >"${rootfs}/etc/machine-id"
  log "importing ${name}"
  tar --numeric-owner --xattrs -C "${rootfs}" -c . \
    | docker import --change "LABEL vmstack.rig.recipe=${hash}" --change 'CMD ["/bin/bash"]' - "${name}" >/dev/null
  rm -rf "${rootfs}"
  log "${name} built in $((SECONDS - t0)) s"
}

build_dockerfile() {
  local what="$1" name="${RIG_PREFIX}/$1:${RIG_SUITE}" t0=${SECONDS}
  log "building ${name}"
  docker build --quiet --build-arg "BASE=${RIG_PREFIX}/debian:${RIG_SUITE}" \
    -t "${name}" "${RIG_DIR}/images/${what}" >/dev/null
  log "${name} ready in $((SECONDS - t0)) s"
}

main() {
  local targets=("$@")
  [[ ${#targets[@]} -gt 0 ]] || targets=(all)
  [[ " ${targets[*]} " == *" all "* ]] && targets=(systemd python postgres nginx redis)
  "${RIG_DIR}/ensure-docker.sh"
  mkdir -p "${RIG_CACHE}"
  build_debian
  local t
  for t in "${targets[@]}"; do
    case "${t}" in
      debian) ;;
      systemd|python|postgres|nginx|redis) build_dockerfile "${t}" ;;
      *) die "unknown image '${t}' (debian, systemd, python, postgres, nginx, redis, all)" ;;
    esac
  done
}

main "$@"
