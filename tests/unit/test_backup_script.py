"""vmstack-backup (roles/backup/files) with a stand-in `docker` and `rsync`, and the real `age`:
encrypted dumps, checksums and their HMAC, verification, retention, failures, the pinned
remote copy."""

import hashlib
import hmac
import json
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "roles" / "backup" / "files" / "vmstack-backup"
# The local inventory's test identity (demo material, like vault-passwords/local.txt).
IDENTITY = REPO / "vault-passwords" / "local-backup-age.key"
HMAC_KEY = b"unit-test-hmac-key-0123456789abcdef0123456789"

# Answers the docker calls the script makes; FAKE_* variables make it fail.
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

# Records its arguments and copies the files like rsync would (the last argument is the target).
FAKE_RSYNC = r"""#!/usr/bin/env bash
printf '%s\n' "$@" > "${FAKE_RSYNC_LOG}"
target="${!#}"
for arg in "$@"; do [[ -f "${arg}" ]] && cp "${arg}" "${target}"; done
exit 0
"""


def public_key() -> str:
    for line in IDENTITY.read_text().splitlines():
        if line.startswith("# public key: "):
            return line.split(": ", 1)[1]
    raise AssertionError(f"no public key in {IDENTITY}")


@pytest.fixture
def rig(tmp_path: Path) -> dict:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("docker", FAKE_DOCKER), ("rsync", FAKE_RSYNC)):
        (bin_dir / name).write_text(body)
        (bin_dir / name).chmod(0o755)
    project = tmp_path / "project"
    project.mkdir()
    (project / "compose.yaml").write_text("services: {}\n")
    recipients = tmp_path / "recipients.txt"
    recipients.write_text(f"# test\n{public_key()}\n")
    key = tmp_path / "hmac.key"
    key.write_bytes(HMAC_KEY + b"\n")
    key.chmod(0o600)
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("backup.example.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAItest\n")
    backups = tmp_path / "backups"
    config = tmp_path / "backup.conf"
    config.write_text(
        f"BACKUP_PROJECT_DIR={project}\nBACKUP_DIR={backups}\nBACKUP_PREFIX=vmstack\n"
        "BACKUP_KEEP_COUNT=14\nBACKUP_KEEP_DAYS=30\nBACKUP_REMOTE_ENABLED=false\n"
        f"BACKUP_AGE_RECIPIENTS_FILE={recipients}\nBACKUP_HMAC_KEY_FILE={key}\n"
        f"BACKUP_REMOTE_KNOWN_HOSTS={known_hosts}\n"
    )
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", INVOCATION_ID="unit-test")
    return {
        "config": config,
        "dir": backups,
        "env": env,
        "tmp": tmp_path,
        "recipients": recipients,
        "known_hosts": known_hosts,
    }


def run(rig: dict, *args: str, **extra_env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SCRIPT), "--config", str(rig["config"]), *args],
        env=dict(rig["env"], **extra_env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def dumps(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("vmstack-*.dump.age"))


def fake_dump(directory: Path, stamp: str, age_days: float = 0) -> str:
    """An old dump with a valid checksum and HMAC (as an earlier run would leave it)."""
    name = f"vmstack-{stamp}.dump.age"
    (directory / name).write_bytes(b"age-encrypted old dump")
    line = f"{hashlib.sha256(b'age-encrypted old dump').hexdigest()}  {name}\n".encode()
    (directory / f"{name}.sha256").write_bytes(line)
    mac = hmac.new(HMAC_KEY, line, hashlib.sha256).hexdigest()
    (directory / f"{name}.sha256.hmac").write_text(mac + "\n")
    then = time.time() - age_days * 86400
    os.utime(directory / name, (then, then))
    return name


def decrypt(path: Path) -> bytes:
    return subprocess.run(
        ["age", "--decrypt", "--identity", str(IDENTITY), str(path)],
        check=True,
        capture_output=True,
    ).stdout


def test_a_run_writes_an_encrypted_private_dump_with_a_protected_checksum(rig):
    result = run(rig)
    assert result.returncode == 0, result.stderr
    directory = rig["dir"]
    (name,) = dumps(directory)
    dump = directory / name
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for path in (dump, Path(f"{dump}.sha256"), Path(f"{dump}.sha256.hmac")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE((directory / "last-status.json").stat().st_mode) == 0o600
    # Encrypted at rest: no pg_dump magic in the file, and the identity opens it.
    assert dump.read_bytes().startswith(b"age-encryption.org/v1\n")
    assert b"PGDMP" not in dump.read_bytes()
    assert decrypt(dump).startswith(b"PGDMP fake archive")
    # The checksum covers the encrypted file; the HMAC covers the checksum line.
    check = subprocess.run(["sha256sum", "-c", "--strict", f"{name}.sha256"], cwd=directory)
    assert check.returncode == 0
    line = Path(f"{dump}.sha256").read_bytes()
    expected = hmac.new(HMAC_KEY, line, hashlib.sha256).hexdigest()
    assert Path(f"{dump}.sha256.hmac").read_text().strip() == expected
    status = json.loads((directory / "last-status.json").read_text())
    assert status["status"] == "ok"
    assert status["file"] == str(dump)
    assert status["size_bytes"] == dump.stat().st_size > 0
    assert status["tables"] == 2
    assert status["encrypted"] is True
    assert status["verified"] is True
    assert str(dump) in (directory / "last-success").read_text()
    assert f"wrote {dump} ({status['size_bytes']} bytes" in result.stdout
    # Neither the plain dump nor any temporary file is left behind.
    assert not list(directory.glob(".*.tmp"))
    assert sorted(p.name for p in directory.iterdir()) == sorted(
        [name, f"{name}.sha256", f"{name}.sha256.hmac", "last-status.json", "last-success", ".lock"]
    )


def test_verify_accepts_an_untouched_dump(rig):
    assert run(rig).returncode == 0
    (name,) = dumps(rig["dir"])
    result = run(rig, "--verify", str(rig["dir"] / name))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"verified: {rig['dir'] / name}"


def test_verify_refuses_a_changed_dump_even_with_a_recomputed_checksum(rig):
    assert run(rig).returncode == 0
    (name,) = dumps(rig["dir"])
    dump = rig["dir"] / name
    data = bytearray(dump.read_bytes())
    data[-1] ^= 0x01
    dump.write_bytes(bytes(data))
    result = run(rig, "--verify", str(dump))
    assert result.returncode != 0
    assert "checksum mismatch" in result.stderr
    # An attacker who rewrites the .sha256 too still lacks the HMAC key.
    Path(f"{dump}.sha256").write_text(f"{hashlib.sha256(bytes(data)).hexdigest()}  {name}\n")
    result = run(rig, "--verify", str(dump))
    assert result.returncode != 0
    assert "HMAC mismatch" in result.stderr


def test_verify_refuses_a_missing_hmac_and_a_checksum_for_another_name(rig):
    assert run(rig).returncode == 0
    (name,) = dumps(rig["dir"])
    dump = rig["dir"] / name
    copy = rig["dir"] / "vmstack-19990101T000000Z.dump.age"
    shutil.copy(dump, copy)
    shutil.copy(f"{dump}.sha256", f"{copy}.sha256")
    shutil.copy(f"{dump}.sha256.hmac", f"{copy}.sha256.hmac")
    result = run(rig, "--verify", str(copy))
    assert result.returncode != 0
    assert "is not one line for" in result.stderr
    Path(f"{dump}.sha256.hmac").unlink()
    result = run(rig, "--verify", str(dump))
    assert result.returncode != 0
    assert "no HMAC file" in result.stderr


def test_no_recipient_means_no_dump_rather_than_an_unencrypted_one(rig):
    rig["recipients"].write_text("# nobody\n")
    result = run(rig)
    assert result.returncode != 0
    assert "refusing to write an unencrypted dump" in result.stderr
    assert not rig["dir"].exists() or dumps(rig["dir"]) == []


def test_retention_by_count_keeps_the_newest(rig):
    rig["dir"].mkdir(mode=0o700)
    old = [fake_dump(rig["dir"], f"2026010{day}T000000Z") for day in range(1, 6)]
    result = run(rig, "--keep-count", "3")
    assert result.returncode == 0, result.stderr
    kept = dumps(rig["dir"])
    assert len(kept) == 3
    assert kept[:2] == old[-2:]
    assert sorted(p.name for p in rig["dir"].glob("*.sha256")) == [f"{n}.sha256" for n in kept]
    assert sorted(p.name for p in rig["dir"].glob("*.hmac")) == [f"{n}.sha256.hmac" for n in kept]
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
    assert status["verified"] is False
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


def enable_remote(rig: dict) -> Path:
    target = rig["tmp"] / "remote"
    target.mkdir()
    with rig["config"].open("a") as config:
        config.write(
            f"BACKUP_REMOTE_ENABLED=true\nBACKUP_REMOTE_TARGET={target}/\n"
            "BACKUP_REMOTE_SSH_KEY=/root/.ssh/id_backup\n"
            "BACKUP_REMOTE_SSH_OPTIONS=(-o BatchMode=yes)\n"
        )
    return target


def test_the_remote_copy_pins_the_known_host_key(rig):
    target = enable_remote(rig)
    log = rig["tmp"] / "rsync.args"
    result = run(rig, FAKE_RSYNC_LOG=str(log))
    assert result.returncode == 0, result.stderr
    args = log.read_text().splitlines()
    ssh = args[args.index("-e") + 1]
    assert "StrictHostKeyChecking=yes" in ssh
    assert f"UserKnownHostsFile={rig['known_hosts']}" in ssh
    assert "accept-new" not in ssh
    (name,) = dumps(rig["dir"])
    assert sorted(p.name for p in target.iterdir()) == sorted(
        [name, f"{name}.sha256", f"{name}.sha256.hmac"]
    )
    status = json.loads((rig["dir"] / "last-status.json").read_text())
    assert status["remote"] == "ok"


def test_the_remote_copy_refuses_an_empty_known_hosts_file(rig):
    enable_remote(rig)
    rig["known_hosts"].write_text("")
    log = rig["tmp"] / "rsync.args"
    result = run(rig, FAKE_RSYNC_LOG=str(log))
    assert result.returncode != 0
    assert "pin the remote host key" in result.stderr
    assert not log.exists()
    # The local dump stays; the run is recorded as failed.
    assert len(dumps(rig["dir"])) == 1
    status = json.loads((rig["dir"] / "last-status.json").read_text())
    assert status["status"] == "failed"
