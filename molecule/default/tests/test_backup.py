"""Backups and restore on the converged host: playbooks/backup.yml and restore.yml.

The round trip: data created through nginx -> backup.yml (an age-encrypted dump, its
checksum and the checksum's HMAC) -> per-table row counts and content checksums ->
damage (rows deleted, a table dropped) -> restore.yml refuses without confirmation,
and fails with the wrong age key, changing nothing -> restore.yml with confirmation and
the inventory's key -> every table is back exactly, /readyz answers through nginx, and
no key or plain SQL is left on the host. A changed dump is refused even when its
checksum was rewritten to match.
"""

import base64
import json
import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest

from vmstack_testlib import playbooks

# The local inventory's age identity (demo material; its public key is in the inventory),
# relative to the checkout as docs/backups.md writes it (the playbooks run from there).
IDENTITY = "vault-passwords/local-backup-age.key"
PROJECT = "/opt/vmstack"
BACKUP_DIR = "/var/backups/vmstack"
SCRIPT = "/usr/local/sbin/vmstack-backup"
COMPOSE = f"docker compose --project-directory {PROJECT}"


def playbook(name: str, *extra: str) -> tuple[playbooks.Run, str, float]:
    run = playbooks.run(name, *extra)
    return run, run.output, run.seconds


def sql(host, query: str) -> list[str]:
    """Run SQL as the database's own user inside the db container; rows as `a|b` lines."""
    encoded = base64.b64encode(query.encode()).decode()
    inner = 'psql -XAt -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -f -'
    out = host.check_output(f"echo {encoded} | base64 -d | {COMPOSE} exec -T db sh -c '{inner}'")
    return [line for line in out.splitlines() if line]


def snapshot(host) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent checksum of the content of every table."""
    tables = sql(
        host,
        "select table_name from information_schema.tables"
        " where table_schema = 'public' and table_type = 'BASE TABLE' order by 1",
    )
    result = {}
    for table in tables:
        # Table names come from information_schema, not from input.
        query = "select count(*), coalesce(md5(string_agg(t::text, ',' order by t::text)), '-')"
        (row,) = sql(host, f'{query} from "{table}" t')
        count, digest = row.split("|")
        result[table] = (int(count), digest)
    return result


def dumps(host, directory: str = BACKUP_DIR) -> list[str]:
    out = host.run(
        f"find {directory} -maxdepth 1 -type f -name 'vmstack-*.dump.age' -printf '%f\\n'"
    )
    return sorted(out.stdout.split())


def checksum_ok(host, directory: str, name: str) -> bool:
    """The checksum matches the encrypted file and its HMAC matches the checksum."""
    return host.run(f"{SCRIPT} --verify {directory}/{name}").rc == 0


def leftovers(host) -> list[str]:
    """Restore's private files: the copied identity and the intermediate SQL."""
    out = host.run(
        f"find /tmp /var/tmp /root -maxdepth 2 -name 'vmstack-restore.*' -print;"
        f" find {BACKUP_DIR} -maxdepth 1 -name '.restore.sql' -print"
    )
    return out.stdout.split()


def restore(
    *extra: str, identity: Path = IDENTITY
) -> tuple[subprocess.CompletedProcess, str, float]:
    return playbook("restore.yml", "-e", f"restore_age_identity_file={identity}", *extra)


def seed(https, token: str) -> dict:
    """Two users, a device type, two devices, three bookings - through nginx."""
    suffix = uuid.uuid4().hex[:8]
    created = {"users": [], "devices": [], "bookings": []}
    for n in range(2):
        status, user = https.call(
            "POST",
            "/api/v1/users",
            {
                "email": f"backup-{suffix}-{n}@example.com",
                "password": f"Backup-pass-{suffix}-{n}",
                "full_name": f"Backup User {n}",
            },
            token=token,
        )
        assert status == 201, user
        created["users"].append(user["id"])
    status, dtype = https.call(
        "POST", "/api/v1/device-types", {"name": f"bk-{suffix}"}, token=token
    )
    assert status == 201, dtype
    for n in range(2):
        status, device = https.call(
            "POST",
            "/api/v1/devices",
            {
                "name": f"Backup {suffix} {n}",
                "device_type_id": dtype["id"],
                "serial": f"BK-{suffix}-{n}",
            },
            token=token,
        )
        assert status == 201, device
        created["devices"].append(device["id"])
    for n, device_id in enumerate(created["devices"] + created["devices"][:1]):
        day = 10 + n
        status, booking = https.call(
            "POST",
            "/api/v1/bookings",
            {
                "device_id": device_id,
                "start": f"2032-05-{day}T09:00:00Z",
                "end": f"2032-05-{day}T10:00:00Z",
                "purpose": f"backup round trip {suffix}",
            },
            token=token,
        )
        assert status == 201, booking
        created["bookings"].append(booking["id"])
    return created


def test_timer_is_active_and_enabled(host):
    assert host.run("systemctl is-active vmstack-backup.timer").stdout.strip() == "active"
    assert host.run("systemctl is-enabled vmstack-backup.timer").stdout.strip() == "enabled"
    timer = host.check_output("systemctl show vmstack-backup.timer -p NextElapseUSecRealtime")
    assert timer.split("=", 1)[1].strip(), "the timer has no next run scheduled"
    unit = host.file("/etc/systemd/system/vmstack-backup.timer").content_string
    assert "Persistent=true" in unit
    assert "OnCalendar=daily" in unit


def test_backup_directory_is_private(host):
    directory = host.file(BACKUP_DIR)
    assert directory.is_directory
    assert directory.user == "root"
    assert directory.mode == 0o700


def test_backup_and_restore_round_trip(host, https, http, admin_token, tmp_path):
    created = seed(https, admin_token)

    run, output, backup_seconds = playbook("backup.yml")
    assert run.returncode == 0, output[-4000:]
    match = re.search(r"dump:\s+(/\S+\.dump\.age)", output)
    assert match, output[-3000:]
    dump = match.group(1)
    name = os.path.basename(dump)
    assert os.path.dirname(dump) == BACKUP_DIR
    dump_file = host.file(dump)
    assert dump_file.exists
    for path in (dump, f"{dump}.sha256", f"{dump}.sha256.hmac"):
        assert host.file(path).mode == 0o600, path
    assert checksum_ok(host, BACKUP_DIR, name)
    # Encrypted at rest: an age file, no pg_dump archive in the clear.
    assert dump_file.content[:22] == b"age-encryption.org/v1\n"
    assert b"PGDMP" not in dump_file.content
    # The private key never reaches the host: the script could not decrypt its own dump.
    assert host.run(f"grep -rl AGE-SECRET-KEY /etc/vmstack {BACKUP_DIR}").stdout == ""
    size = dump_file.size
    assert re.search(rf"\({size} bytes, \d+ tables\)", output), output[-2000:]
    # It ran as the systemd unit (hardening included), which logged path and size.
    journal = host.check_output("journalctl -u vmstack-backup.service --no-pager -o cat")
    assert f"wrote {dump} ({size} bytes" in journal
    assert host.check_output("systemctl show vmstack-backup.service -p Result") == "Result=success"
    status = json.loads(host.file(f"{BACKUP_DIR}/last-status.json").content_string)
    assert status["status"] == "ok"
    assert status["file"] == dump
    assert status["encrypted"] is True
    assert status["verified"] is True
    assert dump in host.file(f"{BACKUP_DIR}/last-success").content_string

    before = snapshot(host)
    assert before["bookings"][0] >= 3
    assert before["devices"][0] >= 2
    assert before["users"][0] >= 3
    assert "alembic_version" in before

    # Damage: rows deleted, a row changed, a table dropped.
    device_id, user_id = int(created["devices"][1]), int(created["users"][0])
    damage = "drop table bookings cascade; delete from devices where id = %d;"
    damage += " update users set full_name = 'tampered' where id = %d;"
    sql(host, damage % (device_id, user_id))
    damaged = snapshot(host)
    assert "bookings" not in damaged
    assert damaged["devices"][0] == before["devices"][0] - 1
    assert damaged["users"] != before["users"]

    # Without confirmation: refused, nothing changed, the app still serves.
    run, output, _ = restore()
    assert run.returncode != 0, output[-3000:]
    assert "Refusing to restore without confirmation" in output
    assert "restore_confirm=yes" in output
    assert name in output, "the refusal should name the dump it would restore"
    assert snapshot(host) == damaged
    status_code, _ = http.call("GET", "/readyz")
    assert status_code == 200

    # The wrong key: refused before anything changes, and nothing is left behind.
    wrong = tmp_path / "wrong.agekey"
    subprocess.run(["age-keygen", "-o", str(wrong)], check=True, capture_output=True)
    run, output, _ = restore("-e", "restore_confirm=yes", identity=wrong)
    assert run.returncode != 0, output[-3000:]
    assert "Nothing was changed: the dump could not be decrypted" in output, output[-3000:]
    assert "no identity matched" in output, output[-3000:]
    assert snapshot(host) == damaged
    assert dumps(host, f"{BACKUP_DIR}/pre-restore") == [], "no safety dump before the key works"
    assert leftovers(host) == []
    status_code, _ = http.call("GET", "/readyz")
    assert status_code == 200

    run, output, restore_seconds = restore("-e", "restore_confirm=yes")
    assert run.returncode == 0, output[-5000:]
    assert f"restored:    {dump}" in output
    after = snapshot(host)
    assert after == before, {t: (before.get(t), after.get(t)) for t in set(before) | set(after)}
    status_code, body = http.call("GET", "/readyz")
    assert status_code == 200, body
    status_code, booking = https.call(
        "GET", f"/api/v1/bookings/{created['bookings'][0]}", token=admin_token
    )
    assert status_code == 200, booking
    # The restored tables belong to the database's owner role, as after a migration.
    owners = sql(
        host,
        "select distinct tableowner = (select pg_get_userbyid(datdba) from pg_database"
        " where datname = current_database()) from pg_tables where schemaname = 'public'",
    )
    assert owners == ["t"], owners
    # The state just before the restore was kept aside, encrypted like every dump.
    safety = dumps(host, f"{BACKUP_DIR}/pre-restore")
    assert len(safety) == 1
    assert checksum_ok(host, f"{BACKUP_DIR}/pre-restore", safety[0])
    # Neither the identity nor the plain SQL stays on the host.
    assert leftovers(host) == []
    print(
        f"dump {size} bytes; backup.yml {backup_seconds:.1f} s; restore.yml {restore_seconds:.1f} s"
    )


FLIP_LAST_BYTE = (
    "import sys; p = sys.argv[1]; d = bytearray(open(p, 'rb').read()); d[-1] ^= 1;"
    " open(p, 'wb').write(d)"
)


def test_a_changed_dump_is_refused_even_with_a_matching_checksum(host):
    latest = dumps(host)[-1]
    bad = "vmstack-19990101T000000Z.dump.age"
    # A changed copy with the original's checksum line (renamed) and HMAC.
    host.check_output(
        f'cd {BACKUP_DIR} && cp {latest} {bad} && python3 -c "{FLIP_LAST_BYTE}" {bad}'
        f" && sed 's/{latest}/{bad}/' {latest}.sha256 > {bad}.sha256"
        f" && cp {latest}.sha256.hmac {bad}.sha256.hmac && chmod 0600 {bad}*"
    )
    try:
        assert host.run(f"cmp -s {BACKUP_DIR}/{latest} {BACKUP_DIR}/{bad}").rc == 1
        before = snapshot(host)
        run, output, _ = restore("-e", "restore_confirm=yes", "-e", f"restore_dump={bad}")
        assert run.returncode != 0
        assert "Verification failed" in output, output[-3000:]
        # Then with a checksum recomputed for the changed file, as an attacker with
        # write access to the backups (but not the HMAC key) could: the HMAC gives it away.
        host.check_output(f"cd {BACKUP_DIR} && sha256sum {bad} > {bad}.sha256")
        assert host.run(f"cd {BACKUP_DIR} && sha256sum --check --strict {bad}.sha256").rc == 0
        run, output, _ = restore("-e", "restore_confirm=yes", "-e", f"restore_dump={bad}")
        assert run.returncode != 0
        assert "HMAC mismatch" in output, output[-3000:]
        assert "nothing was changed" in output
        assert snapshot(host) == before
        assert leftovers(host) == []
    finally:
        host.run(
            f"rm -f {BACKUP_DIR}/{bad} {BACKUP_DIR}/{bad}.sha256 {BACKUP_DIR}/{bad}.sha256.hmac"
        )


@pytest.fixture
def scratch_dir(host):
    directory = "/var/backups/vmstack-retention-test"
    host.run(f"rm -rf {directory}")
    yield directory
    host.run(f"rm -rf {directory}")


def test_retention_by_count_keeps_the_newest(host, scratch_dir):
    for _ in range(4):
        result = host.run(f"{SCRIPT} --dir {scratch_dir} --keep-count 2 --no-remote")
        assert result.rc == 0, result.stderr
    # Four runs (names differ by at least a second); only the two newest stay.
    kept = dumps(host, scratch_dir)
    assert len(kept) == 2, kept
    status = json.loads(host.file(f"{scratch_dir}/last-status.json").content_string)
    assert status["file"] == f"{scratch_dir}/{kept[-1]}"
    assert status["removed"] == 1
    assert host.file(scratch_dir).mode == 0o700
    for name in kept:
        assert host.file(f"{scratch_dir}/{name}").mode == 0o600
        assert checksum_ok(host, scratch_dir, name)
    sums = host.run(f"ls {scratch_dir}/*.sha256").stdout.split()
    assert len(sums) == 2
    assert len(host.run(f"ls {scratch_dir}/*.sha256.hmac").stdout.split()) == 2


def test_retention_by_age_spares_the_newest(host, scratch_dir):
    assert host.run(f"{SCRIPT} --dir {scratch_dir} --no-remote").rc == 0
    (first,) = dumps(host, scratch_dir)
    host.check_output(f"touch -d '40 days ago' {scratch_dir}/{first}")
    result = host.run(f"{SCRIPT} --dir {scratch_dir} --keep-days 30 --keep-count 10 --no-remote")
    assert result.rc == 0, result.stderr
    kept = dumps(host, scratch_dir)
    assert first not in kept
    assert len(kept) == 1
    # The newest is kept even when it is older than the limit.
    host.check_output(f"touch -d '40 days ago' {scratch_dir}/{kept[0]}")
    host.check_output(f"docker compose --project-directory {PROJECT} stop db")
    try:
        failed = host.run(f"{SCRIPT} --dir {scratch_dir} --keep-days 30 --no-remote")
    finally:
        host.check_output(f"docker compose --project-directory {PROJECT} up -d --wait db")
    assert failed.rc != 0
    assert "not running" in failed.stderr
    assert dumps(host, scratch_dir) == kept
    status = json.loads(host.file(f"{scratch_dir}/last-status.json").content_string)
    assert status["status"] == "failed"
