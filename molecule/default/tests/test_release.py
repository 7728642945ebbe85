"""The release story, after the scenario's other checks (conftest.py orders it last):
v1 -> v2 under load -> broken v3 under load -> rollback to v1, bookings intact, a killed
container, every secret rotated under load. Each test builds on the one before: after
a failure the rest of the story stops (conftest.py), reported as errors."""

import json
import os
import re
import secrets
import time

import pytest

from vmstack_testlib import playbooks, underload

# vmstack-<scenario>: a copy of this scenario runs on its own instance.
INSTANCE = f"vmstack-{os.environ.get('MOLECULE_SCENARIO_NAME', 'default')}"
REDIS = ("docker", "exec", "-i", "vmstack-redis-1", "redis-cli")
RATE = 50  # requests per second through nginx, half of them authenticated POSTs


STATE: dict[str, object] = {"bookings": []}


LOGS = underload.LOGS


def _playbook(name: str, *extra: str, timeout: int = 900) -> playbooks.Run:
    return underload.playbook(name, *extra, timeout=timeout)


_docker = underload.docker


def _under_load(
    tag: str, password: str, action, member: tuple[str, str] | None = None
) -> tuple[dict, underload.Outcome, float, float]:
    """The load inside the instance around action() (vmstack_testlib.underload); the
    bookings it wrote are checked after the story's releases. With `member` (email,
    password) the load runs as that user."""
    run = underload.run(INSTANCE, tag, password, action, RATE, member=member)
    STATE["bookings"].extend(run.booking_ids)
    return run.phases, run, run.start, run.end


def _redis(host, user: str, password: str, *commands: str) -> list[str]:
    """AUTH as `user`, then `commands`, through redis-cli in the Redis container (stdin:
    printf is a shell builtin, so the password is in no process's arguments)."""
    quoted = [c.replace("'", "'\"'\"'") for c in (f"AUTH {user} {password}", *commands)]
    lines = " ".join(f"'{c}'" for c in quoted)
    return host.check_output(f"printf '%s\\n' {lines} | {' '.join(REDIS)}").splitlines()


def _redis_admin(host, *commands: str) -> list[str]:
    admin = host.file("/opt/vmstack/secrets/redis-admin/password").content_string.strip()
    out = _redis(host, "vmstack-admin", admin, *commands)
    assert out[0] == "OK", out[0]
    return out[1:]


def test_redis_is_a_confined_accessory_the_app_uses(host, https, vault):
    """Redis: healthy, AOF on, backend network only, config 0600 with hashes only; the
    live slot's user logs in with the vault's password, the idle slot's user is off;
    a failed login is counted in Redis (the limit every worker shares)."""
    state = json.loads(_docker("exec", INSTANCE, "docker", "inspect", "vmstack-redis-1"))[0]
    assert state["State"]["Health"]["Status"] == "healthy"
    assert set(state["NetworkSettings"]["Networks"]) == {"vmstack_backend"}
    assert state["HostConfig"]["ReadonlyRootfs"] is True
    assert state["HostConfig"]["CapDrop"] == ["ALL"]
    assert not state["HostConfig"]["CapAdd"]
    assert "no-new-privileges:true" in state["HostConfig"]["SecurityOpt"]
    assert state["Config"]["User"] == "999:999"
    conf = host.file("/opt/vmstack/secrets/redis/redis.conf")
    assert conf.mode == 0o600
    assert conf.uid == 999
    password = vault["vault_stack_redis_password"]
    assert password not in conf.content_string
    assert password not in json.dumps(state)
    assert _redis_admin(host, "CONFIG GET appendonly") == ["appendonly", "yes"]

    live = json.loads(host.file("/opt/vmstack/release.json").content_string)["active"]
    idle = "green" if live == "blue" else "blue"
    assert _redis(host, f"app-{live}", password, "PING") == ["OK", "PONG"]
    assert _redis(host, f"app-{idle}", password)[0].startswith("WRONGPASS")
    # the slot's URL names its user; the password is a file, not the environment
    env = json.loads(_docker("exec", INSTANCE, "docker", "inspect", f"vmstack-app-{live}-1"))
    assert f"REDIS_URL=redis://app-{live}@redis:6379/0" in env[0]["Config"]["Env"]

    status, _ = https.call(
        "POST", "/api/v1/auth/login", {"email": "nobody@example.com", "password": "wrong-pass"}
    )
    assert status == 401
    keys = _redis_admin(host, "KEYS vmstack:login:*")
    assert keys, "no login counter in Redis"
    assert all(k.startswith("vmstack:login:") for k in keys), keys
    # data that must survive every release (checked after the deploys)
    assert _redis_admin(host, "SET vmstack:probe kept") == ["OK"]
    STATE["redis_id"] = state["Id"]
    STATE["db_id"] = _docker("exec", INSTANCE, "docker", "inspect", "-f", "{{.Id}}", "vmstack-db-1")


def test_deploy_v2_under_load_loses_nothing(host, https, vault):
    phases, raw, start, _ = _under_load(
        "v2",
        vault["vault_app_admin_password"],
        lambda: _playbook("deploy.yml", "-e", "app_version=0.2.0"),
    )
    run = raw.outcome
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    underload.assert_no_failed_requests(raw)
    assert phases["during"]["requests"] > 0
    # requests due after the deploy were sent too: the load never fell behind for good
    assert phases["after"]["requests"] > 0, phases
    assert phases["steady"]["rate"] >= RATE * 0.8, phases["steady"]
    status, body = https.call("GET", "/version")
    assert body["release"] == "0.2.0"
    release = json.loads(host.file("/opt/vmstack/release.json").content_string)
    assert release["active"] == "green"
    # the old slot is stopped, kept for a fast rollback
    assert "running" not in host.check_output(
        "docker inspect --format '{{.State.Status}}' vmstack-app-blue-1"
    )


def test_broken_v3_never_takes_traffic(host, https, vault):
    phases, raw, start, _ = _under_load(
        "v3",
        vault["vault_app_admin_password"],
        lambda: _playbook("deploy.yml", "-e", "app_version=0.3.0", "-e", "app_ready_timeout=20"),
    )
    run = raw.outcome
    output = run.stdout + run.stderr
    assert run.returncode != 0
    gate = re.search(r"failed at the '[^']*' gate.{0,300}", output)
    assert gate, output[-3000:]
    assert gate.group(0).startswith("failed at the 'health' gate"), gate.group(0)
    assert "keeps serving" in output
    underload.assert_no_failed_requests(raw)
    assert phases["after"]["requests"] > 0, phases
    status, body = https.call("GET", "/version")
    assert body["release"] == "0.2.0"
    # the failed container is gone, the failure is in the history
    assert host.run("docker inspect vmstack-app-blue-1").rc != 0
    history = json.loads(host.file("/opt/vmstack/releases.json").content_string)
    assert history[-1]["version"] == "0.3.0"
    assert history[-1]["result"] == "failed at health"
    assert host.file("/opt/vmstack/.deploy.lock").exists is False


def test_a_second_deploy_is_refused_while_one_holds_the_lock(host):
    host.run("mkdir -p /opt/vmstack/.deploy.lock")
    try:
        run = _playbook("deploy.yml", "-e", "app_version=0.1.0", timeout=300)
        assert run.returncode != 0
        assert "Another deploy is running" in run.stdout + run.stderr
    finally:
        host.run("rm -rf /opt/vmstack/.deploy.lock")


def test_rollback_to_v1_takes_over_a_stale_lock(host, https):
    host.run(
        "mkdir -p /opt/vmstack/.deploy.lock && touch -d '3 hours ago' /opt/vmstack/.deploy.lock"
    )
    run = _playbook("rollback.yml", "-e", "app_rollback_to=0.1.0")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert "taking over a stale deploy lock" in output
    status, body = https.call("GET", "/version")
    assert body["release"] == "0.1.0"
    assert host.file("/opt/vmstack/.deploy.lock").exists is False


def test_accessories_survive_the_releases(host):
    """The releases (v2, the broken v3, the rollback) recreated neither accessory."""
    ids = {
        name: _docker("exec", INSTANCE, "docker", "inspect", "-f", "{{.Id}}", f"vmstack-{name}-1")
        for name in ("redis", "db")
    }
    assert ids == {"redis": STATE["redis_id"], "db": STATE["db_id"]}
    assert _redis_admin(host, "GET vmstack:probe") == ["kept"]


def test_every_booking_written_under_load_is_still_there(https, admin_token):
    ids = set(STATE["bookings"])
    assert len(ids) > 100, len(ids)
    found: set[int] = set()
    offset, total = 0, None
    while total is None or offset < total:
        status, page = https.call(
            "GET", f"/api/v1/bookings?limit=200&offset={offset}", token=admin_token
        )
        assert status == 200, page
        total = page["total"]
        found.update(int(b["id"]) for b in page["items"] if b["status"] != "cancelled")
        offset += page["limit"]
    missing = sorted(ids - found)
    assert missing == [], f"{len(missing)} of {len(ids)} bookings are gone: {missing[:20]}"


@pytest.mark.parametrize("limit_seconds", [15])
def test_a_killed_app_container_serves_again_quickly(host, https, limit_seconds):
    live = json.loads(host.file("/opt/vmstack/release.json").content_string)["active"]
    name = f"vmstack-app-{live}-1"
    pid = host.check_output("docker inspect --format '{{.State.Pid}}' %s", name)
    host.run("kill -9 %s", pid)
    killed = time.monotonic()
    while time.monotonic() - killed < 60:
        status, _ = https.call("GET", "/readyz")
        if status == 200 and host.check_output(
            "docker inspect --format '{{.State.Pid}}' %s", name
        ) not in ("0", pid):
            break
        time.sleep(0.5)
    elapsed = time.monotonic() - killed
    print(f"\nserving again {elapsed:.1f} s after kill -9")
    assert elapsed <= limit_seconds


def _db_login(host, role: str, password: str) -> str:
    """Log in to PostgreSQL over the backend network from the live app container, as
    the app does (inside the db container loopback is trusted, so it proves nothing).
    printf is a shell builtin: the password is in no process's arguments. Returns
    "ok" or the reason the login failed (the server's message, or the probe's)."""
    live = json.loads(host.file("/opt/vmstack/release.json").content_string)["active"]
    quoted = password.replace("'", "'\"'\"'")
    probe = (
        "import sys, psycopg; psycopg.connect(host='db', user=sys.argv[1], dbname='vmstack', "
        "password=sys.stdin.read(), connect_timeout=10).close()"
    )
    run = host.run(
        f"printf %s '{quoted}' | docker exec -i vmstack-app-{live}-1 python3 -c \"{probe}\" {role}"
    )
    return "ok" if run.rc == 0 else f"rc={run.rc}: {run.stderr.strip()[-400:]}"


def _db_refused(host, role: str, password: str) -> None:
    """The server itself refused the login (a probe that failed for another reason,
    a timeout, say, proves nothing)."""
    outcome = _db_login(host, role, password)
    assert "password authentication failed" in outcome or "not permitted to log in" in outcome, (
        role,
        outcome,
    )


def test_rotating_every_secret_under_load_fails_no_request(host, https, vault, admin_token):
    """New signing key, admin password and database password through site.yml
    while the load runs: 0 failed requests; a token signed with the old key still
    works; the old passwords are refused, the new ones work; no secret shows.
    Runs last: the instance keeps the new secrets."""
    new = {
        "vault_app_secret_key": "rot-" + secrets.token_urlsafe(40),
        "vault_app_admin_password": "rot-" + secrets.token_urlsafe(18),
        "vault_stack_db_password": "rot" + secrets.token_hex(16),
        "vault_stack_redis_password": "rot" + secrets.token_hex(16),
    }
    live_before = json.loads(host.file("/opt/vmstack/release.json").content_string)["active"]
    db_id = ("exec", INSTANCE, "docker", "inspect", "-f", "{{.Id}}", "vmstack-db-1")
    db_before = _docker(*db_id)
    redis_id = ("exec", INSTANCE, "docker", "inspect", "-f", "{{.Id}}", "vmstack-redis-1")
    redis_before = _docker(*redis_id)
    assert _db_login(host, f"vmstack_{live_before}", vault["vault_stack_db_password"]) == "ok"

    LOGS.mkdir(parents=True, exist_ok=True)
    extra = LOGS / "rotation-vars.yml"
    extra.touch(mode=0o600)
    extra.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in new.items()))
    # The load runs as a member: the admin's own sessions end when the admin's
    # password changes (by design), a member's do not.
    member = (f"load-{secrets.token_hex(4)}@example.com", "member-" + secrets.token_urlsafe(12))
    status, body = https.call(
        "POST",
        "/api/v1/users",
        {"email": member[0], "password": member[1], "full_name": "Load Member", "role": "member"},
        token=admin_token,
    )
    assert status == 201, body
    status, body = https.call(
        "POST", "/api/v1/auth/login", {"email": member[0], "password": member[1]}
    )
    assert status == 200, body
    member_token = body["access_token"]
    try:
        phases, raw, start, _ = _under_load(
            "rotate",
            vault["vault_app_admin_password"],
            lambda: _playbook("site.yml", "-e", f"@{extra}"),
            member=member,
        )
    finally:
        extra.unlink()
    run = raw.outcome
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    underload.assert_no_failed_requests(raw)
    assert phases["during"]["requests"] > 0
    assert phases["after"]["requests"] > 0, phases
    for name, value in {**new, **vault}.items():
        assert value not in output, f"{name} appears in site.yml's output"

    # the release went into the other slot; the database was not restarted
    live = json.loads(host.file("/opt/vmstack/release.json").content_string)["active"]
    assert live != live_before
    assert _docker(*db_id) == db_before

    # a token signed with the old key is still good (previous keys); the admin's
    # own sessions ended with the password change; the new password logs in
    status, _ = https.call("GET", "/api/v1/devices?limit=1", token=member_token)
    assert status == 200
    status, _ = https.call("GET", "/api/v1/devices?limit=1", token=admin_token)
    assert status == 401
    login = {"email": "admin@example.com"}
    status, _ = https.call(
        "POST", "/api/v1/auth/login", {**login, "password": vault["vault_app_admin_password"]}
    )
    assert status == 401
    status, body = https.call(
        "POST", "/api/v1/auth/login", {**login, "password": new["vault_app_admin_password"]}
    )
    assert status == 200, body

    # the database: the old password is refused for every role, the new one works
    for role in ("vmstack", "vmstack_blue", "vmstack_green"):
        _db_refused(host, role, vault["vault_stack_db_password"])
    assert _db_login(host, f"vmstack_{live}", new["vault_stack_db_password"]) == "ok"
    assert _db_login(host, "vmstack", new["vault_stack_db_password"]) == "ok"
    # the stopped slot's role may not log in at all
    _db_refused(host, f"vmstack_{live_before}", new["vault_stack_db_password"])

    # Redis, not restarted: the old password is refused for both slots' users, the
    # live slot's user has the new one, the stopped slot's user is off
    assert _docker(*redis_id) == redis_before
    for slot in ("blue", "green"):
        out = _redis(host, f"app-{slot}", vault["vault_stack_redis_password"])
        assert out[0].startswith("WRONGPASS"), (slot, out)
    assert _redis(host, f"app-{live}", new["vault_stack_redis_password"], "PING") == ["OK", "PONG"]
    out = _redis(host, f"app-{live_before}", new["vault_stack_redis_password"])
    assert out[0].startswith("WRONGPASS"), out
    assert _redis_admin(host, "GET vmstack:probe") == ["kept"]

    ids = host.check_output(
        "docker ps -aq --filter label=com.docker.compose.project=vmstack"
    ).split()
    inspect = host.check_output("docker inspect " + " ".join(ids))
    for name, value in {**new, **vault}.items():
        assert value not in inspect, f"{name} appears in docker inspect"
