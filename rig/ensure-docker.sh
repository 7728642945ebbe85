#!/usr/bin/env bash
# Makes sure a Docker engine answers. Installs docker.io (Debian/Ubuntu, as root)
# when no engine is installed and starts dockerd when none is running.
# Never pulls an image.
set -euo pipefail
# shellcheck source=rig/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if docker info >/dev/null 2>&1; then
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  if [[ ${EUID} -ne 0 ]]; then
    die "no Docker engine is installed. Install one (Debian: 'sudo apt-get install docker.io') and start it, or re-run as root and the rig will do it."
  fi
  command -v apt-get >/dev/null 2>&1 || die "no Docker engine and no apt-get: install Docker Engine yourself, then re-run."
  log "installing docker.io (no engine found)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi

if [[ ${EUID} -ne 0 ]]; then
  die "a Docker engine is installed but not answering. Start it ('sudo systemctl start docker') or re-run as root."
fi

# Prefer the init system when it manages docker; fall back to a background dockerd
# (containers and CI runners often have no systemd).
if [[ -d /run/systemd/system ]] && systemctl list-unit-files docker.service >/dev/null 2>&1; then
  log "starting docker.service"
  systemctl start docker || true
fi
if ! docker info >/dev/null 2>&1; then
  log "starting dockerd in the background (log: /var/log/vmstack-dockerd.log)"
  nohup dockerd >/var/log/vmstack-dockerd.log 2>&1 &
fi
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    log "Docker engine $(docker version --format '{{.Server.Version}}') is up"
    exit 0
  fi
  sleep 1
done
die "dockerd did not answer within 60 s; see /var/log/vmstack-dockerd.log"
