"""vmstack-backup (roles/backup) with a stand-in `docker`: dumps, checksums, retention, failure."""

import hashlib
import json
import os
import stat
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "roles" / "backup" / "templates" / "usr" / "local" / "sbin" / "vmstack-backup.j2"

# Answers the three docker calls the script makes; FAKE_* variables make it fail.
FAKE_DOCKER = r"""#!/usr/bin/env bash
args="$*"
case "${args}" in
  *" ps --status running --quiet db") [[ -n "${FAKE_DB_DOWN:-}" ]] || echo 0123abcd ;;
  *" exec -T db sh -c "*pg_dump*)
    if [[ -n "${FAKE_DUMP_FAIL:-}" ]]; then
      printf 'PGDMP-partial'; echo 'pg_dump: error: connection lost' >&2; exit 1
    fi
    printf 'PGDMP fake archive %s\n' "${RANDOM}${RANDOM}" ;;
  *" exec -T db pg_restore --list")
    head -c 5 | grep -qx PGDMP || { echo 'pg_restore: error: not an archive' >&2; exit 1; }
    printf '1; 0 0 TABLE DATA public users vmstack\n2; 0 0 TABLE DATA public devices vmstack\n' ;;
  *) echo "fake docker: unexpected: ${args}" >&2; exit 99 ;;
esac
"""


@pytest.fixture
def rig(tmp_path: Path) -> dict:
    body = TEMPLATE.read_text().split("{% raw %}\n", 1)[1].split("{% endraw %}", 1)[0]
    script = tmp_path / "vmstack-backup"
    script.write_text("#!/usr/bin/env bash\n" + body)
    script.chmod(0o755)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(FAKE_DOCKER)
    (bin_dir / "docker").chmod(0o755)
    project = tmp_path / "project"
    project.mkdir()
    (project / "compose.yaml").write_text("services: {}\n")
    backups = tmp_path / "backups"
    config = tmp_path / "backup.conf"
    config.write_text(
        f"BACKUP_PROJECT_DIR={project}\nBACKUP_DIR={backups}\nBACKUP_PREFIX=vmstack\n"
        "BACKUP_KEEP_COUNT=14\nBACKUP_KEEP_DAYS=30\nBACKUP_REMOTE_ENABLED=false\n"
    )
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", INVOCATION_ID="unit-test")
    return {"script": script, "config": config, "dir": backups, "env": env}


def run(rig: dict, *args: str, **extra_env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(rig["script"]), "--config", str(rig["config"]), *args],
        env=dict(rig["env"], **extra_env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def dumps(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("vmstack-*.dump"))


def fake_dump(directory: Path, stamp: str, age_days: float = 0) -> str:
    name = f"vmstack-{stamp}.dump"
    (directory / name).write_bytes(b"PGDMP old")
    digest = hashlib.sha256(b"PGDMP old").hexdigest()
    (directory / f"{name}.sha256").write_text(f"{digest}  {name}\n")
    then = time.time() - age_days * 86400
    os.utime(directory / name, (then, then))
    return name


def test_a_run_writes_a_private_dump_with_its_checksum_and_status(rig):
    result = run(rig)
    assert result.returncode == 0, result.stderr
    directory = rig["dir"]
    (name,) = dumps(directory)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for path in (directory / name, directory / f"{name}.sha256", directory / "last-status.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    check = subprocess.run(["sha256sum", "-c", "--strict", f"{name}.sha256"], cwd=directory)
    assert check.returncode == 0
    status = json.loads((directory / "last-status.json").read_text())
    assert status["status"] == "ok"
    assert status["file"] == str(directory / name)
    assert status["size_bytes"] == (directory / name).stat().st_size > 0
    assert status["tables"] == 2
    assert str(directory / name) in (directory / "last-success").read_text()
    assert f"wrote {directory / name} ({status['size_bytes']} bytes" in result.stdout
    assert not list(directory.glob(".*.tmp"))


def test_retention_by_count_keeps_the_newest(rig):
    rig["dir"].mkdir(mode=0o700)
    old = [fake_dump(rig["dir"], f"2026010{day}T000000Z") for day in range(1, 6)]
    result = run(rig, "--keep-count", "3")
    assert result.returncode == 0, result.stderr
    kept = dumps(rig["dir"])
    assert len(kept) == 3
    assert kept[:2] == old[-2:]
    assert sorted(p.name for p in rig["dir"].glob("*.sha256")) == [f"{n}.sha256" for n in kept]
    status = json.loads((rig["dir"] / "last-status.json").read_text())
    assert (status["kept"], status["removed"]) == (3, 3)


def test_retention_by_age_spares_young_dumps(rig):
    rig["dir"].mkdir(mode=0o700)
    aged = fake_dump(rig["dir"], "20260101T000000Z", age_days=45)
    young = fake_dump(rig["dir"], "20260102T000000Z", age_days=2)
    result = run(rig, "--keep-days", "30")
    assert result.returncode == 0, result.stderr
    kept = dumps(rig["dir"])
    assert aged not in kept
    assert young in kept
    assert len(kept) == 2


def test_a_failed_dump_leaves_nothing_behind_and_exits_non_zero(rig):
    assert run(rig).returncode == 0
    before = dumps(rig["dir"])
    success = (rig["dir"] / "last-success").read_text()
    result = run(rig, FAKE_DUMP_FAIL="1")
    assert result.returncode != 0
    assert "connection lost" in result.stderr
    assert dumps(rig["dir"]) == before
    assert not list(rig["dir"].glob(".*.tmp"))
    assert (rig["dir"] / "last-success").read_text() == success
    status = json.loads((rig["dir"] / "last-status.json").read_text())
    assert status["status"] == "failed"
    assert "pg_dump failed" in status["message"]


def test_a_stopped_database_is_reported(rig):
    result = run(rig, FAKE_DB_DOWN="1")
    assert result.returncode != 0
    assert "db service" in result.stderr
    assert "not running" in result.stderr
    assert dumps(rig["dir"]) == []


def test_bad_limits_are_refused(rig):
    result = run(rig, "--keep-count", "0")
    assert result.returncode != 0
    assert "keep-count" in result.stderr
