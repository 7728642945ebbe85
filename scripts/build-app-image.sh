#!/usr/bin/env bash
# Build the app image and smoke-test it (SQLite, migrate then serve, /healthz + /readyz).
#
#   BASE_IMAGE=vmstack-rig/python:trixie TAG=vmstack/app:dev RELEASE_ID=abc bash scripts/build-app-image.sh
#
# Env: BASE_IMAGE (python:3.12-slim), TAG (vmstack/app:dev), RELEASE_ID (git describe),
#      APP_WHEELHOUSE (1: download every wheel on the host for the base image's Python and
#      build offline -- needed where pip inside `docker build` cannot reach an index;
#      0: let pip inside the build use its index).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE_IMAGE="${BASE_IMAGE:-python:3.12-slim}"
TAG="${TAG:-vmstack/app:dev}"
RELEASE_ID="${RELEASE_ID:-$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo dev)}"
APP_WHEELHOUSE="${APP_WHEELHOUSE:-1}"
HOST_PIP="${HOST_PIP:-python3 -m pip}"

# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
VMSTACK_LOG_TAG=app-image

docker info >/dev/null 2>&1 || die "no Docker engine answers 'docker info'"
docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || docker pull "$BASE_IMAGE" >&2 \
  || die "base image $BASE_IMAGE is not available locally and cannot be pulled"

CTX="$(mktemp -d /tmp/vmstack-app-ctx.XXXXXX)"
NAME="vmstack-app-smoke-$$"
VOLUME="vmstack-app-smoke-$$"
cleanup() {
  docker rm -f "$NAME" >/dev/null 2>&1 || true
  docker volume rm -f "$VOLUME" >/dev/null 2>&1 || true
  rm -rf "$CTX"
}
trap cleanup EXIT

cp -r "$ROOT/app/pyproject.toml" "$ROOT/app/README.md" "$ROOT/app/alembic.ini" \
  "$ROOT/app/Dockerfile" "$ROOT/app/.dockerignore" "$CTX/"
(cd "$ROOT/app" && tar --exclude=__pycache__ --exclude='*.pyc' -cf - app) | tar -C "$CTX" -xf -

if [ "$APP_WHEELHOUSE" = 1 ]; then
  pyver="$(docker run --rm --entrypoint python3 "$BASE_IMAGE" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  case "$(docker run --rm --entrypoint python3 "$BASE_IMAGE" -c 'import platform; print(platform.machine())')" in
    x86_64|amd64) arch=x86_64 ;;
    aarch64|arm64) arch=aarch64 ;;
    *) die "unsupported architecture for the wheelhouse" ;;
  esac
  log "wheelhouse for CPython $pyver/$arch (host pip downloads; the build runs offline)"
  mkdir -p "$CTX/wheels"
  $HOST_PIP wheel -q --no-deps -w "$CTX/wheels" "$CTX" 2>&1 | grep -v "^WARNING: Location" >&2 || true
  $HOST_PIP download -q --only-binary=:all: --implementation cp --python-version "$pyver" \
    --platform "manylinux_2_28_$arch" --platform "manylinux_2_17_$arch" --platform "manylinux2014_$arch" \
    -d "$CTX/wheels" "$(ls "$CTX"/wheels/vmstack_app-*.whl)" 2>&1 | grep -v "^WARNING: Location" >&2 || true
  if ! { ls "$CTX"/wheels/vmstack_app-*.whl && ls "$CTX"/wheels/fastapi-*.whl; } >/dev/null; then
    die "wheelhouse incomplete"
  fi
fi

log "docker build $TAG (BASE_IMAGE=$BASE_IMAGE, RELEASE_ID=$RELEASE_ID)"
start=$(date +%s)
docker build -q --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "RELEASE_ID=$RELEASE_ID" \
  -t "$TAG" "$CTX" >/dev/null
build_seconds=$(( $(date +%s) - start ))
size_mb=$(( $(docker image inspect -f '{{.Size}}' "$TAG") / 1000000 ))
echo "image $TAG built in ${build_seconds}s, ${size_mb} MB"

log "smoke test"
KEY="$(python3 -c 'import secrets, string; print("".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40)))')"
ENV_ARGS=(-e "DATABASE_URL=sqlite:////var/lib/vmstack/app.db" -e "SECRET_KEY=$KEY" -e "LOG_LEVEL=INFO")
docker volume create "$VOLUME" >/dev/null

# production settings are enforced: a short SECRET_KEY must not start
if docker run --rm -e "SECRET_KEY=too-short" "$TAG" check >/dev/null 2>&1; then
  die "image accepted a short SECRET_KEY in production"
fi
docker run --rm "${ENV_ARGS[@]}" -v "$VOLUME:/var/lib/vmstack" "$TAG" migrate
admin_out="$(docker run --rm "${ENV_ARGS[@]}" -e ADMIN_EMAIL=admin@example.com -e ADMIN_PASSWORD=smoke-test-password \
  -v "$VOLUME:/var/lib/vmstack" "$TAG" create-admin)"
[ "$(echo "$admin_out" | tail -n1)" = created ] || die "create-admin said: $admin_out"
docker run -d --name "$NAME" "${ENV_ARGS[@]}" -v "$VOLUME:/var/lib/vmstack" -p 127.0.0.1::8000 "$TAG" >/dev/null
port="$(docker port "$NAME" 8000/tcp | head -n1 | sed 's/.*://')"
ok=0
for _ in $(seq 1 60); do
  if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.5
done
[ "$ok" = 1 ] || { docker logs "$NAME" | tail -n 40; die "/healthz did not answer"; }
curl -fsS "http://127.0.0.1:$port/healthz"; echo
curl -fsS "http://127.0.0.1:$port/readyz"; echo
version="$(curl -fsS "http://127.0.0.1:$port/version")"; echo "$version"
echo "$version" | grep -q "\"release\":\"$RELEASE_ID\"" || die "/version does not report RELEASE_ID"
[ "$(docker exec "$NAME" id -u)" = 10001 ] || die "container does not run as uid 10001"
login="$(curl -fsS -X POST -H 'content-type: application/json' \
  -d '{"email":"admin@example.com","password":"smoke-test-password"}' "http://127.0.0.1:$port/api/v1/auth/login")"
echo "$login" | grep -q access_token || die "login failed: $login"
health=""
for _ in $(seq 1 40); do
  health="$(docker inspect -f '{{.State.Health.Status}}' "$NAME")"
  [ "$health" = healthy ] && break
  sleep 1
done
[ "$health" = healthy ] || die "docker HEALTHCHECK status: $health"
docker logs "$NAME" 2>&1 | tail -n 3
start=$(date +%s.%N)
docker stop -t 15 "$NAME" >/dev/null
echo "graceful stop took $(python3 -c "print(round($(date +%s.%N) - $start, 1))")s, exit code $(docker inspect -f '{{.State.ExitCode}}' "$NAME")"
echo "SMOKE OK: $TAG (base $BASE_IMAGE, ${build_seconds}s build, ${size_mb} MB, internal port 8000, uid 10001, health $health)"
