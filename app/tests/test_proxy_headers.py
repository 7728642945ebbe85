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


NGINX = "172.30.80.2"  # stack_nginx_edge_address: what the Ansible side sets


def _served_by_uvicorn(app: FastAPI, peer: str) -> TestClient:
    """The app wrapped exactly as ``python -m app serve`` has uvicorn wrap it, with
    FORWARDED_ALLOW_IPS set to the single nginx address, reached from ``peer``."""
    import uvicorn

    config = uvicorn.Config(
        app, proxy_headers=True, forwarded_allow_ips=NGINX, log_config=None, lifespan="off"
    )
    config.load()
    return TestClient(cast(Any, config.loaded_app), client=(peer, 40000))


def test_single_trusted_address_forwarded_for_is_honoured(app: FastAPI) -> None:
    client = _served_by_uvicorn(app, NGINX)
    assert _attempts(client, "198.51.100.1", 5) == [401] * 5
    assert_error(client.post(LOGIN, json=BODY, headers={"X-Forwarded-For": "198.51.100.1"}), 429)
    # another client behind nginx has its own bucket
    assert _attempts(client, "198.51.100.2", 1) == [401]


def test_single_trusted_address_other_peers_cannot_spoof(app: FastAPI) -> None:
    client = _served_by_uvicorn(app, "172.30.80.11")  # e.g. another container on edge
    assert _attempts(client, "198.51.100.1", 5) == [401] * 5
    # rotating X-Forwarded-For does not buy new attempts: the peer address is the key
    assert_error(client.post(LOGIN, json=BODY, headers={"X-Forwarded-For": "198.51.100.7"}), 429)
