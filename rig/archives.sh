#!/usr/bin/env bash
# Builds the app image from app/ on the rig's python stand-in and saves every
# image the stack runs as a `docker save` archive: the product's own air-gapped
# delivery (app_delivery / *_image_source: archive) is how tests and the demo
# get images onto a host that can't reach a registry.
#
#   rig/archives.sh            -> .cache/rig/archives/{app-VERSION,postgres,nginx,redis}.tar
#   rig/archives.sh app-variant:0.2.0 app-broken:0.3.0   -> releases for the release story (default scenario)
#   rig/archives.sh frontend:1.0.0 frontend:1.1.0        -> the stand-in frontend (an extra service), by version
#
# An archive is rewritten only when its image changed; the app image is rebuilt
# only when the app/ source changed.
set -euo pipefail
# shellcheck source=rig/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ARCHIVES="${RIG_CACHE}/archives"
APP_VERSION="${VMSTACK_APP_VERSION:-0.1.0}"
APP_IMAGE="vmstack/app:${APP_VERSION}"

save_archive() {
  local image="$1" file="$2" id
  id="$(docker image inspect --format '{{.Id}}' "${image}")"
  if [[ -f "${file}" && "$(cat "${file}.id" 2>/dev/null)" == "${id}" ]]; then
    log "${file##*/} is current"
    return 0
  fi
  log "saving ${image} -> ${file##*/}"
  docker save -o "${file}.tmp" "${image}"
  mv "${file}.tmp" "${file}"
  printf '%s\n' "${id}" >"${file}.id"
}

build_app() {
  local hash
  hash="$(cd "${REPO_DIR}/app" && find . -type f \
      -not -path '*/__pycache__/*' -not -path './.venv/*' -not -path './.pytest_cache/*' \
      -not -path './.mypy_cache/*' -not -path './.ruff_cache/*' -not -path './.schemathesis/*' \
      -not -name '*.db' -not -name '.coverage*' -print0 \
    | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)-${APP_VERSION}"
  if docker image inspect "${APP_IMAGE}" >/dev/null 2>&1 \
      && [[ "$(cat "${ARCHIVES}/app.source" 2>/dev/null)" == "${hash}" ]]; then
    log "${APP_IMAGE} is current (source ${hash})"
  else
    log "building ${APP_IMAGE} from app/"
    BASE_IMAGE="${RIG_PREFIX}/python:${RIG_SUITE}" TAG="${APP_IMAGE}" RELEASE_ID="${APP_VERSION}" \
      bash "${REPO_DIR}/scripts/build-app-image.sh"
    printf '%s\n' "${hash}" >"${ARCHIVES}/app.source"
  fi
  save_archive "${APP_IMAGE}" "${ARCHIVES}/app-${APP_VERSION}.tar"
}

# Another release of the same code: a distinct image (own id) tagged VERSION.
# Releases differ by image and by the RELEASE_ID the slot runs with.
build_variant() {
  local version="$1" image="vmstack/app:$1"
  log "building ${image} on top of ${APP_IMAGE}"
  printf 'FROM %s\nLABEL org.opencontainers.image.version="%s"\n' "${APP_IMAGE}" "${version}" \
    | docker build --quiet -t "${image}" - >/dev/null
  save_archive "${image}" "${ARCHIVES}/app-${version}.tar"
}

# A release that starts but never becomes ready: `serve` points at a database
# that isn't there (/healthz 200, /readyz 503), while `migrate` works. It is how
# the release story proves a failing gate leaves the live release serving.
build_broken() {
  local version="$1" image="vmstack/app:$1"
  log "building ${image} (never ready) on top of ${APP_IMAGE}"
  docker build --quiet -t "${image}" -f - "${RIG_DIR}/images/app-broken" >/dev/null <<DOCKERFILE
FROM ${APP_IMAGE}
COPY entrypoint.sh /usr/local/bin/never-ready
ENTRYPOINT ["/bin/sh", "/usr/local/bin/never-ready"]
CMD ["serve"]
DOCKERFILE
  save_archive "${image}" "${ARCHIVES}/app-${version}.tar"
}

# The stand-in frontend (rig/images/frontend): a static bundle on the rig's nginx,
# one image per VERSION (the bundle reports it). It plays an extra HTTP service.
build_frontend() {
  local version="$1" image="vmstack/frontend:$1" t0=${SECONDS}
  log "building ${image} on ${RIG_PREFIX}/nginx:${RIG_SUITE}"
  docker build --quiet --build-arg "BASE=${RIG_PREFIX}/nginx:${RIG_SUITE}" --build-arg "VERSION=${version}" \
    -t "${image}" "${RIG_DIR}/images/frontend" >/dev/null
  log "${image} ready in $((SECONDS - t0)) s"
  save_archive "${image}" "${ARCHIVES}/frontend-${version}.tar"
}

main() {
  local targets=("$@")
  [[ ${#targets[@]} -gt 0 ]] || targets=(app postgres nginx redis)
  mkdir -p "${ARCHIVES}"
  local t
  for t in "${targets[@]}"; do
    case "${t}" in
      app) build_app ;;
      app-variant:*) build_app; build_variant "${t#app-variant:}" ;;
      app-broken:*) build_app; build_broken "${t#app-broken:}" ;;
      frontend:*) build_frontend "${t#frontend:}" ;;
      postgres|nginx|redis) save_archive "${RIG_PREFIX}/${t}:${RIG_SUITE}" "${ARCHIVES}/${t}.tar" ;;
      *) die "unknown archive '${t}' (app, app-variant:VERSION, app-broken:VERSION, frontend:VERSION, postgres, nginx, redis)" ;;
    esac
  done
}

main "$@"
