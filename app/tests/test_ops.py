from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from tests.conftest import assert_error, make_settings


def test_healthz(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    assert r.headers["x-request-id"]


def test_readyz_ok(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ready"}


def test_readyz_db_down_is_503_envelope(tmp_path: object) -> None:
    bad = make_settings("postgresql+psycopg://nobody:x@127.0.0.1:1/none")
    app = create_app(bad, run_startup=False)
    r = TestClient(app).get("/readyz")
    err = assert_error(r, 503, "not_ready")
    assert "database" in err["message"]
    # liveness does not touch the database
    assert TestClient(app).get("/healthz").status_code == 200


def test_version(client: TestClient, settings: Settings) -> None:
    body = client.get("/version").json()
    assert body["release"] == "test-release"
    assert body["environment"] == "development"


def test_request_id_echoed_and_sanitised(client: TestClient) -> None:
    r = client.get("/healthz", headers={"X-Request-ID": "abc-123.DEF"})
    assert r.headers["x-request-id"] == "abc-123.DEF"
    r = client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert r.headers["x-request-id"] != "bad id\twith spaces"
    assert len(r.headers["x-request-id"]) == 32
    r = client.get("/healthz", headers={"X-Request-ID": "a" * 200})
    assert len(r.headers["x-request-id"]) == 32


def test_unknown_route_and_method_use_envelope(client: TestClient) -> None:
    assert_error(client.get("/api/v1/nope", headers={"X-Request-ID": "rid-1"}), 404, "not_found")
    assert_error(client.delete("/healthz"), 405, "method_not_allowed")


def test_metrics_exposes_route_templates(client: TestClient, admin_h: dict[str, str]) -> None:
    client.get("/api/v1/devices/12345", headers=admin_h)
    text = client.get("/metrics").text
    assert "http_requests_total" in text
    assert 'route="/api/v1/devices/{device_id}"' in text
    assert "http_request_duration_seconds_bucket" in text


def test_metrics_multiprocess_mode(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mp = tmp_path / "metrics"
    mp.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(mp))
    r = client.get("/metrics")
    assert r.status_code == 200


def test_openapi_and_docs(client: TestClient) -> None:
    schema = client.get("/api/openapi.json").json()
    assert "/api/v1/bookings" in schema["paths"]
    assert client.get("/api/docs").status_code == 200


def test_unhandled_exception_is_500_envelope(settings: Settings) -> None:
    app = create_app(settings, run_startup=False)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    r = TestClient(app, raise_server_exceptions=False).get("/boom", headers={"X-Request-ID": "r-9"})
    err = assert_error(r, 500, "internal_error")
    assert "secret" not in r.text
    assert err["request_id"] == "r-9"


def test_cors_preflight(client: TestClient) -> None:
    r = client.options(
        "/api/v1/devices",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"},
    )
    assert r.headers["access-control-allow-origin"] == "http://localhost:3000"


def test_lifespan_development_sqlite_migrates(tmp_path: object) -> None:
    import pathlib

    path = pathlib.Path(str(tmp_path)) / "dev.db"
    s = make_settings(f"sqlite:///{path}", secret_key=None)
    assert s.secret_key_ephemeral
    app = create_app(s)
    with TestClient(app) as c:
        assert c.get("/api/v1/devices").status_code == 401  # tables exist; auth required
    assert path.exists()


def test_exhausted_db_pool_sheds_with_503_then_recovers(
    settings: Settings, admin_h: dict[str, str]
) -> None:
    small = settings.model_copy(update={"db_pool_size": 1, "db_pool_timeout": 0.2})
    app = create_app(small, run_startup=False)
    client = TestClient(app)
    engine = app.state.db.engine
    # pool_size 1 + overflow 1: both connections busy elsewhere
    held = [engine.connect(), engine.connect()]
    try:
        r = client.get("/api/v1/device-types", headers=admin_h)
        err = assert_error(r, 503, "overloaded")
        assert "retry" in err["message"]
        assert r.headers["retry-after"] == "1"
    finally:
        for conn in held:
            conn.close()
    assert client.get("/api/v1/device-types", headers=admin_h).status_code == 200
    app.state.db.dispose()


def test_load_shedding_settings_reach_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    from app import cli

    seen: dict[str, object] = {}
    monkeypatch.setattr("uvicorn.run", lambda *a, **kw: seen.update(kw))
    monkeypatch.setenv("DATABASE_URL", "sqlite:///:memory:")
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("SECRET_KEY", "k" * 8 + "Zx81-qp" * 6)
    monkeypatch.setenv("WEB_LIMIT_CONCURRENCY", "7")
    assert cli.main(["serve"]) == 0
    assert seen["limit_concurrency"] == 7
    monkeypatch.setenv("WEB_LIMIT_CONCURRENCY", "0")
    assert cli.main(["serve"]) == 0
    assert seen["limit_concurrency"] is None


def test_pool_warm_up_opens_the_pool_before_traffic(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"db_pool_size": 3}), run_startup=False)
    db = app.state.db
    assert db.warm(3) == 3
    assert db.engine.pool.checkedin() == 3  # open and idle, ready for the first requests
    db.dispose()


def test_pool_warm_up_survives_an_unreachable_database() -> None:
    bad = make_settings("postgresql+psycopg://nobody:x@127.0.0.1:1/none")
    app = create_app(bad, run_startup=False)
    assert app.state.db.warm(3) == 0


def test_readyz_503_until_the_schema_is_at_head(tmp_path: Path) -> None:
    from app import migrations

    url = f"sqlite:///{tmp_path / 'r.db'}"
    migrations.upgrade(url, "0001")
    app = create_app(make_settings(url), run_startup=False)
    err = assert_error(TestClient(app).get("/readyz"), 503, "not_migrated")
    assert err["details"] == {"current": ["0001"], "expected": sorted(migrations.script_heads())}
    migrations.upgrade(url)
    assert TestClient(app).get("/readyz").status_code == 200
    app.state.db.dispose()
