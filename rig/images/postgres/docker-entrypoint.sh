#!/usr/bin/env bash
# Entrypoint of the vmstack rig's postgres stand-in. Same contract as the official postgres:17
# image, written for this rig:
#   * CMD `postgres [args...]` (or only `-flags`, which imply postgres): prepare PGDATA, initialise it
#     when it holds no cluster yet, then exec the server in the foreground as user postgres.
#   * any other command is exec'd unchanged (psql, pg_dump, bash, ...).
# Environment (each POSTGRES_* also as POSTGRES_*_FILE, read from that file):
#   POSTGRES_PASSWORD          superuser password; required for a first init unless
#                              POSTGRES_HOST_AUTH_METHOD=trust
#   POSTGRES_USER              superuser name (default postgres)
#   POSTGRES_DB                database created on first init (default: POSTGRES_USER)
#   POSTGRES_INITDB_ARGS       extra initdb arguments (word-split like a shell)
#   POSTGRES_INITDB_WALDIR     optional separate WAL directory
#   POSTGRES_HOST_AUTH_METHOD  pg_hba method for TCP clients (default: password_encryption,
#                              i.e. scram-sha-256)
#   PGDATA                     data directory (default /var/lib/postgresql/data)
# First init only: /docker-entrypoint-initdb.d/* in name order: *.sh (run if executable, else
# sourced), *.sql, *.sql.gz, *.sql.xz, *.sql.zst (fed to psql as POSTGRES_USER on POSTGRES_DB).
set -Eeo pipefail

me="${0##*/}"
info() { printf '%s: %s\n' "${me}" "$*"; }

# VAR or VAR_FILE (exclusive) -> exported VAR, with an optional default.
env_or_file() {
  local name="$1" default="${2:-}" file_name="$1_FILE"
  if [[ -n "${!name:-}" && -n "${!file_name:-}" ]]; then
    printf 'error: both %s and %s are set (but are exclusive)\n' "${name}" "${file_name}" >&2
    exit 1
  fi
  local value="${default}"
  if [[ -n "${!name:-}" ]]; then
    value="${!name}"
  elif [[ -n "${!file_name:-}" ]]; then
    value="$(<"${!file_name}")"
  fi
  export "${name}=${value}"
  unset "${file_name}"
}

load_env() {
  : "${PGDATA:=/var/lib/postgresql/data}"
  export PGDATA
  env_or_file POSTGRES_PASSWORD
  env_or_file POSTGRES_USER postgres
  env_or_file POSTGRES_DB "${POSTGRES_USER}"
  env_or_file POSTGRES_INITDB_ARGS
  : "${POSTGRES_HOST_AUTH_METHOD:=}"
  # A cluster is there when PG_VERSION is: only then is initialisation skipped.
  CLUSTER_EXISTS=""
  [[ -s "${PGDATA}/PG_VERSION" ]] && CLUSTER_EXISTS=yes
  return 0
}

# Directories, and (as root) their ownership, so the server can run as postgres.
prepare_dirs() {
  mkdir -p "${PGDATA}"
  chmod 0700 "${PGDATA}" || :
  mkdir -p /var/run/postgresql || :
  chmod 3775 /var/run/postgresql || :
  if [[ -n "${POSTGRES_INITDB_WALDIR:-}" ]]; then
    mkdir -p "${POSTGRES_INITDB_WALDIR}"
    [[ "$(id -u)" != 0 ]] || chown -R postgres:postgres "${POSTGRES_INITDB_WALDIR}"
    chmod 0700 "${POSTGRES_INITDB_WALDIR}"
  fi
  if [[ "$(id -u)" == 0 ]]; then
    find "${PGDATA}" /var/run/postgresql \! -user postgres -exec chown postgres:postgres '{}' +
  fi
}

check_first_init_env() {
  if [[ -z "${POSTGRES_PASSWORD}" && "${POSTGRES_HOST_AUTH_METHOD}" != trust ]]; then
    cat >&2 <<'MSG'
Error: Database is uninitialized and superuser password is not specified.
       Set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) to a non-empty value,
       e.g. "-e POSTGRES_PASSWORD=password" on "docker run".

       POSTGRES_HOST_AUTH_METHOD=trust would allow every connection without
       a password instead. This is *not* recommended.
       https://www.postgresql.org/docs/current/auth-trust.html
MSG
    exit 1
  fi
  if [[ "${POSTGRES_HOST_AUTH_METHOD}" == trust ]]; then
    cat >&2 <<'MSG'
********************************************************************************
WARNING: POSTGRES_HOST_AUTH_METHOD=trust: anyone who can reach port 5432 (in
         Docker's default setup, any other container on this host) gets in
         without a password, even when POSTGRES_PASSWORD is set.
********************************************************************************
MSG
  fi
}

run_initdb() {
  local extra=()
  [[ -z "${POSTGRES_INITDB_WALDIR:-}" ]] || extra+=(--waldir "${POSTGRES_INITDB_WALDIR}")
  # initdb rejects an empty pwfile, hence the newline. POSTGRES_INITDB_ARGS is shell-split
  # on purpose (the official image evals it too, so quoted values keep working).
  eval 'initdb --username="${POSTGRES_USER}" --pwfile=<(printf "%s\n" "${POSTGRES_PASSWORD}") '"${POSTGRES_INITDB_ARGS}"' "${extra[@]}"'
}

# TCP clients: one rule after initdb's local/loopback ones, using the configured encryption.
add_host_rule() {
  [[ "$1" != postgres ]] || shift
  local method="${POSTGRES_HOST_AUTH_METHOD}"
  [[ -n "${method}" ]] || method="$(postgres -C password_encryption "$@")"
  {
    printf '\n# vmstack stand-in: every TCP client, %s\n' "${method}"
    printf 'host all all all %s\n' "${method}"
  } >>"${PGDATA}/pg_hba.conf"
}

sql() {
  local args=(psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc --username "${POSTGRES_USER}")
  [[ -z "${POSTGRES_DB}" ]] || args+=(--dbname "${POSTGRES_DB}")
  PGHOST='' PGHOSTADDR='' "${args[@]}" "$@"
}

# Socket-only server for the setup steps.
temp_server() {
  local action="$1"; shift
  if [[ "${action}" == start ]]; then
    [[ "$1" != postgres ]] || shift
    NOTIFY_SOCKET='' PGUSER="${PGUSER:-${POSTGRES_USER}}" \
      pg_ctl -D "${PGDATA}" -o "$(printf '%q ' "$@" -c listen_addresses= -p "${PGPORT:-5432}")" -w start
  else
    PGUSER="${PGUSER:-postgres}" pg_ctl -D "${PGDATA}" -m fast -w stop
  fi
}

create_db() {
  local name="${POSTGRES_DB}" found
  # POSTGRES_DB='' so that sql() connects to the maintenance database given here.
  found="$(POSTGRES_DB='' sql --dbname postgres --set db="${name}" --tuples-only \
    <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")"
  if [[ -z "${found//[[:space:]]/}" ]]; then
    POSTGRES_DB='' sql --dbname postgres --set db="${name}" <<<'CREATE DATABASE :"db";'
  fi
}

run_init_scripts() {
  local f
  # `psql` array kept for init scripts written for the official image.
  # shellcheck disable=SC2034
  psql=(sql)
  for f in /docker-entrypoint-initdb.d/*; do
    [[ -e "${f}" ]] || continue
    case "${f}" in
      *.sh)
        if [[ -x "${f}" ]]; then info "running ${f}"; "${f}"
        else info "sourcing ${f}"; # shellcheck source=/dev/null
          . "${f}"; fi ;;
      *.sql) info "running ${f}"; sql -f "${f}" ;;
      *.sql.gz) info "running ${f}"; gunzip -c "${f}" | sql ;;
      *.sql.xz) info "running ${f}"; xzcat "${f}" | sql ;;
      *.sql.zst) info "running ${f}"; zstd -dc "${f}" | sql ;;
      *) info "ignoring ${f}" ;;
    esac
  done
}

wants_help() {
  local a
  for a in "$@"; do
    case "${a}" in -'?' | --help | --describe-config | -V | --version) return 0 ;; esac
  done
  return 1
}

main() {
  [[ "${1:0:1}" != - ]] || set -- postgres "$@"
  if [[ "$1" == postgres ]] && ! wants_help "$@"; then
    load_env
    prepare_dirs
    if [[ "$(id -u)" == 0 ]]; then
      # Run this script again as postgres (setpriv: util-linux, no gosu needed).
      exec setpriv --reuid=postgres --regid=postgres --init-groups --inh-caps=-all \
        "${BASH_SOURCE[0]}" "$@"
    fi
    if [[ -z "${CLUSTER_EXISTS}" ]]; then
      check_first_init_env
      ls /docker-entrypoint-initdb.d/ >/dev/null
      run_initdb
      add_host_rule "$@"
      export PGPASSWORD="${PGPASSWORD:-${POSTGRES_PASSWORD}}"
      temp_server start "$@"
      create_db
      run_init_scripts
      temp_server stop
      unset PGPASSWORD
      printf '\nPostgreSQL init process complete; ready for start up.\n\n'
    else
      printf '\nPostgreSQL Database directory appears to contain a database; Skipping initialization\n\n'
    fi
  fi
  exec "$@"
}

main "$@"
