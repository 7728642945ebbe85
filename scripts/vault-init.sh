#!/usr/bin/env bash
# Creates an inventory's vault with fresh random secrets, encrypted with that
# inventory's vault id. The password file is created (mode 0600) if missing.
#   scripts/vault-init.sh staging            # refuses to overwrite a vault it can open
#   FORCE=1 scripts/vault-init.sh staging    # replaces the vault (secrets change!)
set -euo pipefail
cd "$(dirname "$0")/.."
env_name="${1:?usage: scripts/vault-init.sh ENV}"
inv="inventories/${env_name}"
vault="${inv}/group_vars/all/vault.yml"
pwfile="vault-passwords/${env_name}.txt"
[[ -d "${inv}" ]] || { echo "no inventory ${inv}" >&2; exit 1; }

umask 077
if [[ ! -s "${pwfile}" ]]; then
  python3 -c 'import secrets; print(secrets.token_urlsafe(32))' >"${pwfile}"
  echo "created ${pwfile} (keep a copy in your password manager)"
fi
if [[ -f "${vault}" && "${FORCE:-0}" != 1 ]] \
    && ansible-vault view --vault-id "${env_name}@${pwfile}" "${vault}" >/dev/null 2>&1; then
  echo "${vault} exists and opens with ${pwfile}; use 'make vault-edit ENV=${env_name}' (or FORCE=1 to replace it)" >&2
  exit 1
fi
tmp="$(mktemp)"
trap 'rm -f "${tmp}"' EXIT
python3 - "${tmp}" <<'PY'
import secrets, sys
values = {
    "vault_app_secret_key": secrets.token_urlsafe(48),
    "vault_app_admin_password": secrets.token_urlsafe(18),
    "vault_stack_db_password": secrets.token_urlsafe(24),
    "vault_stack_redis_password": secrets.token_hex(24),
    "vault_backup_hmac_key": secrets.token_hex(32),
}
with open(sys.argv[1], "w") as fh:
    fh.write("---\n")
    for key, value in values.items():
        fh.write(f'{key}: "{value}"\n')
PY
ansible-vault encrypt --vault-id "${env_name}@${pwfile}" --encrypt-vault-id "${env_name}" \
  --output "${vault}" "${tmp}"
echo "wrote ${vault} (encrypted with vault id ${env_name})"
