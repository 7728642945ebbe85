"""Fixtures: one migrated database per session, a clean database per test.

SQLite (default): the migrated template file is copied per test.
PostgreSQL (TEST_DATABASE_URL=postgresql+psycopg://...): migrated once, truncated per test.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app import migrations
from app.core import security
from app.core.config import Settings
from app.core.db import make_engine
from app.main import create_app
from app.models import Base
from app.users.models import User

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
IS_PG = PG_URL.startswith("postgresql")
TABLES = ", ".join(t.name for t in Base.metadata.sorted_tables)

requires_pg = pytest.mark.skipif(not IS_PG, reason="needs TEST_DATABASE_URL (PostgreSQL)")


def reset_pg_schema(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def _cheap_hasher() -> None:
    security.set_password_hasher(PasswordHasher(time_cost=1, memory_cost=256, parallelism=1))


@pytest.fixture(scope="session")
def template_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if IS_PG:
        reset_pg_schema(PG_URL)
        migrations.upgrade(PG_URL)
        return PG_URL
    path = tmp_path_factory.mktemp("db") / "template.db"
    url = f"sqlite:///{path}"
    migrations.upgrade(url)
    return url


@pytest.fixture
def db_url(template_url: str, tmp_path: Path) -> Iterator[str]:
    if IS_PG:
        yield template_url
        engine = make_engine(template_url)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
        engine.dispose()
        return
    src = Path(template_url.removeprefix("sqlite:///"))
    dst = tmp_path / "test.db"
    shutil.copyfile(src, dst)
    yield f"sqlite:///{dst}"


def make_settings(db_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "secret_key": secrets.token_urlsafe(40),
        "environment": "development",
        "release_id": "test-release",
        "login_rate_limit": "5/minute",
        "cors_origins": "http://localhost:3000",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url)


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings, run_startup=False)
    yield application
    application.state.db.dispose()


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app)


@pytest.fixture
def session(app: FastAPI) -> Iterator[Session]:
    with app.state.db.session_factory() as s:
        yield s


UserFactory = Callable[..., User]


@pytest.fixture
def make_user(app: FastAPI) -> UserFactory:
    counter = iter(range(1, 10_000))

    def factory(
        *,
        role: str = "member",
        email: str | None = None,
        password: str = "password123",
        is_active: bool = True,
    ) -> User:
        with app.state.db.session_factory.begin() as s:
            user = User(
                email=email or f"user{next(counter)}-{role}@example.com",
                full_name=f"{role} user",
                password_hash=security.hash_password(password),
                role=role,
                is_active=is_active,
            )
            s.add(user)
            s.flush()
            s.expunge(user)
        return user

    return factory


def bearer(user: User, settings: Settings, **kwargs: Any) -> dict[str, str]:
    token = security.create_token(
        subject=user.id,
        token_type="access",
        ttl_seconds=kwargs.get("ttl", 300),
        key=kwargs.get("key", settings.signing_key),
    )
    return {"Authorization": f"Bearer {token.token}"}


@pytest.fixture
def admin(make_user: UserFactory) -> User:
    return make_user(role="admin", email="admin@example.com")


@pytest.fixture
def member(make_user: UserFactory) -> User:
    return make_user(role="member", email="member@example.com")


@pytest.fixture
def admin_h(admin: User, settings: Settings) -> dict[str, str]:
    return bearer(admin, settings)


@pytest.fixture
def member_h(member: User, settings: Settings) -> dict[str, str]:
    return bearer(member, settings)


@pytest.fixture
def device_type(client: TestClient, admin_h: dict[str, str]) -> dict[str, Any]:
    r = client.post("/api/v1/device-types", json={"name": "Oscilloscope"}, headers=admin_h)
    assert r.status_code == 201, r.text
    return dict(r.json())


@pytest.fixture
def make_device(
    client: TestClient, admin_h: dict[str, str], device_type: dict[str, Any]
) -> Callable[..., dict[str, Any]]:
    counter = iter(range(1, 10_000))

    def factory(**fields: Any) -> dict[str, Any]:
        n = next(counter)
        body = {
            "name": f"Scope {n}",
            "device_type_id": device_type["id"],
            "serial": f"SN-{n:05d}",
            "location": "Lab A",
        }
        body.update(fields)
        r = client.post("/api/v1/devices", json=body, headers=admin_h)
        assert r.status_code == 201, r.text
        return dict(r.json())

    return factory


@pytest.fixture
def device(make_device: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return make_device()


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message", "details", "request_id"}
    assert err["request_id"] == response.headers["x-request-id"]
    if code is not None:
        assert err["code"] == code, err
    return dict(err)
