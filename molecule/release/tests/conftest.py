"""Fixtures of the default scenario (vault, https/http API, admin token), reused."""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "vmstack_default_conftest",
    Path(__file__).resolve().parents[2] / "default" / "tests" / "conftest.py",
)
_default = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_default)

vault = _default.vault
http = _default.http
https = _default.https
admin_token = _default.admin_token
