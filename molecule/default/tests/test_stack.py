"""The full stack on one host, checked from inside it and from the controller."""

import json
import uuid

import pytest

from vmstack_testlib import playbooks

PROJECT = "/opt/vmstack"


def _compose_ps(host) -> dict[str, dict]:
    out = host.check_output(f"docker compose --project-directory {PROJECT} ps --all --format json")
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    if len(rows) == 1 and isinstance(rows[0], list):
        rows = rows[0]
    return {row["Service"]: row for row in rows}


def test_every_service_is_running_and_healthy(host):
    services = _compose_ps(host)
    # the stack of the local inventory plus this scenario's extra service (host_vars/)
    assert set(services) == {"db", "app-blue", "nginx", "redis", "frontend-blue"}, services.keys()
    for name, row in services.items():
        assert row["State"] == "running", (name, row["State"])
        assert row["Health"] == "healthy", (name, row["Health"])


def test_migrate_left_no_container_behind(host):
    leftovers = host.check_output(
        "docker ps -a -q --filter label=com.docker.compose.service=migrate"
    )
    assert leftovers == ""


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_through_nginx(host, request, scheme, path):
    api = request.getfixturevalue(scheme)
    status, body = api.call("GET", path)
    assert status == 200, body


def test_http_redirects_to_https_except_health(http):
    status, _ = http.call("GET", "/api/v1/devices")
    assert status == 301


def test_version_reports_the_release(https, host):
    status, body = https.call("GET", "/version")
    assert status == 200
    assert body["release"] == "0.1.0"
    release = json.loads(host.file(f"{PROJECT}/release.json").content_string)
    assert release["version"] == "0.1.0"
    assert release["active"] == "blue"
    assert release["image_id"].startswith("sha256:")
    history = json.loads(host.file(f"{PROJECT}/releases.json").content_string)
    assert [(r["version"], r["result"]) for r in history] == [("0.1.0", "success")]


def test_security_headers_and_request_id(host):
    out = host.check_output(
        "curl -sk -D - -o /dev/null -H 'X-Request-ID: vmstack-test-42' https://127.0.0.1/healthz"
    ).lower()
    assert "x-request-id: vmstack-test-42" in out
    assert "x-content-type-options: nosniff" in out
    assert "strict-transport-security: max-age=" in out
    assert "server: nginx\r\n" in out or "server: nginx\n" in out  # no version


def test_unknown_api_route_answers_the_json_envelope(https):
    status, body = https.call("GET", "/api/v1/no-such-thing")
    assert status == 404
    assert set(body["error"]) >= {"code", "message", "details", "request_id"}


def test_admin_from_the_vault_logs_in_through_nginx(https, admin_token):
    status, me = https.call("GET", "/api/v1/me", token=admin_token)
    assert status == 200
    assert me["email"] == "admin@example.com"
    assert me["role"] == "admin"


def test_wrong_password_is_refused(https):
    status, body = https.call(
        "POST", "/api/v1/auth/login", {"email": "admin@example.com", "password": "wrong-password-1"}
    )
    assert status == 401
    assert body["error"]["code"]


def test_settings_and_secret_files_are_private(host):
    env = host.file(f"{PROJECT}/.env")
    assert (env.user, env.group, env.mode) == ("root", "root", 0o600)
    # .env holds settings only; secrets are files
    assert "SECRET_KEY" not in env.content_string
    assert "PASSWORD" not in env.content_string
    assert "DATABASE_URL" not in env.content_string
    assert not host.file(f"{PROJECT}/db.env").exists
    assert host.file(f"{PROJECT}/secrets").mode == 0o700
    files = host.check_output(f"find {PROJECT}/secrets -type f -printf '%m %p\\n'").splitlines()
    assert len(files) >= 4, files
    for line in files:
        mode, path = line.split(" ", 1)
        assert mode == "600", line
    assert host.file(PROJECT).mode == 0o750
    assert host.file(f"{PROJECT}/nginx/tls/tls.key").mode == 0o600


def test_no_secret_in_docker_inspect_or_ps(host, vault):
    ids = host.check_output(
        "docker ps -aq --filter label=com.docker.compose.project=vmstack"
    ).split()
    assert len(ids) >= 3, ids
    inspect = host.check_output("docker inspect " + " ".join(ids))
    processes = host.check_output("ps -eo args")
    for name, secret in vault.items():
        assert secret not in inspect, f"{name} appears in docker inspect"
        assert secret not in processes, f"{name} appears in ps"


@pytest.mark.parametrize("service", ["db", "nginx", "app-blue", "redis", "frontend-blue"])
def test_every_container_is_confined(host, service):
    cid = host.check_output(
        "docker ps -q --filter label=com.docker.compose.service=%s --filter status=running",
        service,
    )
    config = json.loads(host.check_output("docker inspect %s", cid))[0]["HostConfig"]
    assert config["CapDrop"] == ["ALL"], config["CapDrop"]
    assert "no-new-privileges:true" in (config["SecurityOpt"] or [])
    assert config["ReadonlyRootfs"] is True
    assert config["Memory"] > 0
    assert config["NanoCpus"] > 0
    assert (config["PidsLimit"] or 0) > 0
    # the root filesystem really is read-only
    assert host.run("docker exec %s sh -c 'echo x > /etc/vmstack-probe'", cid).rc != 0


def test_the_app_has_no_egress_and_trusts_only_nginx(host):
    app = host.check_output(
        "docker ps -q --filter label=com.docker.compose.service=app-blue --filter status=running"
    )
    networks = json.loads(host.check_output("docker inspect %s", app))[0]["NetworkSettings"]
    internal = {
        name: json.loads(host.check_output("docker network inspect %s", name))[0]["Internal"]
        for name in networks["Networks"]
    }
    assert internal, networks
    assert all(internal.values()), internal
    env = host.check_output("docker inspect --format '{{json .Config.Env}}' %s", app)
    assert "FORWARDED_ALLOW_IPS=172.30.80.2" in env


def test_the_app_logs_in_as_a_role_that_is_not_superuser(host):
    db = host.check_output(
        "docker ps -q --filter label=com.docker.compose.service=db --filter status=running"
    )
    query = (
        "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolcanlogin FROM pg_roles "
        "WHERE rolname LIKE 'vmstack\\_%' ORDER BY 1"
    )
    rows = host.check_output(
        "docker exec %s psql -U vmstack -d vmstack -Atc %s", db, query
    ).splitlines()
    roles = {row.split("|")[0]: row.split("|")[1:] for row in rows}
    assert set(roles) == {"vmstack_blue", "vmstack_green", "vmstack_owner"}, roles
    for name, (superuser, createrole, createdb, _login) in roles.items():
        assert (superuser, createrole, createdb) == ("f", "f", "f"), name
    assert roles["vmstack_blue"][3] == "t"  # the live slot logs in
    assert roles["vmstack_green"][3] == "f"  # nothing released there: no login
    owners = host.check_output(
        "docker exec %s psql -U vmstack -d vmstack -Atc %s",
        db,
        "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'",
    )
    assert owners.split() == ["vmstack_owner"]
    # what the app's role may do: no server programs, no new roles
    denied = host.run(
        "docker exec %s psql -U vmstack_blue -d vmstack -h /run/postgresql -Atc %s",
        db,
        "COPY (SELECT 1) TO PROGRAM 'true'",
    )
    assert denied.rc != 0
    assert "permission denied" in denied.stderr or "must be superuser" in denied.stderr


def test_only_nginx_listens_beyond_loopback(host):
    listening = host.check_output("ss -Htlnp")
    for line in listening.splitlines():
        local = line.split()[3]
        address, _, port = local.rpartition(":")
        assert port not in {"5432", "8000"}, line
        if address not in {"127.0.0.1", "[::1]", "127.0.0.53%lo:53", "127.0.0.54"}:
            # nginx, and sshd from the base role (the firewall decides who reaches it)
            assert port in {"22", "80", "443"}, f"unexpected listener: {line}"
    assert host.socket("tcp://0.0.0.0:80").is_listening
    assert host.socket("tcp://0.0.0.0:443").is_listening


def test_nginx_cannot_reach_the_database(host):
    nginx = host.check_output(
        "docker ps -q --filter label=com.docker.compose.service=nginx --filter status=running"
    )
    reach = host.run("docker exec %s bash -c 'exec 3<>/dev/tcp/db/5432'", nginx)
    assert reach.rc != 0
    app = host.check_output(
        "docker ps -q --filter label=com.docker.compose.service=app-blue --filter status=running"
    )
    probe = "import socket; socket.create_connection(('db', 5432), 3)"
    assert host.run("docker exec %s python3 -c %s", app, probe).rc == 0


def test_app_runs_as_non_root(host):
    app = host.check_output(
        "docker ps -q --filter label=com.docker.compose.service=app-blue --filter status=running"
    )
    assert host.check_output("docker exec %s id -u", app) != "0"


def test_data_survives_a_rerun_and_no_secret_is_printed(host, https, admin_token, vault):
    """Book a slot, converge again at -vvv, find the booking, and no vault value in the output.

    Runs last (conftest.py), after restore.yml restarted the app: changed=0 here
    also proves a converge after a restore does not redeploy."""
    suffix = uuid.uuid4().hex[:8]
    status, dtype = https.call(
        "POST", "/api/v1/device-types", {"name": f"scope-{suffix}"}, token=admin_token
    )
    assert status == 201, dtype
    status, device = https.call(
        "POST",
        "/api/v1/devices",
        {"name": f"Scope {suffix}", "device_type_id": dtype["id"], "serial": f"SN-{suffix}"},
        token=admin_token,
    )
    assert status == 201, device
    status, booking = https.call(
        "POST",
        "/api/v1/bookings",
        {
            "device_id": device["id"],
            "start": "2031-03-01T09:00:00Z",
            "end": "2031-03-01T11:00:00Z",
            "purpose": "molecule re-run check",
        },
        token=admin_token,
    )
    assert status == 201, booking

    run = playbooks.run("molecule/default/converge.yml", "-vvv")
    output = run.output
    assert run.returncode == 0, output[-4000:]
    assert "changed=0" in output.split("PLAY RECAP")[-1], output.split("PLAY RECAP")[-1]
    for name, secret in vault.items():
        assert secret not in output, f"{name} appears in the -vvv output"

    status, again = https.call("GET", f"/api/v1/bookings/{booking['id']}", token=admin_token)
    assert status == 200
    assert again["purpose"] == "molecule re-run check"
    assert again["status"] != "cancelled"
