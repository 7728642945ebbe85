#!/usr/bin/env bash
# The interactive day-2 targets: a command on an inventory's host, against its compose
# project. Ansible only evaluates the inventory (connection, address, user, project
# directory); the command itself runs over `docker exec` (container targets such as
# the demo), `ssh -t` or locally, so it is interactive and streams.
#
#   scripts/on-host.sh ENV logs [SERVICE...]   # follow the logs (SERVICE=app: both slots)
#   scripts/on-host.sh ENV db-shell            # psql as the database superuser
#
# Env: HOST (an inventory host; default the first of group vmstack), TAIL (lines of
# history before following, default 100).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
VMSTACK_LOG_TAG=on-host

env_name="${1:?usage: scripts/on-host.sh ENV logs [SERVICE...] | db-shell}"
action="${2:?usage: scripts/on-host.sh ENV logs [SERVICE...] | db-shell}"
shift 2
[[ -d "inventories/${env_name}" ]] || die "no inventory inventories/${env_name}"

vault_args=()
if [[ "${env_name}" != local ]]; then
  if [[ -f "vault-passwords/${env_name}.txt" ]]; then
    vault_args=(--vault-id "${env_name}@vault-passwords/${env_name}.txt")
  else
    vault_args=(--vault-id "${env_name}@prompt")
  fi
fi

# One debug task on the controller (it never contacts the host): the connection and the
# project directory as Ansible sees them for that host (the stack role's default if the
# inventory does not set it).
facts="$(ANSIBLE_LOAD_CALLBACK_PLUGINS=1 ANSIBLE_STDOUT_CALLBACK=ansible.builtin.json \
  ansible -i "inventories/${env_name}" "${vault_args[@]}" "${HOST:-vmstack[0]}" \
  -m ansible.builtin.debug -a "msg={{ {
    'connection': ansible_connection | default('ssh'),
    'address': ansible_host | default(inventory_hostname),
    'user': ansible_user | default(''),
    'port': ansible_port | default('') | string,
    'key': ansible_ssh_private_key_file | default(''),
    'project_dir': stack_project_dir
      | default((lookup('ansible.builtin.file', 'roles/stack/defaults/main.yml') | from_yaml).stack_project_dir)} }}")" \
  || die "ansible could not evaluate inventories/${env_name} (host ${HOST:-vmstack[0]})"
mapfile -t fields < <(python3 -c '
import json, sys
hosts = json.load(sys.stdin)["plays"][0]["tasks"][0]["hosts"]
if len(hosts) != 1:
    sys.exit(f"expected one host, got {sorted(hosts)}: set HOST=<inventory host>")
(result,) = hosts.values()
if result.get("failed"):
    sys.exit(result.get("msg", "evaluating the inventory failed"))
for key in ("connection", "address", "user", "port", "key", "project_dir"):
    print(result["msg"][key])
' <<<"${facts}") || die "could not read the host's connection from inventories/${env_name}"
connection="${fields[0]}" address="${fields[1]}" user="${fields[2]}" port="${fields[3]}"
key="${fields[4]}" project_dir="${fields[5]}"

compose=(docker compose --project-directory "${project_dir}")
case "${action}" in
  logs)
    services=()
    for service in "$@"; do
      if [[ "${service}" == app ]]; then services+=(app-blue app-green); else services+=("${service}"); fi
    done
    command=("${compose[@]}" logs --follow --tail "${TAIL:-100}" "${services[@]}")
    ;;
  db-shell)
    # The superuser over the db container's local socket: no password leaves the container.
    # Without a terminal (e.g. `echo 'select 1' | make db-shell`) compose must not ask for one.
    no_tty=(); [[ -t 0 ]] || no_tty=(-T)
    # shellcheck disable=SC2016 # expanded by the container's shell
    command=("${compose[@]}" exec "${no_tty[@]}" db sh -c 'exec psql -U "$POSTGRES_USER" -d "$POSTGRES_DB"')
    ;;
  *) die "unknown action '${action}' (logs, db-shell)" ;;
esac
tty=(-i); [[ -t 0 ]] && tty=(-it)

case "${connection}" in
  community.docker.docker|docker)
    exec docker exec "${tty[@]}" "${address}" "${command[@]}" ;;
  ssh|paramiko|ansible.builtin.ssh|ansible.builtin.paramiko_ssh)
    ssh_args=(); [[ -t 0 ]] && ssh_args+=(-t)
    [[ -n "${port}" ]] && ssh_args+=(-p "${port}")
    [[ -n "${key}" ]] && ssh_args+=(-i "${key}")
    target="${address}"; [[ -n "${user}" ]] && target="${user}@${address}"
    sudo=(sudo); [[ "${user}" == root ]] && sudo=()
    exec ssh "${ssh_args[@]}" "${target}" "$(printf '%q ' "${sudo[@]}" "${command[@]}")" ;;
  local|ansible.builtin.local)
    sudo=(); [[ ${EUID} -eq 0 ]] || sudo=(sudo)
    exec "${sudo[@]}" "${command[@]}" ;;
  *) die "connection '${connection}' is not supported here (docker, ssh, local)" ;;
esac
