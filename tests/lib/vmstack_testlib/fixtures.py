"""pytest fixtures of the Molecule scenarios. A scenario's conftest imports the ones it uses."""

from __future__ import annotations

import os

import pytest

from vmstack_testlib import vault as _vault
from vmstack_testlib.api import Api

ADMIN_EMAIL = "admin@example.com"


@pytest.fixture(scope="session")
def vault() -> dict[str, str]:
    """The local inventory's vault (the scenarios link its group_vars)."""
    values = _vault.read()
    assert set(values) >= {
        "vault_app_secret_key",
        "vault_app_admin_password",
        "vault_stack_db_password",
    }
    return values


@pytest.fixture
def http(host) -> Api:
    return Api(host, "http://127.0.0.1")


@pytest.fixture
def https(host) -> Api:
    return Api(host, "https://127.0.0.1")


@pytest.fixture
def admin_token(https, vault) -> str:
    return https.login(ADMIN_EMAIL, vault["vault_app_admin_password"])


@pytest.fixture(scope="session")
def molecule_inventory() -> str:
    return os.environ["MOLECULE_INVENTORY_FILE"]
