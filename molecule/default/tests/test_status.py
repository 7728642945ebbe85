"""The status collector (roles/status) and playbooks/status.yml on the converged host.

The file the timer writes exists, is fresh and says what the host says (containers,
release, certificate, disk). status.yml runs the same collector, exits 0 on a healthy
host, non-zero with the reason while a container is stopped, and 0 again after it is
started; its JSON form is the status file.
"""

import json
import re
import time
from datetime import UTC, datetime

import pytest

from vmstack_testlib import playbooks

PROJECT = "/opt/vmstack"
STATUS_FILE = f"{PROJECT}/status/status.json"
COMPOSE = f"docker compose --project-directory {PROJECT}"


def playbook(name: str, *extra: str, **env: str) -> tuple[int, str]:
    run = playbooks.run(name, *extra, env=env)
    return run.returncode, run.output


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def read_status(host) -> dict:
    return json.loads(host.file(STATUS_FILE).content_string)


@pytest.fixture(scope="module")
def backed_up():
    """A backup exists (a host never backed up is reported as a problem, rightly)."""
    code, output = playbook("backup.yml")
    assert code == 0, output[-3000:]


def test_the_timer_runs_the_collector(host):
    assert host.run("systemctl is-enabled vmstack-status.timer").stdout.strip() == "enabled"
    assert host.run("systemctl is-active vmstack-status.timer").stdout.strip() == "active"
    timer = host.file("/etc/systemd/system/vmstack-status.timer").content_string
    assert "OnUnitActiveSec=60s" in timer
    result = host.check_output("systemctl show vmstack-status.service -p Result")
    assert result == "Result=success"


def test_the_status_file_is_fresh_and_public_but_read_only(host):
    status_file = host.file(STATUS_FILE)
    assert status_file.exists
    assert status_file.user == "root"
    assert status_file.mode == 0o644
    assert host.file(f"{PROJECT}/status").mode == 0o755
    status = read_status(host)
    assert status["schema"] == 1
    assert status["interval_seconds"] == 60
    age = (datetime.now(UTC) - parse_time(status["collected_at"])).total_seconds()
    # Written by the timer (no status.yml has run yet in this module): never stale.
    assert -5 <= age <= 2 * status["interval_seconds"], status["collected_at"]
    keys = {"schema", "collected_at", "interval_seconds", "host", "project", "services"}
    keys |= {"releases", "containers", "backup", "tls", "disk", "problems"}
    assert set(status) == keys


def test_the_status_file_matches_the_host(host):
    # Collect now, so the host and the file are compared at the same moment.
    host.check_output("systemctl start vmstack-status.service")
    status = read_status(host)
    assert status["host"] == host.check_output("hostname")
    assert status["project"] == "vmstack"
    # Containers: the compose project's, by name, state and health.
    listed = host.check_output(
        "docker ps --all --filter label=com.docker.compose.project=vmstack"
        " --filter label=com.docker.compose.oneoff=False --format '{{.Names}}'"
    ).split()
    assert sorted(c["name"] for c in status["containers"]) == sorted(listed)
    for container in status["containers"]:
        state = host.check_output(f"docker inspect -f '{{{{.State.Status}}}}' {container['name']}")
        assert container["state"] == state, container
    # The live release, as the app role recorded it.
    release = json.loads(host.file(f"{PROJECT}/release.json").content_string)
    services = {s["name"]: s for s in status["services"]}
    # the app and this scenario's extra service (host_vars/: the stand-in frontend)
    assert set(services) == {"app", "frontend"}, services.keys()
    frontend = json.loads(host.file(f"{PROJECT}/release-frontend.json").content_string)
    assert services["frontend"]["slot"] == frontend["active"]
    assert services["frontend"]["version"] == frontend["slots"][frontend["active"]]["version"]
    service = services["app"]
    assert service["version"] == release["version"]
    assert service["slot"] == release["active"]
    assert service["image_id"].startswith("sha256:")
    live = [c for c in status["containers"] if c["service"] == f"app-{release['active']}"]
    assert len(live) == 1, status["containers"]
    assert (live[0]["state"], live[0]["health"]) == ("running", "healthy")
    history = json.loads(host.file(f"{PROJECT}/releases.json").content_string)
    assert status["releases"][0]["version"] == history[-1]["version"]
    assert len(status["releases"]) == min(10, len(history))
    # The certificate nginx serves.
    end = host.check_output(f"openssl x509 -noout -enddate -in {PROJECT}/nginx/tls/tls.crt")
    not_after = datetime.strptime(end.split("=", 1)[1], "%b %d %H:%M:%S %Y GMT")
    assert status["tls"]["not_after"] == not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert status["tls"]["days_left"] > 14
    # The filesystem of the project directory.
    total = int(host.check_output(f"df --output=size -B1 {PROJECT} | tail -1"))
    assert status["disk"]["fs_total_bytes"] == total
    assert status["disk"]["project_dir_bytes"] > 0
    assert status["disk"]["docker_bytes"] > status["disk"]["project_dir_bytes"]


def test_status_playbook_is_green_on_a_healthy_host(host, backed_up):
    code, output = playbook("status.yml")
    assert code == 0, output[-3000:]
    assert "changed=0" in output.split("PLAY RECAP")[-1]
    release = json.loads(host.file(f"{PROJECT}/release.json").content_string)
    assert f"release:     app  {release['version']}  {release['active']}" in output
    assert "problems:    0" in output
    assert re.search(r"backup:\s+last \S+ \([\d.]+ h ago, .*, verified\)", output), output[-3000:]
    assert re.search(r"tls:\s+expires \S+ \(\d+ days\)", output), output[-3000:]


def test_status_playbook_json_is_the_status_file(host, backed_up):
    # As `make status FORMAT=json` runs it: the whole output is one JSON document.
    code, output = playbook(
        "status.yml", "-e", "status_format=json", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json"
    )
    assert code == 0, output[-3000:]
    # stdout is the document; stderr (warnings) follows it in `output`.
    document, _ = json.JSONDecoder().raw_decode(output[output.index("{") :])
    printed = [
        result["msg"]["status"]
        for task in document["plays"][0]["tasks"]
        for result in task["hosts"].values()
        if isinstance(result.get("msg"), dict) and "status" in result["msg"]
    ]
    assert len(printed) == 1, output[-3000:]
    assert printed[0] == read_status(host)
    assert printed[0]["problems"] == []


def test_status_playbook_fails_while_a_container_is_stopped(host, backed_up):
    host.check_output(f"{COMPOSE} stop nginx")
    try:
        code, output = playbook("status.yml")
        assert code != 0, output[-3000:]
        assert "container vmstack-nginx-1 is exited" in output, output[-3000:]
        assert "does not answer" in output
        status = read_status(host)
        assert "container vmstack-nginx-1 is exited" in status["problems"]
    finally:
        host.check_output(f"{COMPOSE} start nginx")
    # Green again once it runs (bounded wait for nginx to answer).
    for _ in range(20):
        code, output = playbook("status.yml")
        if code == 0:
            break
        time.sleep(3)
    assert code == 0, output[-3000:]
    assert read_status(host)["problems"] == []
