#!/usr/bin/env bash
# `make demo`: a local Debian 13 target from the rig, site.yml converged on it
# with the local inventory (vault included), the URL printed.
#   scripts/demo.sh up | down
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${PWD}/.venv/bin:${PATH}"

NAME=vmstack-demo
HTTP_PORT="${VMSTACK_DEMO_HTTP_PORT:-8080}"
HTTPS_PORT="${VMSTACK_DEMO_HTTPS_PORT:-8443}"

up() {
  local start=${SECONDS}
  rig/archives.sh
  rig/instance.sh up "${NAME}" -p "127.0.0.1:${HTTP_PORT}:80" -p "127.0.0.1:${HTTPS_PORT}:443"
  echo "==> ansible-playbook -i inventories/local site.yml"
  ansible-playbook -i inventories/local site.yml
  local ready
  ready="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${HTTP_PORT}/readyz" || true)"
  [[ "${ready}" == 200 ]] || { echo "demo: /readyz answered ${ready:-nothing} through nginx" >&2; exit 1; }
  cat <<MSG

vmstack demo is up in $((SECONDS - start)) s
  App (through nginx):  https://127.0.0.1:${HTTPS_PORT}/   (self-signed certificate)
                        http://127.0.0.1:${HTTP_PORT}/readyz  (health answers on HTTP too)
  API docs:             https://127.0.0.1:${HTTPS_PORT}/api/docs
  Admin login:          admin@example.com, password = vault_app_admin_password in the local vault:
                        make vault-view ENV=local
  Remove it:            make demo-down
MSG
}

case "${1:-up}" in
  up) up ;;
  down) rig/instance.sh down "${NAME}" ;;
  *) echo "usage: scripts/demo.sh up|down" >&2; exit 2 ;;
esac
