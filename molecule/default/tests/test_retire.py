"""Removing a service from the inventory retires it; runs very last (conftest), since
it takes the scenario's extra service away.

`site.yml` with `stack_services: {}` (the scenario's host_vars declare the frontend)
and the host-wide base and docker roles skipped (they know no service; the rename test
skips them the same way), under load through nginx on the app:
  * 0 failed requests;
  * the frontend's containers, settings file, secrets, release files and nginx upstream
    file are gone, and /portal/ is no longer the frontend's;
  * the app was not released again (same release file, same container) and no other
    container was recreated or restarted;
  * the status collector no longer lists the frontend, and status.yml is green;
  * a second run of the roles involved (app, nginx, stack, the releases) changes nothing.
"""

from __future__ import annotations

import json
import time

import pytest

from vmstack_testlib import playbooks, underload

INSTANCE = "vmstack-default"
PROJECT = "/opt/vmstack"
RATE = 40
GONE = json.dumps({"stack_services": {}})
# The release story (before this file) rotates every secret with these values on top of
# the vault; a file older than this module's collection is an earlier session's.
ROTATED = underload.LOGS / "rotation-vars.yml"
COLLECTED_AT = time.time()
FRONTEND_FILES = (
    f"{PROJECT}/frontend.env",
    f"{PROJECT}/secrets/frontend",
    f"{PROJECT}/secrets/frontend-blue",
    f"{PROJECT}/secrets/frontend-green",
    f"{PROJECT}/release-frontend.json",
    f"{PROJECT}/releases-frontend.json",
    f"{PROJECT}/nginx/conf.d/vmstack-upstream-frontend.inc",
)


@pytest.fixture(scope="module")
def secrets_now(vault) -> tuple[list[str], str]:
    """The -e arguments that keep the secrets the host runs with, and the admin's
    password: the release story's rotated ones when it ran in this session."""
    if ROTATED.exists() and ROTATED.stat().st_mtime > COLLECTED_AT:
        rotated = {
            key: json.loads(value)
            for key, _, value in (
                line.partition(": ") for line in ROTATED.read_text().splitlines() if line
            )
        }
        return ["-e", f"@{ROTATED}"], rotated["vault_app_admin_password"]
    return [], vault["vault_app_admin_password"]


def _identities(host) -> dict[str, tuple[str, str]]:
    """(container id, start time) of the live app slot, the accessories and nginx."""
    app = json.loads(host.file(f"{PROJECT}/release.json").content_string)["active"]
    names = [f"vmstack-app-{app}-1", "vmstack-db-1", "vmstack-redis-1", "vmstack-nginx-1"]
    out = {}
    for name in names:
        state = json.loads(host.check_output("docker inspect %s", name))[0]
        out[name] = (state["Id"], state["State"]["StartedAt"])
    return out


def _project_containers(host) -> list[str]:
    return host.check_output(
        "docker ps -a --filter label=com.docker.compose.project=vmstack --format '{{.Names}}'"
    ).split()


def test_removing_the_frontend_from_the_inventory_retires_it(host, https, secrets_now):
    keep, admin_password = secrets_now
    live = json.loads(host.file(f"{PROJECT}/release-frontend.json").content_string)["active"]
    assert f"vmstack-frontend-{live}-1" in _project_containers(host)
    for path in FRONTEND_FILES:
        assert host.file(path).exists, path
    before = _identities(host)
    release_before = host.file(f"{PROJECT}/release.json").content_string

    run = underload.run(
        INSTANCE,
        "retire",
        admin_password,
        lambda: underload.playbook("site.yml", *keep, "-e", GONE, "--skip-tags", "base,docker"),
        RATE,
    )
    played = run.outcome
    assert played.returncode == 0, played.output[-3000:]
    underload.assert_no_failed_requests(run)
    assert run.phases["after"]["requests"] > 0, run.phases

    left = [name for name in _project_containers(host) if "frontend" in name]
    assert left == [], left
    for path in FRONTEND_FILES:
        assert not host.file(path).exists, path
    status, _ = https.call("GET", "/portal/version.json")
    assert status == 404, status
    # the app was not released again, and nothing else was recreated or restarted
    assert host.file(f"{PROJECT}/release.json").content_string == release_before
    assert _identities(host) == before
    status, body = https.call("GET", "/version")
    assert status == 200, body


def test_the_status_no_longer_lists_the_retired_service(host, secrets_now):
    run = playbooks.run("status.yml", *secrets_now[0], "-e", GONE)
    assert run.returncode == 0, run.output[-3000:]
    status = json.loads(host.file(f"{PROJECT}/status/status.json").content_string)
    assert [service["name"] for service in status["services"]] == ["app"], status["services"]


def test_a_second_run_without_the_service_changes_nothing(host, secrets_now):
    # the host-wide roles are as the first run left them; the app, nginx and stack
    # roles and the releases (untagged tasks of included roles) run whole
    run = underload.playbook(
        "site.yml", *secrets_now[0], "-e", GONE, "--skip-tags", "base,docker,backup,status"
    )
    assert run.returncode == 0, run.output[-3000:]
    recap = [line for line in run.output.splitlines() if line.startswith(INSTANCE)]
    assert recap, run.output[-3000:]
    assert " changed=0 " in recap[-1], recap
