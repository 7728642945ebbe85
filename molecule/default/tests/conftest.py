"""Shared fixtures for the full-stack scenario."""

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def _vault() -> dict[str, str]:
    out = subprocess.run(
        [
            "ansible-vault",
            "view",
            "--vault-id",
            f"local@{REPO / 'vault-passwords' / 'local.txt'}",
            str(REPO / "inventories" / "local" / "group_vars" / "all" / "vault.yml"),
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


@pytest.fixture(scope="session")
def vault() -> dict[str, str]:
    values = _vault()
    assert set(values) >= {
        "vault_app_secret_key",
        "vault_app_admin_password",
        "vault_stack_db_password",
    }
    return values


class Api:
    """curl inside the instance, through nginx."""

    def __init__(self, host, base: str):
        self.host = host
        self.base = base

    def call(self, method: str, path: str, body=None, token: str | None = None, headers=()):
        cmd = ["curl", "-sk", "-o", "/tmp/vmstack-body", "-w", "%{http_code}", "-X", method]
        if body is not None:
            cmd += ["-H", "Content-Type: application/json", "--data", json.dumps(body)]
        if token:
            cmd += ["-H", f"Authorization: Bearer {token}"]
        for header in headers:
            cmd += ["-H", header]
        cmd.append(self.base + path)
        result = self.host.run(" ".join(_quote(part) for part in cmd))
        assert result.rc == 0, result.stderr
        status = int(result.stdout.strip())
        raw = self.host.file("/tmp/vmstack-body").content_string
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw
        return status, payload


def _quote(part: str) -> str:
    return "'" + part.replace("'", "'\"'\"'") + "'"


@pytest.fixture
def http(host) -> Api:
    return Api(host, "http://127.0.0.1")


@pytest.fixture
def https(host) -> Api:
    return Api(host, "https://127.0.0.1")


@pytest.fixture
def admin_token(https, vault) -> str:
    status, body = https.call(
        "POST",
        "/api/v1/auth/login",
        {"email": "admin@example.com", "password": vault["vault_app_admin_password"]},
    )
    assert status == 200, body
    return body["access_token"]


@pytest.fixture(scope="session")
def molecule_inventory() -> str:
    return os.environ["MOLECULE_INVENTORY_FILE"]


RUN_LAST = "test_data_survives_a_rerun_and_no_secret_is_printed"


def pytest_collection_modifyitems(items):
    """Run the backup/restore round trip after the other checks: restore.yml stops
    and restarts the app, and those check the stack as a converge left it. The
    -vvv re-run goes very last, so its changed=0 also covers a converge right
    after a restore (the restarted app must not look like a new release)."""
    items.sort(
        key=lambda item: (
            # item.name carries testinfra's host id, e.g. "...[ansible://vmstack-default]"
            getattr(item, "originalname", item.name) == RUN_LAST,
            item.fspath.basename == "test_backup.py",
        )
    )
