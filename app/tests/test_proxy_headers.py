"""The login limiter keys on the client IP that uvicorn's proxy-headers handling resolves."""

from __future__ import annotations

from typing import Any, cast

from fastapi import FastAPI
from fastapi.testclient import TestClient
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from tests.conftest import assert_error

LOGIN = "/api/v1/auth/login"
BODY = {"email": "nobody@example.com", "password": "wrong-password"}


def _proxied(app: FastAPI, trusted: str) -> TestClient:
    """The app behind uvicorn's proxy-headers middleware, as ``serve`` runs it."""
    middleware = ProxyHeadersMiddleware(cast(Any, app), trusted_hosts=trusted)
    return TestClient(cast(Any, middleware))


def _attempts(client: TestClient, ip: str, n: int) -> list[int]:
    return [
        client.post(LOGIN, json=BODY, headers={"X-Forwarded-For": ip}).status_code for _ in range(n)
    ]


def test_trusted_proxy_forwarded_for_gets_own_bucket(app: FastAPI) -> None:
    client = _proxied(app, "*")
    assert _attempts(client, "198.51.100.1", 5) == [401] * 5
    assert_error(client.post(LOGIN, json=BODY, headers={"X-Forwarded-For": "198.51.100.1"}), 429)
    assert _attempts(client, "198.51.100.2", 1) == [401]


def test_untrusted_peer_cannot_spoof_forwarded_for(app: FastAPI) -> None:
    client = _proxied(app, "10.255.255.1")
    assert _attempts(client, "198.51.100.1", 5) == [401] * 5
    # a different X-Forwarded-For from the same untrusted peer shares its bucket
    assert_error(client.post(LOGIN, json=BODY, headers={"X-Forwarded-For": "198.51.100.9"}), 429)
