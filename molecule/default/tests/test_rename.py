"""Another project on the converged host: every derived path follows its name and directory.

`site.yml` converges a second project (`vmstackalt` in /opt/vmstackalt, nginx on 8080/8443,
its own edge network) beside the first, with the roles that are per project: app, nginx,
stack and backup (base, docker and status are the host's and stay as they are). Then:
  * every path the roles derive (release file and history, deploy lock, nginx config dir,
    build dir, status dir, backup dir) evaluates under the new name and directory, and
    the converge wrote the ones it uses there;
  * a changed nginx setting makes the reload handler find the new project's nginx
    container and reload it (its workers are replaced) and leave the first project's
    alone: the old bug was a handler that looked in the `vmstack` project, so it found no
    container and quietly skipped the reload, or reloaded another project's nginx;
  * the first project's files and containers are exactly as before.
Finally the second project is removed and the backup role is converged again for the
first one (its timer and settings are the host's: one project's backups per host).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from vmstack_testlib import REPO, hostcheck, playbooks

CALLBACKS = Path(playbooks.__file__).parent / "ansible_callbacks"
NAME, DIR = "vmstackalt", "/opt/vmstackalt"
ALT = {
    "stack_project_name": NAME,
    "stack_project_dir": DIR,
    "stack_http_port": 8080,
    "stack_https_port": 8443,
    "stack_edge_subnet": "172.30.81.0/24",
    # the app alone: the scenario's extra service (host_vars/) is the services story's,
    # and its paths come from the same stack_project_dir (about 25 s less to converge)
    "stack_services": {},
}
PER_HOST_ROLES = "base,docker,status"


def _events(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _site(work: Path, tag: str, *extra: str, **variables: object) -> tuple[playbooks.Run, list]:
    log = work / f"{tag}.jsonl"
    run = playbooks.run(
        "site.yml",
        "-e",
        json.dumps(variables),
        *extra,
        env={
            "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACKS),
            "ANSIBLE_CALLBACKS_ENABLED": "task_log",
            "VMSTACK_TASK_LOG": str(log),
        },
        timeout=600,
    )
    return run, _events(log)


def _derived_paths() -> dict[str, str]:
    done = subprocess.run(
        [
            "ansible-playbook",
            str(REPO / "tests" / "playbooks" / "derived_paths.yml"),
            "-e",
            json.dumps({"stack_project_name": NAME, "stack_project_dir": DIR}),
        ],
        cwd=REPO,
        env=dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json"),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    tasks = json.loads(done.stdout)["plays"][0]["tasks"]
    return tasks[-1]["hosts"]["localhost"]["msg"]["derived_paths"]


def _nginx(instance: str, project: str) -> str:
    return hostcheck.docker_exec(
        instance,
        "docker ps -q --no-trunc --filter status=running"
        f" --filter label=com.docker.compose.project={project}"
        " --filter label=com.docker.compose.service=nginx",
    ).strip()


def _workers(instance: str, container: str) -> set[str]:
    """PIDs of the nginx worker processes of a container (a reload replaces them)."""
    out = hostcheck.docker_exec(instance, f"docker top {container} -o pid,args")
    return {line.split()[0] for line in out.splitlines() if "worker process" in line}


@pytest.fixture(scope="module")
def renamed(host) -> dict:
    instance = host.backend.host
    work = Path(tempfile.mkdtemp(prefix="vmstack-rename-"))
    seen: dict = {"derived": _derived_paths()}
    seen["before"] = hostcheck.fingerprint(
        instance, roots=("/opt/vmstack",), compose_project="vmstack", images=False
    )
    try:
        seen["converge"] = _site(work, "converge", "--skip-tags", PER_HOST_ROLES, **ALT)
        seen["files"] = hostcheck.docker_exec(
            instance,
            f"for p in {DIR}/release.json {DIR}/releases.json {DIR}/nginx/conf.d/vmstack.conf"
            f" {DIR}/compose.yaml /var/backups/{NAME} {DIR}/.deploy.lock; do"
            ' if [ -e "$p" ]; then echo "yes $p"; else echo "no $p"; fi; done;'
            " grep -h '^BACKUP_DIR=\\|^BACKUP_PROJECT_DIR=' /etc/vmstack/backup.conf",
        )
        seen["version"] = host.run("curl -sk https://127.0.0.1:8443/version").stdout
        nginx = _nginx(instance, NAME)
        seen["nginx"] = nginx
        seen["workers_before"] = _workers(instance, nginx) if nginx else set()
        first = _nginx(instance, "vmstack")
        seen["first_workers_before"] = _workers(instance, first)
        seen["reload"] = _site(
            work, "reload", "--tags", "nginx", **ALT, nginx_client_max_body_size="11m"
        )
        # a reload replaces the workers within a moment; give the old ones time to go
        time.sleep(3)
        seen["workers_after"] = _workers(instance, nginx) if nginx else set()
        seen["first_workers_after"] = _workers(instance, first)
        seen["loaded"] = (
            hostcheck.docker_exec(instance, f"docker exec {nginx} nginx -T 2>/dev/null")
            if nginx
            else ""
        )
    finally:
        hostcheck.docker_exec(
            instance,
            f"docker compose -p {NAME} down --volumes --remove-orphans --timeout 5 >/dev/null 2>&1;"
            f" rm -rf {DIR} /var/backups/{NAME};"
            f" docker ps -aq --filter label=com.docker.compose.project={NAME}",
            timeout=300,
        )
        # The backup timer and settings are per host: give them back to the first project.
        seen["restore"] = _site(work, "restore", "--tags", "backup")
    seen["left"] = hostcheck.docker_exec(
        instance,
        f"docker ps -aq --filter label=com.docker.compose.project={NAME};"
        f" docker network ls -q --filter label=com.docker.compose.project={NAME};"
        f" ls -d {DIR} /var/backups/{NAME} 2>/dev/null || true",
    ).split()
    seen["after"] = hostcheck.fingerprint(
        instance, roots=("/opt/vmstack",), compose_project="vmstack", images=False
    )
    seen["backup_conf"] = host.file("/etc/vmstack/backup.conf").content_string
    return seen


def test_every_derived_path_follows_the_project(renamed):
    derived = renamed["derived"]
    for name in ("app_release_file", "app_history_file", "app_deploy_lock", "app_build_dir"):
        assert derived[name].startswith(DIR + "/"), (name, derived[name])
    for name in ("nginx_config_dir", "stack_nginx_config_dir", "stack_status_dir"):
        assert derived[name].startswith(DIR + "/"), (name, derived[name])
    assert derived["backup_project_dir"] == DIR
    assert derived["status_project_dir"] == DIR
    assert derived["status_project_name"] == NAME
    assert derived["backup_dir"] == f"/var/backups/{NAME}"
    assert derived["status_backup_dir"] == f"/var/backups/{NAME}"
    # where the nginx reload handler and the upstream switch look for containers
    assert derived["nginx_compose_project"] == NAME


def test_the_second_project_converges_into_its_own_paths(renamed):
    run, events = renamed["converge"]
    assert run.returncode == 0, run.output[-4000:]
    files = renamed["files"]
    for path in (
        f"{DIR}/release.json",
        f"{DIR}/releases.json",
        f"{DIR}/nginx/conf.d/vmstack.conf",
        f"{DIR}/compose.yaml",
        f"/var/backups/{NAME}",
    ):
        assert f"yes {path}" in files, files
    # the deploy lock is taken and released in the project's directory
    assert f"no {DIR}/.deploy.lock" in files, files
    # the backup settings name the second project's directories while it is there
    assert f"BACKUP_DIR=/var/backups/{NAME}" in files, files
    assert f"BACKUP_PROJECT_DIR={DIR}" in files, files
    assert json.loads(renamed["version"])["release"] == "0.1.0", renamed["version"]
    lock = [e for e in events if e["event"] == "start" and "lock" in e["path"]]
    assert lock, "no task of roles/app/tasks/lock.yml ran"


def test_the_nginx_reload_handler_finds_the_renamed_container(renamed):
    assert renamed["nginx"], "no running nginx container in the second project"
    run, events = renamed["reload"]
    assert run.returncode == 0, run.output[-4000:]
    handler = "nginx : Reload nginx (graceful, no dropped connections)"
    reload = [e for e in events if e["task"].endswith(handler) and e["event"] != "start"]
    assert reload, "the reload handler never ran (no nginx setting changed?)"
    assert all(e["event"] == "ok" and e["changed"] for e in reload), reload
    assert renamed["workers_before"], "no nginx worker before the reload"
    assert renamed["workers_after"], "no nginx worker after the reload"
    assert not renamed["workers_before"] & renamed["workers_after"], "the workers were not replaced"
    # and the first project's nginx was left alone (the handler once looked in `vmstack`)
    assert renamed["first_workers_before"] == renamed["first_workers_after"]
    assert "client_max_body_size 11m;" in renamed["loaded"], "nginx -T shows no 11m body limit"


def test_the_first_project_is_untouched_and_the_second_is_gone(renamed, https):
    assert renamed["before"] == renamed["after"], hostcheck.difference(
        renamed["before"], renamed["after"]
    )
    assert renamed["left"] == [], renamed["left"]
    run, _ = renamed["restore"]
    assert run.returncode == 0, run.output[-3000:]
    assert NAME not in renamed["backup_conf"], renamed["backup_conf"]
    status, body = https.call("GET", "/version")
    assert status == 200, body
