"""/infra/: the host status file as an admin sees it (current, stale, missing, broken)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.web import infra
from tests.conftest import UserFactory, make_settings
from tests.test_web import sign_in


def status_doc(collected: datetime, **overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema": 1,
        "collected_at": collected.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "interval_seconds": 60,
        "host": "vmstack-test-host",
        "project": "vmstack",
        "services": [
            {
                "name": "app",
                "version": "7.7.7-test",
                "slot": "green",
                "image": "vmstack/app:7.7.7-test",
                "image_id": "sha256:abc",
                "since": "2026-11-23T17:00:00Z",
            }
        ],
        "releases": [
            {
                "service": "app",
                "version": "7.7.6",
                "slot": "blue",
                "image_id": "sha256:def",
                "at": "2026-11-22T10:00:00Z",
                "result": "released",
            }
        ],
        "containers": [
            {
                "name": "vmstack-db-1",
                "service": "db",
                "state": "running",
                "health": "healthy",
                "started_at": "2026-11-23T17:00:00Z",
            },
            {
                "name": "vmstack-app-green-1",
                "service": "app-green",
                "state": "running",
                "health": "unhealthy",
                "started_at": "2026-11-23T17:00:00Z",
            },
        ],
        "backup": {
            "last_file": "/opt/vmstack/backups/db-20261123.sql.age",
            "at": "2026-11-23T03:00:00Z",
            "size_bytes": 5 * 1024 * 1024,
            "verified": True,
            "age_seconds": 54_000,
            "max_age_seconds": 93_600,
        },
        "tls": {
            "subject": "CN=lab.example",
            "issuer": "CN=lab.example",
            "not_after": "2027-11-23T00:00:00Z",
            "days_left": 365,
        },
        "disk": {
            "project_dir_bytes": 3 * 1024**3,
            "docker_bytes": 12 * 1024**3,
            "fs_total_bytes": 100 * 1024**3,
            "fs_free_bytes": 40 * 1024**3,
        },
        "problems": ["container vmstack-app-green-1 is unhealthy"],
    }
    doc.update(overrides)
    return doc


@pytest.fixture
def status_path(tmp_path: Path) -> Path:
    return tmp_path / "status" / "status.json"


@pytest.fixture
def infra_client(db_url: str, status_path: Path, make_user: UserFactory) -> Iterator[TestClient]:
    application = create_app(make_settings(db_url, status_file=str(status_path)), run_startup=False)
    # make_user writes through the conftest app's database: the same file.
    admin = make_user(role="admin", email="ops@example.com")
    client = TestClient(application)
    sign_in(client, admin)
    yield client
    application.state.db.dispose()


def write(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc, encoding="utf-8")


def test_a_current_file_shows_every_fact(infra_client: TestClient, status_path: Path) -> None:
    write(status_path, status_doc(datetime.now(UTC) - timedelta(seconds=30)))
    page = infra_client.get("/infra/").text
    assert "<strong>Current</strong>" in page
    assert "STALE" not in page
    for fact in (
        "vmstack-test-host",
        '<td data-label="Version" class="version">7.7.7-test</td>',
        "green",
        "7.7.6",
        "released",
        "vmstack-db-1",
        "unhealthy",
        "container vmstack-app-green-1 is unhealthy",
        "db-20261123.sql.age",
        "5.0 MiB",
        "CN=lab.example",
        "365 days left",
        "3.0 GiB",
        "12.0 GiB",
        "40.0 GiB of 100.0 GiB",
    ):
        assert fact in page, fact
    assert '<tr class="bad">' in page  # the unhealthy container's row


def test_a_file_older_than_two_intervals_is_stale_not_healthy(
    infra_client: TestClient, status_path: Path
) -> None:
    write(status_path, status_doc(datetime.now(UTC) - timedelta(seconds=125)))
    page = infra_client.get("/infra/").text
    assert "<strong>STALE</strong>" in page
    assert "state-stale" in page
    assert "<strong>Current</strong>" not in page
    write(status_path, status_doc(datetime.now(UTC) - timedelta(seconds=115)))
    assert "<strong>Current</strong>" in infra_client.get("/infra/").text


def test_a_missing_file_says_so(infra_client: TestClient, status_path: Path) -> None:
    page = infra_client.get("/infra/").text
    assert "No status file" in page
    assert str(status_path) in page


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({"schema": 2}), "unsupported status schema 2"),
        (json.dumps({"schema": 1, "collected_at": "yesterday"}), "no valid collected_at"),
    ],
)
def test_a_broken_file_is_reported_not_rendered(
    infra_client: TestClient, status_path: Path, content: str, expected: str
) -> None:
    write(status_path, content)
    page = infra_client.get("/infra/").text
    assert "Unreadable status file" in page
    assert expected in page


def test_read_status_judges_without_raising(tmp_path: Path) -> None:
    now = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    assert infra.read_status(None).state == "unconfigured"
    path = tmp_path / "s.json"
    write(
        path, status_doc(now - timedelta(seconds=10), interval_seconds=300, backup=None, tls=None)
    )
    status = infra.read_status(str(path), now=now)
    assert status.state == "ok" and status.usable and not status.stale
    assert status.data["backup"] is None and status.data["tls"] is None
    write(path, status_doc(now - timedelta(seconds=601), interval_seconds=300))
    assert infra.read_status(str(path), now=now).stale
    write(path, status_doc(now - timedelta(seconds=121), interval_seconds="x", problems="x"))
    judged = infra.read_status(str(path), now=now)
    assert judged.stale and judged.interval_seconds == 60 and judged.data["problems"] == []
    write(path, " " * (infra.MAX_STATUS_BYTES + 1))
    assert "too large" in infra.read_status(str(path), now=now).message
    assert infra.read_status(str(tmp_path), now=now).state == "invalid"  # a directory
    assert infra.parse_time("2026-11-23T18:00:00") == now
    assert infra.container_ok({"state": "running", "health": None})
    assert not infra.container_ok({"state": "exited", "health": None})


def test_unconfigured_installation_says_there_is_no_collector(
    db_url: str, make_user: UserFactory
) -> None:
    application = create_app(make_settings(db_url), run_startup=False)
    client = TestClient(application)
    sign_in(client, make_user(role="admin", email="ops2@example.com"))
    assert "Not configured" in client.get("/infra/").text
    application.state.db.dispose()
