"""Fixtures of the release scenario: the shared ones (vault, https/http API, admin token)."""

from vmstack_testlib.fixtures import (  # noqa: F401 - pytest finds fixtures by name
    admin_token,
    http,
    https,
    vault,
)
