from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app import cli, migrations
from app.core.config import SettingsError, load_settings, parse_rate
from app.core.ratelimit import SlidingWindowLimiter
from tests.conftest import make_settings

GOOD_KEY = "k3y-" + "x1y2z3" * 7


def test_production_refuses_missing_or_weak_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(SettingsError, match="SECRET_KEY is required"):
        load_settings()
    monkeypatch.setenv("SECRET_KEY", "changeme")
    with pytest.raises(SettingsError, match="placeholder"):
        load_settings()
    monkeypatch.setenv("SECRET_KEY", "short-but-random-Q8")
    with pytest.raises(SettingsError, match="at least 32"):
        load_settings()
    monkeypatch.setenv("SECRET_KEY", "a" * 40)
    with pytest.raises(SettingsError, match="placeholder"):
        load_settings()
    monkeypatch.setenv("SECRET_KEY", GOOD_KEY)
    settings = load_settings()
    assert not settings.secret_key_ephemeral
    assert "SECRET_KEY" not in repr(settings) and GOOD_KEY not in repr(settings)


def test_development_generates_ephemeral_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("ENVIRONMENT", "development")
    settings = load_settings()
    assert settings.secret_key_ephemeral
    assert len(settings.signing_key) >= 32


def test_settings_from_env_names(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "DATABASE_URL": "postgresql://u:p@db:5432/app",
        "SECRET_KEY": GOOD_KEY,
        "ENVIRONMENT": "staging",
        "ADMIN_EMAIL": "admin@lab.local",
        "ADMIN_PASSWORD": "pw-123456789",
        "CORS_ORIGINS": "https://a.example, https://b.example",
        "LOG_LEVEL": "debug",
        "RELEASE_ID": "2026.11.21-1",
        "ACCESS_TOKEN_TTL_SECONDS": "600",
        "REFRESH_TOKEN_TTL_SECONDS": "7200",
        "LOGIN_RATE_LIMIT": "3/second",
        "PORT": "9000",
        "WEB_CONCURRENCY": "2",
        "FORWARDED_ALLOW_IPS": "10.0.0.1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    s = load_settings()
    assert s.database_url == "postgresql+psycopg://u:p@db:5432/app"
    assert s.cors_origin_list == ["https://a.example", "https://b.example"]
    assert s.log_level == "DEBUG"
    assert s.login_rate == (3, 1)
    assert (s.port, s.web_concurrency, s.forwarded_allow_ips) == (9000, 2, "10.0.0.1")
    assert s.access_token_ttl_seconds == 600
    assert s.refresh_token_ttl_seconds == 7200
    assert s.release_id == "2026.11.21-1"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LOGIN_RATE_LIMIT", "ten per minute"),
        ("LOGIN_RATE_LIMIT", "0/minute"),
        ("LOG_LEVEL", "chatty"),
        ("DATABASE_URL", "mysql://x"),
        ("ENVIRONMENT", "qa"),
        ("PORT", "0"),
    ],
)
def test_invalid_settings(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings()


def test_parse_rate() -> None:
    assert parse_rate("10/minute") == (10, 60)
    assert parse_rate(" 5 / hour ") == (5, 3600)
    assert parse_rate("1/day") == (1, 86400)


def test_rate_limiter_window_and_eviction() -> None:
    limiter = SlidingWindowLimiter(limit=2, period_seconds=10, max_keys=2)
    assert limiter.hit("a", now=0.0) is None
    assert limiter.hit("a", now=1.0) is None
    assert limiter.hit("a", now=2.0) == pytest.approx(8.0)
    assert limiter.hit("a", now=10.5) is None  # first hit expired
    limiter.hit("b", now=11.0)
    limiter.hit("c", now=11.0)  # evicts the least recently used key ("a")
    assert "a" not in limiter._hits
    assert limiter.retry_after_header(0.2) == "1"
    limiter.reset()
    assert not limiter._hits


def _env(monkeypatch: pytest.MonkeyPatch, url: str, **extra: str) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("SECRET_KEY", GOOD_KEY)
    for k, v in extra.items():
        monkeypatch.setenv(k, v)


def test_cli_migrate_check_create_admin(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _env(monkeypatch, db_url, ADMIN_EMAIL="Root@Lab.local", ADMIN_PASSWORD="first-password")
    assert cli.main(["migrate"]) == 0
    assert "database at revision" in capsys.readouterr().out
    assert cli.main(["check"]) == 0
    assert cli.main(["create-admin"]) == 0
    assert capsys.readouterr().out.strip().endswith("created")
    assert cli.main(["create-admin"]) == 0
    assert capsys.readouterr().out.strip().endswith("unchanged")
    monkeypatch.setenv("ADMIN_PASSWORD", "second-password")
    assert cli.main(["create-admin"]) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith("updated")
    assert "second-password" not in out


def test_cli_create_admin_requires_env(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _env(monkeypatch, db_url)
    monkeypatch.delenv("ADMIN_EMAIL", raising=False)
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)
    assert cli.main(["create-admin"]) == 2
    _env(monkeypatch, db_url, ADMIN_EMAIL="a@b.c", ADMIN_PASSWORD="short")
    assert cli.main(["create-admin"]) == 2
    assert "ADMIN_PASSWORD" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["create-admin", "check"])
def test_cli_before_migrate_says_run_migrate_first_and_leaves_no_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    db_file = tmp_path / "c.db"
    _env(
        monkeypatch, f"sqlite:///{db_file}", ADMIN_EMAIL="a@lab.local", ADMIN_PASSWORD="pw-12345678"
    )
    with pytest.raises(SystemExit) as exc:
        cli.main([command])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "run migrate first" in err and "Traceback" not in err
    assert not db_file.exists()
    # an existing but unmigrated file: same answer, the file is left as it was
    db_file.touch()
    with pytest.raises(SystemExit):
        cli.main([command])
    assert "run migrate first" in capsys.readouterr().err
    assert db_file.stat().st_size == 0


def test_cli_check_reports_unreachable_database(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _env(monkeypatch, "postgresql+psycopg://nobody:x@127.0.0.1:1/none")
    with pytest.raises(SystemExit) as exc:
        cli.main(["check"])
    assert exc.value.code == 1
    assert "unreachable" in capsys.readouterr().err


def test_settings_from_secrets_dir_env_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "secret_key").write_text(GOOD_KEY + "\n")
    (secrets_dir / "previous_secret_keys").write_text("old-" + "a1b2c3" * 6 + ",older-" + "d4" * 20)
    (secrets_dir / "database_url").write_text("postgresql://app:pw@db:5432/app")
    (secrets_dir / "admin_password").write_text("from-the-file-1")
    monkeypatch.setenv("SECRETS_DIR", str(secrets_dir))
    monkeypatch.setenv("ENVIRONMENT", "production")
    for name in ("SECRET_KEY", "DATABASE_URL", "ADMIN_PASSWORD", "PREVIOUS_SECRET_KEYS"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.signing_key == GOOD_KEY
    assert settings.database_url == "postgresql+psycopg://app:pw@db:5432/app"
    assert settings.admin_password == "from-the-file-1"
    assert settings.verification_keys == [GOOD_KEY, "old-" + "a1b2c3" * 6, "older-" + "d4" * 20]
    monkeypatch.setenv("ADMIN_PASSWORD", "from-the-env-1")
    assert load_settings().admin_password == "from-the-env-1"
    monkeypatch.setenv("SECRETS_DIR", str(tmp_path / "missing"))
    with pytest.raises(SettingsError, match="SECRETS_DIR"):
        load_settings()


def test_cli_refuses_bad_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(SystemExit) as exc:
        cli.main(["check"])
    assert exc.value.code == 2
    assert "SECRET_KEY" in capsys.readouterr().err


def test_serve_production_does_not_migrate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: dict[str, object] = {}
    url = f"sqlite:///{tmp_path / 'p.db'}"
    _env(monkeypatch, url, WEB_CONCURRENCY="2", PORT="8123")
    # set (to empty) through monkeypatch so the value serve writes is undone afterwards
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: calls.update(app=app, **kw))
    monkeypatch.setattr(migrations, "upgrade", lambda *a, **k: calls.update(migrated=True))
    assert cli.main(["serve", "--host", "127.0.0.1"]) == 0
    assert "migrated" not in calls
    assert calls["app"] == "app.main:app"
    assert calls["workers"] == 2
    assert calls["port"] == 8123
    assert calls["proxy_headers"] is True
    import os

    assert os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    monkeypatch.setenv("ENVIRONMENT", "development")
    assert cli.main(["serve"]) == 0
    assert calls.get("migrated") is True


def test_python_dash_m_app_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "app", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("serve", "migrate", "create-admin", "check"):
        assert command in out


def test_main_module_app_attribute(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import app.main as main_module

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'm.db'}")
    monkeypatch.setenv("ENVIRONMENT", "development")
    from app.core.config import get_settings

    get_settings.cache_clear()
    monkeypatch.delitem(vars(main_module), "app", raising=False)
    application = main_module.app
    assert application.state.settings.is_sqlite
    with pytest.raises(AttributeError):
        _ = main_module.nope
    get_settings.cache_clear()
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delitem(vars(main_module), "app", raising=False)
    with pytest.raises(SystemExit):
        _ = main_module.app
    get_settings.cache_clear()


def test_make_settings_helper() -> None:
    assert make_settings("sqlite://").release_id == "test-release"
