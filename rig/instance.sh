#!/usr/bin/env bash
# Starts (or removes) a Debian 13 systemd instance from the rig image: the same
# settings as the shared Molecule platform (.config/molecule/config.yml), since
# --privileged fails on these hosts.
#
#   rig/instance.sh up NAME [docker-run args...]   # idempotent: reuses a running one
#   rig/instance.sh down NAME
set -euo pipefail
# shellcheck source=rig/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CAPS=(SYS_ADMIN NET_ADMIN SYS_PTRACE SYS_NICE SYS_TIME SYS_RAWIO SYS_BOOT SYS_MODULE SYS_PACCT
      SYS_TTY_CONFIG DAC_READ_SEARCH LINUX_IMMUTABLE NET_BROADCAST IPC_LOCK IPC_OWNER LEASE
      AUDIT_CONTROL AUDIT_READ MAC_ADMIN MAC_OVERRIDE SYSLOG WAKE_ALARM BLOCK_SUSPEND)

up() {
  local name="$1"; shift
  local image="${MOLECULE_DISTRO_IMAGE:-${RIG_PREFIX}/systemd:${RIG_SUITE}}"
  if [[ "$(docker inspect --format '{{.State.Running}}' "${name}" 2>/dev/null)" == "true" ]]; then
    log "${name} is running; reusing it"
  else
    docker rm -f "${name}" >/dev/null 2>&1 || true
    local args=(--detach --name "${name}" --hostname "${name}"
      --security-opt seccomp=unconfined --security-opt apparmor=unconfined
      --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw
      --tmpfs /run --tmpfs /run/lock --tmpfs /tmp
      -v "${name}-docker:/var/lib/docker"
      --stop-signal SIGRTMIN+3 --label vmstack.rig.instance=true)
    local cap
    for cap in "${CAPS[@]}"; do args+=(--cap-add "${cap}"); done
    log "starting ${name} from ${image}"
    docker run "${args[@]}" "$@" "${image}" /lib/systemd/systemd >/dev/null
  fi
  local state=""
  for _ in $(seq 1 60); do
    state="$(docker exec "${name}" systemctl is-system-running 2>/dev/null || true)"
    [[ "${state}" == running || "${state}" == degraded ]] && break
    sleep 1
  done
  [[ "${state}" == running || "${state}" == degraded ]] || die "${name} did not boot (systemd: ${state:-no answer})"
  log "${name} is up (systemd: ${state})"
}

down() {
  local name="$1"
  if docker rm -f "${name}" >/dev/null 2>&1; then log "removed ${name}"; else log "${name} was not there"; fi
  docker volume rm -f "${name}-docker" >/dev/null 2>&1 || true
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) shift; down "$@" ;;
  *) die "usage: rig/instance.sh up|down NAME [docker-run args...]" ;;
esac
