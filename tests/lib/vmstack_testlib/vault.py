"""Read an inventory's Ansible Vault with its password file under vault-passwords/."""

from __future__ import annotations

import subprocess
from pathlib import Path

from vmstack_testlib import REPO


def read(inventory: str | Path = REPO / "inventories" / "local") -> dict[str, str]:
    """Every ``key: value`` of ``<inventory>/group_vars/all/vault.yml``, decrypted with
    ``vault-passwords/<inventory name>.txt`` (the vault id is the inventory's name)."""
    inventory = Path(inventory)
    if not inventory.is_absolute():
        inventory = REPO / inventory
    env = inventory.name
    out = subprocess.run(
        [
            "ansible-vault",
            "view",
            "--vault-id",
            f"{env}@{REPO / 'vault-passwords' / (env + '.txt')}",
            str(inventory / "group_vars" / "all" / "vault.yml"),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    values = {}
    for line in out.splitlines():
        if ":" in line and not line.startswith(("#", "---")):
            key, _, value = line.partition(":")
            values[key.strip()] = value.strip().strip('"')
    return values


def admin_password(inventory: str | Path = REPO / "inventories" / "local") -> str:
    values = read(inventory)
    if "vault_app_admin_password" not in values:
        raise SystemExit(f"vault_app_admin_password not found in {inventory}'s vault")
    return values["vault_app_admin_password"]
