"""vmstack-status (roles/status/files): how facts become the status file and its problems.

The collector is a script installed on the host, not a package, so it is loaded from
its file. No Docker here: the parts that read the host are fed prepared data."""

import importlib.util
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "roles" / "status" / "files" / "vmstack-status.py"
_spec = importlib.util.spec_from_file_location("vmstack_status", SCRIPT)
assert _spec is not None
assert _spec.loader is not None
collector = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(collector)

NOW = datetime(2026, 11, 23, 18, 0, 0, tzinfo=UTC)


def container(name: str, service: str, state: str = "running", health: str | None = "healthy"):
    return {"name": name, "service": service, "state": state, "health": health}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-23T17:00:00.123456789Z", "2026-11-23T17:00:00Z"),
        ("2026-11-23T18:00:00.5+01:00", "2026-11-23T17:00:00Z"),
        ("2026-11-23T17:00:00Z", "2026-11-23T17:00:00Z"),
        ("0001-01-01T00:00:00Z", None),
        ("", None),
        ("yesterday", None),
    ],
)
def test_times_from_docker_python_and_the_scripts_become_utc(text, expected):
    assert collector.iso(collector.parse_time(text)) == expected


def test_the_live_release_and_the_history_newest_first():
    release = {
        "active": "green",
        "version": "0.2.0",
        "image": "vmstack/app:0.2.0",
        "image_id": "sha256:b",
        "deployed_at": "2026-11-23T17:30:00.000001+00:00",
    }
    (service,) = collector.release_services(release)
    assert service == {
        "name": "app",
        "version": "0.2.0",
        "slot": "green",
        "image": "vmstack/app:0.2.0",
        "image_id": "sha256:b",
        "since": "2026-11-23T17:30:00Z",
    }
    history = [
        {"version": f"0.{n}.0", "slot": "blue", "image_id": "", "result": "success",
         "finished_at": f"2026-11-2{n}T10:00:00+00:00"}
        for n in range(1, 6)
    ]  # fmt: skip
    listed = collector.release_history(history, 3)
    assert [r["version"] for r in listed] == ["0.5.0", "0.4.0", "0.3.0"]
    assert listed[0]["image_id"] is None
    assert listed[0]["service"] == "app"
    assert collector.release_services(None) == []


def test_the_idle_slot_may_be_stopped_but_nothing_else():
    services = [{"name": "app", "slot": "blue"}]
    found = [
        container("vmstack-app-blue-1", "app-blue"),
        container("vmstack-app-green-1", "app-green", state="exited", health=None),
        container("vmstack-db-1", "db"),
        container("vmstack-nginx-1", "nginx"),
    ]
    problems: list[str] = []
    collector.check_containers(found, services, problems)
    assert problems == []
    found[2] = container("vmstack-db-1", "db", health="unhealthy")
    found[3] = container("vmstack-nginx-1", "nginx", state="exited", health=None)
    collector.check_containers(found, services, problems)
    assert problems == [
        "container vmstack-db-1 is unhealthy",
        "container vmstack-nginx-1 is exited",
    ]


def test_a_live_slot_without_a_running_container_is_a_problem():
    problems: list[str] = []
    found = [container("vmstack-app-blue-1", "app-blue", state="exited", health=None)]
    collector.check_containers(found, [{"name": "app", "slot": "green"}], problems)
    assert problems == ["the live release's service app-green has no running container"]


@pytest.fixture
def backup_dir(tmp_path: Path) -> dict:
    dump = tmp_path / "vmstack-20261123T170000Z.dump.age"
    dump.write_bytes(b"x" * 123)
    return {
        "enabled": True,
        "status_file": str(tmp_path / "last-status.json"),
        "last_success_file": str(tmp_path / "last-success"),
        "max_age_seconds": 7200,
        "_dump": dump,
        "_dir": tmp_path,
    }


def write_last(config: dict, status: str, at: datetime, **extra) -> None:
    record = {"status": status, "file": str(config["_dump"]), "verified": True, **extra}
    record["finished_at"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    Path(config["status_file"]).write_text(json.dumps(record))
    if status == "ok":
        Path(config["last_success_file"]).write_text(f"{record['finished_at']} {config['_dump']}\n")


def test_a_recent_verified_backup_is_fine(backup_dir):
    write_last(backup_dir, "ok", NOW - timedelta(hours=1))
    problems: list[str] = []
    result = collector.backup(backup_dir, NOW, problems)
    assert problems == []
    assert result == {
        "last_file": str(backup_dir["_dump"]),
        "at": "2026-11-23T17:00:00Z",
        "size_bytes": 123,
        "verified": True,
        "age_seconds": 3600,
        "max_age_seconds": 7200,
    }


def test_an_old_backup_a_failed_run_and_no_backup_are_problems(backup_dir):
    write_last(backup_dir, "ok", NOW - timedelta(hours=3))
    problems: list[str] = []
    collector.backup(backup_dir, NOW, problems)
    assert problems == ["the last backup is 3 h old (the schedule allows 2 h)"]
    # A failed run after it: the last good dump is still reported, not as verified.
    Path(backup_dir["status_file"]).write_text(json.dumps({"status": "failed", "message": "x"}))
    problems = []
    result = collector.backup(backup_dir, NOW, problems)
    assert problems[0] == "the last backup run failed: x"
    assert result["last_file"] == str(backup_dir["_dump"])
    assert result["verified"] is False
    for name in ("status_file", "last_success_file"):
        Path(backup_dir[name]).unlink()
    problems = []
    result = collector.backup(backup_dir, NOW, problems)
    assert problems == ["no successful backup yet"]
    assert result["at"] is None
    assert collector.backup({"enabled": False}, NOW, problems) is None


def test_the_file_is_replaced_atomically_and_world_readable(tmp_path):
    target = tmp_path / "status" / "status.json"
    collector.write_atomically(target, {"schema": 1})
    collector.write_atomically(target, {"schema": 1, "problems": []})
    assert json.loads(target.read_text()) == {"schema": 1, "problems": []}
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["status.json"]


def test_a_failed_last_acme_renewal_is_a_problem_and_a_missing_record_is_not(tmp_path):
    record = tmp_path / "last-run.json"
    problems: list[str] = []
    assert collector.acme_renewal("", problems) is None
    assert collector.acme_renewal(str(record), problems) is None
    assert problems == []

    record.write_text(
        '{"status": "ok", "finished_at": "2026-11-23T17:00:00Z",'
        ' "message": "nginx reloaded with serial=0A"}\n'
    )
    assert collector.acme_renewal(str(record), problems) == {
        "status": "ok",
        "at": "2026-11-23T17:00:00Z",
        "message": "nginx reloaded with serial=0A",
    }
    assert problems == []

    record.write_text(
        '{"status": "failed", "finished_at": "2026-11-23T17:30:00Z",'
        ' "message": "failed while asking https://ca.example/dir for the certificate (exit 1)"}\n'
    )
    renewal = collector.acme_renewal(str(record), problems)
    assert renewal is not None
    assert renewal["status"] == "failed"
    assert problems == [
        "the last ACME certificate renewal (2026-11-23T17:30:00Z) failed:"
        " failed while asking https://ca.example/dir for the certificate (exit 1)"
    ]


def test_an_extra_services_idle_slot_is_not_a_problem(tmp_path):
    # release-<name>.json of a stack_services service, beside release.json
    (tmp_path / "release-web.json").write_text(
        json.dumps({"active": "green", "version": "1.2.0", "image": "web:1.2.0"})
    )
    (tmp_path / "release-broken.json").write_text("not json")
    services = [{"name": "app", "slot": "blue"}, *collector.extra_service_releases(tmp_path)]
    assert [(s["name"], s["slot"], s["version"]) for s in services[1:]] == [
        ("web", "green", "1.2.0")
    ]
    found = [
        container("vmstack-app-blue-1", "app-blue"),
        container("vmstack-web-green-1", "web-green"),
        container("vmstack-web-blue-1", "web-blue", state="exited", health=None),
    ]
    problems: list[str] = []
    collector.check_containers(found, services, problems)
    assert problems == []
    problems = []
    collector.check_containers(found[:1], services, problems)
    assert problems == ["the live release's service web-green has no running container"]
