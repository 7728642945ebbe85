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
  local t0 first rerun
  echo "==> ansible-playbook -i inventories/local site.yml"
  t0=${SECONDS}
  ansible-playbook -i inventories/local site.yml
  first=$((SECONDS - t0))
  echo "==> ansible-playbook -i inventories/local site.yml (again: nothing may change)"
  t0=${SECONDS}
  ansible-playbook -i inventories/local site.yml | tee /tmp/vmstack-demo-rerun.log | tail -n 4
  rerun=$((SECONDS - t0))
  grep -Eq 'changed=0 +unreachable=0 +failed=0' /tmp/vmstack-demo-rerun.log \
    || { echo "demo: the second run of site.yml changed something (see /tmp/vmstack-demo-rerun.log)" >&2; exit 1; }
  local ready
  ready="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${HTTP_PORT}/readyz" || true)"
  [[ "${ready}" == 200 ]] || { echo "demo: /readyz answered ${ready:-nothing} through nginx" >&2; exit 1; }
  cat <<MSG

vmstack demo is up in $((SECONDS - start)) s; /readyz answered 200 through nginx
  site.yml:             first converge ${first} s, idempotent re-run ${rerun} s (changed=0, $((rerun * 100 / (first > 0 ? first : 1))) % of the first)
  Web UI:               https://127.0.0.1:${HTTPS_PORT}/   (self-signed certificate)
  Operations:           https://127.0.0.1:${HTTPS_PORT}/infra/   (admins)
  API docs:             https://127.0.0.1:${HTTPS_PORT}/api/docs
  Health:               http://127.0.0.1:${HTTP_PORT}/readyz  (answers on HTTP too)
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
