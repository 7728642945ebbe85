"""The HTTP contract at the edges: Allow on 405, 415, 413 before reading, CORS rejections,
nullable fields as the schema says, and search that folds case and escapes wildcards."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.main import create_app
from tests.conftest import assert_error, make_settings


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/v1/devices/1", "DELETE, GET, PATCH"),
        ("DELETE", "/api/v1/bookings", "GET, POST"),
        ("PUT", "/api/v1/users/me/password", "POST"),
        ("POST", "/healthz", "GET"),
    ],
)
def test_405_allow_names_every_method(
    client: TestClient, admin_h: dict[str, str], method: str, path: str, allowed: str
) -> None:
    r = client.request(method, path, headers=admin_h)
    assert_error(r, 405, "method_not_allowed")
    assert r.headers["allow"] == allowed


def test_wrong_media_type_is_415(client: TestClient, admin_h: dict[str, str]) -> None:
    r = client.post(
        "/api/v1/device-types",
        content=b"name=Scope",
        headers={**admin_h, "Content-Type": "application/x-www-form-urlencoded"},
    )
    err = assert_error(r, 415, "unsupported_media_type")
    assert err["details"]["content_type"] == "application/x-www-form-urlencoded"
    ok = client.post(
        "/api/v1/device-types",
        content=b'{"name": "Scope"}',
        headers={**admin_h, "Content-Type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 201


def _small_app(db_url: str) -> TestClient:
    return TestClient(create_app(make_settings(db_url, max_body_bytes=2048), run_startup=False))


def test_oversized_body_is_413_by_content_length(db_url: str) -> None:
    client = _small_app(db_url)
    r = client.post(
        "/api/v1/auth/login",
        content=b"x" * 4096,
        headers={"Content-Type": "application/json"},
    )
    err = assert_error(r, 413, "payload_too_large")
    assert err["details"] == {"max_body_bytes": 2048}


def test_oversized_streamed_body_is_413(db_url: str) -> None:
    client = _small_app(db_url)
    chunks_sent = []

    def body() -> Iterator[bytes]:
        for i in range(100):
            chunks_sent.append(i)
            yield b" " * 1024

    r = client.post(
        "/api/v1/auth/login", content=body(), headers={"Content-Type": "application/json"}
    )
    assert_error(r, 413, "payload_too_large")


def test_bad_content_length_is_400(db_url: str) -> None:
    client = _small_app(db_url)
    r = client.post(
        "/api/v1/auth/login",
        content=b"{}",
        headers={"Content-Type": "application/json", "Content-Length": "lots"},
    )
    assert r.status_code == 400


def test_body_within_limit_is_read(db_url: str) -> None:
    client = _small_app(db_url)
    r = client.post("/api/v1/auth/login", json={"email": "a@b.c", "password": "x" * 100})
    assert_error(r, 401, "invalid_credentials")


def test_rejected_cors_preflight_uses_the_envelope(client: TestClient) -> None:
    r = client.options(
        "/api/v1/devices",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    err = assert_error(r, 400, "cors_rejected")
    assert "origin" in err["message"]


def test_nullable_fields_behave_as_the_schema_says(
    client: TestClient, admin_h: dict[str, str], device_type: dict[str, Any]
) -> None:
    item = client.post(
        "/api/v1/inventory-items",
        json={"name": "Probe", "sku": "P-1", "device_type_id": device_type["id"]},
        headers=admin_h,
    ).json()
    schema = client.get("/api/openapi.json").json()["components"]["schemas"]["ItemUpdate"]
    assert "anyOf" not in schema["properties"]["name"]  # not nullable ...
    assert_error(
        client.patch(f"/api/v1/inventory-items/{item['id']}", json={"name": None}, headers=admin_h),
        422,
    )
    # ... device_type_id is, and null clears it
    r = client.patch(
        f"/api/v1/inventory-items/{item['id']}", json={"device_type_id": None}, headers=admin_h
    )
    assert r.status_code == 200 and r.json()["device_type_id"] is None


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("осцилл", ["Осциллограф"]),
        ("ОСЦИЛЛ", ["Осциллограф"]),
        ("STRASSE", ["Straße 5"]),
        ("%", ["100% probe"]),
        ("_", ["under_score"]),
        ("\\", ["back\\slash"]),
        ("scope", []),
    ],
)
def test_search_folds_case_and_escapes_wildcards(
    client: TestClient, admin_h: dict[str, str], app: FastAPI, q: str, expected: list[str]
) -> None:
    for name in ["Осциллограф", "Straße 5", "100% probe", "under_score", "back\\slash"]:
        r = client.post("/api/v1/device-types", json={"name": name}, headers=admin_h)
        assert r.status_code == 201, r.text
    found = client.get("/api/v1/device-types", params={"q": q}, headers=admin_h).json()
    assert [t["name"] for t in found["items"]] == expected
