"""The services story (issue 13): this scenario's stack has two HTTP services (the
embedded app at `/`, the rig's stand-in frontend at /portal/, host_vars/), PostgreSQL
and Redis behind one nginx. conftest.py runs it after the scenario's other checks and
before the backup round trip and the -vvv re-run, whose changed=0 then covers the
stack after a service's release and rollback. Each test builds on the one before."""

from __future__ import annotations

import json
import os
import time
import uuid

from vmstack_testlib import underload

INSTANCE = f"vmstack-{os.environ.get('MOLECULE_SCENARIO_NAME', 'default')}"
PROJECT = "/opt/vmstack"
VERSION_JSON = "/portal/version.json"  # the frontend bundle's own release
RATE = 45  # requests per second through nginx: app GET, app POST, frontend GET
EDGE = "172.30.80"  # the local inventory's edge subnet (stack_edge_subnet default)
# the frontend is the only extra service, so it has the first pair of addresses
FRONTEND = {"blue": f"{EDGE}.20:8080", "green": f"{EDGE}.21:8080"}
REDIS_ADMIN = ("docker", "exec", "-i", "vmstack-redis-1", "redis-cli")

STATE: dict[str, object] = {}


def _inspect(host, name: str) -> dict:
    return json.loads(host.check_output("docker inspect %s", name))[0]


def _release(host) -> dict:
    return json.loads(host.file(f"{PROJECT}/release-frontend.json").content_string)


def _redis_admin(host, *commands: str) -> list[str]:
    """As the Redis admin user (its password is a 0600 file on the host); printf is a
    builtin, so the password is in no process's arguments."""
    password = host.file(f"{PROJECT}/secrets/redis-admin/password").content_string.strip()
    lines = " ".join(
        "'" + line.replace("'", "'\"'\"'") + "'"
        for line in (f"AUTH vmstack-admin {password}", *commands)
    )
    out = host.check_output(f"printf '%s\\n' {lines} | {' '.join(REDIS_ADMIN)}").splitlines()
    assert out[0] == "OK", out[0]
    return out[1:]


def _identities(host) -> dict[str, tuple[str, str]]:
    """(container id, start time) of everything but the frontend's slots."""
    app = json.loads(host.file(f"{PROJECT}/release.json").content_string)["active"]
    names = [f"vmstack-app-{app}-1", "vmstack-db-1", "vmstack-redis-1", "vmstack-nginx-1"]
    return {
        name: (state["Id"], state["State"]["StartedAt"])
        for name, state in ((name, _inspect(host, name)) for name in names)
    }


def _answered_by(host, path: str) -> str:
    """The upstream nginx's access log names for one request to `path` (its own
    X-Request-ID); the log is buffered, so wait for its flush."""
    rid = uuid.uuid4().hex
    host.check_output("curl -sk -o /dev/null -H 'X-Request-ID: %s' https://127.0.0.1%s", rid, path)
    for _ in range(20):
        for line in host.check_output("docker logs --since 2m vmstack-nginx-1 2>&1").splitlines():
            if f'"request_id":"{rid}"' in line:
                return json.loads(line)["upstream"]
        time.sleep(1)
    raise AssertionError(f"no access log line for {path} ({rid})")


def test_each_route_answers_with_its_own_service(host, https):
    status, body = https.call("GET", VERSION_JSON)
    assert (status, body) == (200, {"service": "frontend", "version": "1.0.0"})
    status, page = https.call("GET", "/portal/")
    assert status == 200
    assert '<meta name="frontend-version" content="1.0.0">' in page
    # a deeper route of the single-page frontend gets its index, its assets their files
    assert "Lab portal" in https.call("GET", "/portal/bookings/42")[1]
    assert "fetch(" in https.call("GET", "/portal/app.js")[1]
    # everything else is still the embedded app's: its /version, its API, its UI
    status, body = https.call("GET", "/version")
    assert status == 200
    assert body["release"] == "0.1.0", body
    status, body = https.call("GET", "/api/v1/devices")
    assert status == 401
    assert "error" in body, body
    status, page = https.call("GET", "/login")
    assert status == 200
    assert "Lab portal" not in page
    # and nginx sent them to the right containers
    assert _answered_by(host, "/portal/") == FRONTEND["blue"]
    assert _answered_by(host, "/api/v1/devices") == f"{EDGE}.11:8000"


def test_the_frontend_runs_confined_with_its_own_settings(host):
    state = _inspect(host, "vmstack-frontend-blue-1")
    assert state["State"]["Health"]["Status"] == "healthy"
    config = state["HostConfig"]
    assert config["CapDrop"] == ["ALL"]
    assert "no-new-privileges:true" in config["SecurityOpt"]
    assert config["ReadonlyRootfs"] is True
    assert config["Memory"] == 64 * 1024 * 1024
    assert state["Config"]["User"] == "101:101"
    assert "RELEASE_ID=1.0.0" in state["Config"]["Env"]
    assert "API_BASE_URL=/api/" in state["Config"]["Env"]
    networks = state["NetworkSettings"]["Networks"]
    assert networks["vmstack_edge"]["IPAMConfig"]["IPv4Address"] == FRONTEND["blue"].split(":")[0]
    assert set(networks) == {"vmstack_edge", "vmstack_backend"}, networks.keys()
    env = host.file(f"{PROJECT}/frontend.env")
    assert (env.mode, env.user) == (0o600, "root")
    # (quoted in the file; compose hands the container the plain value, above)
    assert "API_BASE_URL='/api/'" in env.content_string
    release = _release(host)
    assert release["active"] == "blue"
    assert release["slots"]["blue"]["image"] == "vmstack/frontend:1.0.0"


def test_releasing_the_frontend_under_load_fails_no_request_and_restarts_nothing_else(
    host, https, vault, admin_token
):
    before = _identities(host)
    # data in both accessories, to find again after the release
    assert _redis_admin(host, "SET vmstack:services-probe kept") == ["OK"]
    status, dtype = https.call(
        "POST", "/api/v1/device-types", {"name": f"svc-{uuid.uuid4().hex[:8]}"}, token=admin_token
    )
    assert status == 201, dtype
    STATE["device_type"] = dtype["id"]

    run = underload.run(
        INSTANCE,
        "frontend-1.1.0",
        vault["vault_app_admin_password"],
        lambda: underload.playbook(
            "deploy.yml", "-e", "vmstack_service=frontend", "-e", "vmstack_version=1.1.0"
        ),
        RATE,
        also_get=(VERSION_JSON,),
    )
    played = run.outcome
    assert played.returncode == 0, played.output[-3000:]
    underload.assert_no_failed_requests(run)
    # both services were asked all along (A: the app's GET and POST, B: the frontend)
    for kind in ("get", "post", f"get {VERSION_JSON}"):
        assert run.by_kind[kind]["during"]["requests"] > 0, (kind, run.by_kind[kind])
        assert run.by_kind[kind]["after"]["requests"] > 0, (kind, run.by_kind[kind])
    # the frontend's requests were answered by 1.0.0, then by 1.1.0, never by anything else
    served = [s["served"] for s in sorted(run.of(f"get {VERSION_JSON}"), key=lambda s: s["t"])]
    assert set(served) == {"1.0.0", "1.1.0"}, set(served)
    switched = served.index("1.1.0")
    assert served[switched:] == ["1.1.0"] * (len(served) - switched), "1.0.0 answered after 1.1.0"

    status, body = https.call("GET", VERSION_JSON)
    assert (status, body) == (200, {"service": "frontend", "version": "1.1.0"})
    release = _release(host)
    assert (release["active"], release["slots"]["green"]["image"]) == (
        "green",
        "vmstack/frontend:1.1.0",
    )
    assert _answered_by(host, "/portal/") == FRONTEND["green"]
    # the old slot is stopped and kept for a rollback
    assert _inspect(host, "vmstack-frontend-blue-1")["State"]["Status"] == "exited"
    # no other container was recreated or restarted (nginx was reloaded, not restarted)
    assert _identities(host) == before
    assert _redis_admin(host, "GET vmstack:services-probe") == ["kept"]
    path = f"/api/v1/device-types/{STATE['device_type']}"
    status, body = https.call("GET", path, token=admin_token)
    assert status == 200, body


def test_rolling_the_frontend_back_serves_its_first_release_again(host, https):
    before = _identities(host)
    run = underload.playbook("rollback.yml", "-e", "vmstack_service=frontend")
    assert run.returncode == 0, run.output[-3000:]
    status, body = https.call("GET", VERSION_JSON)
    assert (status, body) == (200, {"service": "frontend", "version": "1.0.0"})
    assert _release(host)["active"] == "blue"
    assert _answered_by(host, "/portal/") == FRONTEND["blue"]
    assert _identities(host) == before
    history = json.loads(host.file(f"{PROJECT}/releases-frontend.json").content_string)
    assert [entry["version"] for entry in history][-2:] == ["1.1.0", "1.0.0"], history
