#!/usr/bin/env bash
# Entrypoint of the vmstack rig's nginx stand-in (same contract as the official nginx image's):
# when the command is `nginx` or `nginx-debug`, source /docker-entrypoint.d/*.envsh and run the
# executable /docker-entrypoint.d/*.sh in name order, then exec the command. Anything else is
# exec'd as-is. NGINX_ENTRYPOINT_QUIET_LOGS=1 silences this script's own messages.
set -e

say() { [[ -n "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]] || printf '%s: %s\n' "$0" "$*"; }

if [[ "$1" == nginx || "$1" == nginx-debug ]]; then
  shopt -s nullglob
  scripts=(/docker-entrypoint.d/*)
  if ((${#scripts[@]})); then
    say "/docker-entrypoint.d/ is not empty, will attempt to perform configuration"
    for f in "${scripts[@]}"; do
      case "${f}" in
        *.envsh)
          if [[ -x "${f}" ]]; then say "Sourcing ${f}"; # shellcheck source=/dev/null
            . "${f}"
          else say "Ignoring ${f}, not executable"; fi ;;
        *.sh)
          if [[ -x "${f}" ]]; then say "Launching ${f}"; "${f}"
          else say "Ignoring ${f}, not executable"; fi ;;
        *) say "Ignoring ${f}" ;;
      esac
    done
    say "Configuration complete; ready for start up"
  else
    say "No files found in /docker-entrypoint.d/, skipping configuration"
  fi
fi

exec "$@"
