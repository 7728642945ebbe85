#!/usr/bin/env bash
# Tests for the embedded service (app/): lint, types, pytest on SQLite and PostgreSQL,
# a bounded schemathesis run with every check (stateful links included), then the container
# image build + smoke test.
#
#   bash scripts/test-app.sh             # everything (what `make test-app` runs)
#   bash scripts/test-app.sh --ensure-pg # only start the private PostgreSQL, print its URL
#
# Env: VENV (default .venv), DATABASE_URL_TEST_PG (use this PostgreSQL instead of a private
# one), VMSTACK_PG_PORT (55432), VMSTACK_PG_DIR (/tmp/vmstack-pg), APP_BASE_IMAGE
# (vmstack-rig/python:trixie), VMSTACK_SKIP_IMAGE=1 (skip the image step, reported as SKIPPED),
# SCHEMATHESIS_MAX_EXAMPLES (20), SCHEMATHESIS_MAX_TIME (90 s), SCHEMATHESIS_SEED.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-.venv}"
PG_PORT="${VMSTACK_PG_PORT:-55432}"
PG_DIR="${VMSTACK_PG_DIR:-/tmp/vmstack-pg}"
PG_DB="vmstack_test"
PG_USER="vmstack"
PG_PASSWORD="vmstack-test-only"

# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
VMSTACK_LOG_TAG=test-app

# --- PostgreSQL ---------------------------------------------------------------------------
pg_bindir() { find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n1; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

ensure_pg() {
  if [ -n "${DATABASE_URL_TEST_PG:-}" ]; then
    echo "$DATABASE_URL_TEST_PG"
    return
  fi
  local bindir
  bindir="$(pg_bindir)"
  if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    [ "$(id -u)" = 0 ] || die "PostgreSQL server binaries missing and not root: apt-get install postgresql"
    log "installing PostgreSQL (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    bindir="$(pg_bindir)"
  fi
  if [ ! -s "$PG_DIR/PG_VERSION" ]; then
    log "initialising private PostgreSQL cluster in $PG_DIR"
    rm -rf "$PG_DIR"
    mkdir -p "$PG_DIR"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_DIR"
    chmod 0700 "$PG_DIR"
    as_pg "$bindir/initdb" -D "$PG_DIR" -U postgres -A trust -E UTF8 >/dev/null
  fi
  if ! as_pg "$bindir/pg_ctl" -D "$PG_DIR" status >/dev/null 2>&1; then
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    rm -f "$PG_DIR/postmaster.pid"
    as_pg "$bindir/pg_ctl" -D "$PG_DIR" -l "$PG_DIR/server.log" -w -t 60 start \
      -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >&2 \
      || { tail -n 30 "$PG_DIR/server.log" >&2; die "PostgreSQL did not start"; }
  fi
  local psql=("$bindir/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qtA)
  if [ -z "$("${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname='$PG_USER'")" ]; then
    "${psql[@]}" -c "CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD'" >&2
  fi
  local db
  for db in "$PG_DB" "${PG_DB}_live" "${PG_DB}_bench"; do
    if [ -z "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname='$db'")" ]; then
      "${psql[@]}" -c "CREATE DATABASE $db OWNER $PG_USER" >&2
    fi
  done
  echo "postgresql+psycopg://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB"
}

if [ "${1:-}" = "--ensure-pg" ]; then
  ensure_pg
  exit 0
fi

# --- virtualenv ---------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtualenv $VENV"
  python3 -m venv "$VENV"
fi
log "installing app[dev] into $VENV"
"$VENV/bin/pip" install -q -e 'app[dev]'

# --- static checks ------------------------------------------------------------------------
VENV_ABS="$(cd "$VENV" && pwd)"
PY="$VENV_ABS/bin/python"
cd "$ROOT/app"
log "ruff check"
"$VENV_ABS/bin/ruff" check --output-format concise app tests
log "ruff format --check"
"$VENV_ABS/bin/ruff" format --check app tests
log "mypy --strict (app, tests)"
"$VENV_ABS/bin/mypy" app tests

# --- pytest: SQLite and PostgreSQL side by side ---------------------------------------------
# Two processes on two cores: each run has its own coverage file and log, printed whole
# when both are done (the SQLite one first), so the output reads as if run one by one.
PYTEST_DIR="$(mktemp -d /tmp/vmstack-pytest.XXXXXX)"
start_pytest() {
  local label="$1"; shift
  log "pytest ($label) started"
  (
    SECONDS=0
    rc=0
    COVERAGE_FILE="$PYTEST_DIR/coverage.$label" "$PY" -m pytest -q -p no:cacheprovider \
      --cov=app --cov-branch --cov-report=term --cov-fail-under=90 "$@" \
      >"$PYTEST_DIR/$label.log" 2>&1 || rc=$?
    echo "$rc $SECONDS" >"$PYTEST_DIR/$label.result"
  ) &
}
finish_pytest() {
  local label="$1" rc seconds
  log "pytest ($label)"
  cat "$PYTEST_DIR/$label.log"
  read -r rc seconds <"$PYTEST_DIR/$label.result" || die "pytest ($label) left no result"
  if [ "$rc" = 5 ]; then die "pytest ($label) collected no tests"; fi
  [ "$rc" = 0 ] || die "pytest ($label) exited $rc"
  printf -v "${label^^}_SECONDS" '%s' "$seconds"
}
PG_URL="$(cd "$ROOT" && ensure_pg)"
# The live server (schemathesis) gets its own database unless one was given.
if [ -n "${DATABASE_URL_TEST_PG:-}" ]; then PG_LIVE_URL="$PG_URL"; else PG_LIVE_URL="${PG_URL}_live"; fi
unset DATABASE_URL SECRET_KEY ENVIRONMENT TEST_DATABASE_URL
SQLITE_SECONDS="" POSTGRESQL_SECONDS=""
start_pytest sqlite
TEST_DATABASE_URL="$PG_URL" start_pytest postgresql
wait
finish_pytest sqlite
finish_pytest postgresql
PG_SECONDS="$POSTGRESQL_SECONDS"

# --- schemathesis against a live uvicorn on 127.0.0.1 (PostgreSQL) -------------------------
log "schemathesis (live server on 127.0.0.1, PostgreSQL)"
FUZZ_DIR="$(mktemp -d /tmp/vmstack-fuzz.XXXXXX)"
FUZZ_PORT="${SCHEMATHESIS_PORT:-18765}"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
export DATABASE_URL="$PG_LIVE_URL"
export SECRET_KEY
SECRET_KEY="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(40))')"
export ENVIRONMENT=production ADMIN_EMAIL=admin@lab.local ADMIN_PASSWORD=fuzz-admin-password
export LOG_LEVEL=INFO LOGIN_RATE_LIMIT=10000/minute RELEASE_ID=schemathesis
"$PY" -m tests.live_seed --devices 5 --ttl 3600 >/dev/null
"$PY" -m app serve --host 127.0.0.1 --port "$FUZZ_PORT" >"$FUZZ_DIR/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$FUZZ_PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$FUZZ_PORT/readyz" >/dev/null || { tail -n 40 "$FUZZ_DIR/server.log"; die "live server did not start"; }
st_rc=0
# Every check and every phase (examples, coverage, fuzzing, stateful via the schema's links).
# No check is disabled. tests/schemathesis.toml widens positive_data_acceptance to accept 422
# for the five operations whose rules the schema cannot express (booking rules, references to
# rows that do not exist); each is named there with its reason. The hook signs the fuzzer's
# admin in again when a request of its own ends its sessions (a password reset does).
SCHEMATHESIS_HOOKS=tests.schemathesis_hooks \
"$VENV_ABS/bin/schemathesis" --config-file tests/schemathesis.toml \
  run "http://127.0.0.1:$FUZZ_PORT/api/openapi.json" \
  --checks all \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-20}" --max-time "${SCHEMATHESIS_MAX_TIME:-90}" \
  --generation-allow-x00 true --generation-database none --seed "${SCHEMATHESIS_SEED:-20261121}" \
  --no-color --request-timeout 10 >"$FUZZ_DIR/schemathesis.log" 2>&1 || st_rc=$?
st_summary="$(grep -E '^(Test cases:|  [0-9]+ generated)' "$FUZZ_DIR/schemathesis.log" | tr -s ' ' | tr '\n' ' ')"
tail -n 25 "$FUZZ_DIR/schemathesis.log"
server_errors="$(grep -c '"status": 5[0-9][0-9]' "$FUZZ_DIR/server.log" || true)"
statuses="$(grep -o '"status": [0-9]*' "$FUZZ_DIR/server.log" | sort | uniq -c | tr -s ' ' | tr '\n' ';')"
cleanup
SERVER_PID=""
echo "live server responses by status: $statuses"
[ "$st_rc" = 0 ] || die "schemathesis exited $st_rc (log: $FUZZ_DIR/schemathesis.log, server: $FUZZ_DIR/server.log)"
[ "$server_errors" = 0 ] || die "the live server answered $server_errors 5xx responses (see $FUZZ_DIR/server.log)"
unset DATABASE_URL SECRET_KEY ENVIRONMENT ADMIN_EMAIL ADMIN_PASSWORD LOG_LEVEL LOGIN_RATE_LIMIT RELEASE_ID

# --- container image ------------------------------------------------------------------------
cd "$ROOT"
IMAGE_RESULT=""
if docker info >/dev/null 2>&1; then
  log "container image build + smoke test"
  BASE_IMAGE="${APP_BASE_IMAGE:-vmstack-rig/python:trixie}" bash scripts/build-app-image.sh
  IMAGE_RESULT="image: built and smoke-tested"
elif [ "${VMSTACK_SKIP_IMAGE:-}" = 1 ]; then
  IMAGE_RESULT="image: SKIPPED (VMSTACK_SKIP_IMAGE=1, no Docker engine) - NOT TESTED"
  printf '\n*** SKIPPED: container image build (no Docker engine answers; VMSTACK_SKIP_IMAGE=1) ***\n'
else
  die "no Docker engine answers 'docker info' (start dockerd, or set VMSTACK_SKIP_IMAGE=1 to skip the image step explicitly)"
fi

log "summary"
echo "static checks: ruff check, ruff format --check, mypy --strict: ok"
echo "pytest sqlite: ok (${SQLITE_SECONDS}s); pytest postgresql: ok (${PG_SECONDS}s)"
echo "schemathesis (--checks all, stateful): 0 failures, 0 server errors; ${st_summary}"
echo "$IMAGE_RESULT"
