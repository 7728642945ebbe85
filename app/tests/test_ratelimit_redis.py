"""The login rate limit across workers: in memory per worker without REDIS_URL, one shared
counter in Redis with it (two app instances stand for two uvicorn workers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fakeredis
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app import main
from app.core.config import Settings
from app.main import create_app
from app.users.models import User
from tests.conftest import assert_error, make_settings

REDIS_URL = "redis://app-blue@redis:6379/0"


def _login(client: TestClient, password: str = "wrong-password") -> Any:
    return client.post(
        "/api/v1/auth/login", json={"email": "member@example.com", "password": password}
    )


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def redis_settings(
    db_url: str, monkeypatch: pytest.MonkeyPatch, server: fakeredis.FakeServer
) -> Settings:
    seen: dict[str, Any] = {}

    def fake_client(url: str, password: str | None) -> Any:
        seen.update(url=url, password=password)
        return fakeredis.FakeRedis(server=server)

    monkeypatch.setattr(main, "redis_client", fake_client)
    settings = make_settings(db_url, redis_url=REDIS_URL, redis_password="s3cret-from-file")
    settings.__dict__["_seen"] = seen
    return settings


@pytest.fixture
def workers(redis_settings: Settings) -> Iterator[tuple[FastAPI, FastAPI]]:
    apps = (
        create_app(redis_settings, run_startup=False),
        create_app(redis_settings, run_startup=False),
    )
    yield apps
    for a in apps:
        a.state.db.dispose()


def test_without_redis_each_worker_counts_alone(app: FastAPI, settings: Settings) -> None:
    other = create_app(settings, run_startup=False)
    try:
        first, second = TestClient(app), TestClient(other)
        for _ in range(5):
            assert _login(first).status_code == 401
        # the second worker has its own memory: five more attempts get through
        for _ in range(5):
            assert _login(second).status_code == 401
        assert_error(_login(first), 429, "rate_limited")
    finally:
        other.state.db.dispose()


def test_with_redis_the_limit_holds_across_workers(
    member: User,
    workers: tuple[FastAPI, FastAPI],
    redis_settings: Settings,
    server: fakeredis.FakeServer,
) -> None:
    first, second = (TestClient(a) for a in workers)
    assert redis_settings.__dict__["_seen"] == {
        "url": REDIS_URL,
        "password": "s3cret-from-file",
    }
    for _ in range(3):
        assert _login(first).status_code == 401
    for _ in range(2):
        assert _login(second).status_code == 401
    # 5/minute in all: the sixth attempt is refused whichever worker takes it
    r = _login(second, password="password123")
    err = assert_error(r, 429, "rate_limited")
    assert 1 <= int(r.headers["retry-after"]) <= 60
    assert 0 < err["details"]["retry_after_seconds"] <= 60
    assert_error(_login(first, password="password123"), 429, "rate_limited")
    client: Any = fakeredis.FakeRedis(server=server)
    keys = [k.decode() for k in client.keys("vmstack:login:*")]
    assert len(keys) == 1
    assert int(client.get(keys[0])) == 7
    assert 0 < client.ttl(keys[0]) <= 60


def test_redis_window_ends(member: User, workers: tuple[FastAPI, FastAPI], server: Any) -> None:
    first, _ = (TestClient(a) for a in workers)
    for _ in range(5):
        assert _login(first).status_code == 401
    assert _login(first).status_code == 429
    client: Any = fakeredis.FakeRedis(server=server)
    for key in client.keys("vmstack:login:*"):
        client.expire(key, 0)  # the window is over
    assert _login(first, password="password123").status_code == 200


def test_redis_down_falls_back_to_the_worker(
    member: User, workers: tuple[FastAPI, FastAPI], server: fakeredis.FakeServer
) -> None:
    first, _ = (TestClient(a) for a in workers)
    server.connected = False
    for _ in range(5):
        assert _login(first).status_code == 401
    assert_error(_login(first, password="password123"), 429, "rate_limited")


def test_redis_password_comes_from_the_secrets_dir(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "redis_password").write_text("from-the-file")
    monkeypatch.setenv("REDIS_URL", "redis://app-green@redis:6379/0")
    settings = Settings(_env_file=None, _secrets_dir=tmp_path, database_url=db_url)
    assert settings.redis_url == "redis://app-green@redis:6379/0"
    assert settings.redis_password == "from-the-file"
    assert "from-the-file" not in repr(settings)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://app:pw@redis:6379/0", "must not contain a password"),
        ("http://redis:6379", "REDIS_URL must be redis://"),
    ],
)
def test_redis_url_is_checked(db_url: str, url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_settings(db_url, redis_url=url)


def test_redis_url_unset_means_memory(settings: Settings) -> None:
    assert settings.redis_url is None
