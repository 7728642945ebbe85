#!/usr/bin/env bash
# Browser tests of the web UI: the app on SQLite, started here on 127.0.0.1, driven through
# Debian's /usr/bin/chromium by Playwright (never `playwright install`: no browser download).
# Screenshots land in .cache/ui/*.png.
#
#   bash scripts/test-ui.sh [pytest args...]
#
# Env: VENV (default .venv), VMSTACK_UI_PORT (18766), VMSTACK_UI_CHROMIUM (/usr/bin/chromium).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-.venv}"
PORT="${VMSTACK_UI_PORT:-18766}"
CHROMIUM="${VMSTACK_UI_CHROMIUM:-/usr/bin/chromium}"

# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
VMSTACK_LOG_TAG=test-ui

[ -x "$CHROMIUM" ] || die "$CHROMIUM is missing: run 'make setup' (installs Debian's chromium)"
[ -x "$VENV/bin/python" ] || die "$VENV is missing: run 'make setup'"
VENV_ABS="$(cd "$VENV" && pwd)"
PY="$VENV_ABS/bin/python"
"$PY" -c 'import playwright' 2>/dev/null || "$VENV_ABS/bin/pip" install -q -e 'app[dev]'

WORK="$(mktemp -d /tmp/vmstack-ui.XXXXXX)"
SHOTS="$ROOT/.cache/ui"
mkdir -p "$SHOTS"
rm -f "$SHOTS"/*.png
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# A production-mode app (no ephemeral key, no auto-migration): what the image runs.
export ENVIRONMENT=production
export DATABASE_URL="sqlite:///$WORK/ui.db"
SECRET_KEY="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(40))')"
ADMIN_PASSWORD="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(16))')"
export SECRET_KEY ADMIN_PASSWORD
export ADMIN_EMAIL=admin@ui.test
export STATUS_FILE="$WORK/status/status.json"
export LOGIN_RATE_LIMIT=1000/minute LOG_LEVEL=WARNING RELEASE_ID=ui-test
unset SECRETS_DIR

cd "$ROOT/app"
log "app on SQLite: migrate, create the admin, serve on 127.0.0.1:$PORT"
"$PY" -m app migrate >"$WORK/migrate.log" 2>&1 || { cat "$WORK/migrate.log"; die "migrate failed"; }
"$PY" -m app create-admin >"$WORK/admin.log" 2>&1 || { cat "$WORK/admin.log"; die "create-admin failed"; }
"$PY" -m app serve --host 127.0.0.1 --port "$PORT" --workers 1 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null || { tail -n 40 "$WORK/server.log"; die "the app did not start"; }

log "browser tests ($("$CHROMIUM" --version 2>/dev/null || echo chromium), Playwright)"
rc=0
VMSTACK_UI_URL="http://127.0.0.1:$PORT" \
VMSTACK_UI_ADMIN_EMAIL="$ADMIN_EMAIL" VMSTACK_UI_ADMIN_PASSWORD="$ADMIN_PASSWORD" \
VMSTACK_UI_STATUS_FILE="$STATUS_FILE" VMSTACK_UI_SCREENSHOTS="$SHOTS" VMSTACK_UI_CHROMIUM="$CHROMIUM" \
  "$PY" -m pytest -p no:cacheprovider -o addopts="-ra --strict-markers" \
    --ignore=tests/browser/deployed tests/browser "$@" || rc=$?
if [ "$rc" = 5 ]; then die "no browser test was collected"; fi
server_errors="$(grep -c '"status": 5[0-9][0-9]' "$WORK/server.log" || true)"
[ "$rc" = 0 ] || { tail -n 30 "$WORK/server.log"; die "browser tests exited $rc"; }
[ "$server_errors" = 0 ] || { tail -n 30 "$WORK/server.log"; die "the app answered $server_errors 5xx responses"; }
echo "browser tests: ok; screenshots: $(find "$SHOTS" -name "*.png" | wc -l) in $SHOTS"
