"""Converging this version over a host deployed by the previous one loses no request.

1. site.yml of VMSTACK_UPGRADE_FROM (default 9500b82: main on 2026-11-23, before the
   Redis accessory and the services model), taken from this checkout's history with
   `git archive`, converges the instance with that version's own local inventory.
2. This checkout's site.yml converges it again with the same, unchanged inventory while
   the steady load runs through nginx: every request answered 2xx, the database
   container neither recreated nor restarted, the data written before still there.
3. A second run of this version changes nothing.
4. Adding an extra service is an inventory change only: the same inventory plus
   `stack_services` (the rig's stand-in frontend) goes out through site.yml under load.
5. site.yml with that service's version raised releases that service and nothing else.

Each playbook runs with a clean Ansible environment pointing at one tree's config,
roles and collection, so the first run cannot pick up this checkout's roles."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

from vmstack_testlib import REPO, playbooks, underload
from vmstack_testlib import vault as vaults

FROM = os.environ.get("VMSTACK_UPGRADE_FROM", "9500b82")
INSTANCE = f"vmstack-{os.environ.get('MOLECULE_SCENARIO_NAME', 'upgrade')}"
BASELINE = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/tmp")) / f"baseline-{FROM}"
INVENTORY = BASELINE / "inventories" / "local"
RATE = 40  # requests per second through nginx (the app's GET and POST in turn)

STATE: dict[str, object] = {}


def _site(tree: Path, tag: str, *extra: str) -> playbooks.Run:
    """`ansible-playbook -v site.yml` of `tree` against the previous version's inventory,
    with only that tree's config, roles and collection (and the vault password and
    the archives' directory from Molecule's environment)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_CONFIG=str(tree / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(tree / "collections"),
        ANSIBLE_ROLES_PATH=str(tree / "roles"),
        ANSIBLE_VAULT_IDENTITY_LIST=f"local@{REPO / 'vault-passwords' / 'local.txt'}",
        ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
        ANSIBLE_FORCE_COLOR="false",
    )
    started = time.monotonic()
    done = subprocess.run(
        [
            *playbooks.CONTROLLER_NICE,
            "ansible-playbook",
            "-v",
            "-i",
            str(INVENTORY),
            "site.yml",
            *extra,
        ],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    run = playbooks.Run(done.returncode, done.stdout, done.stderr, time.monotonic() - started)
    underload.LOGS.mkdir(parents=True, exist_ok=True)
    log = underload.LOGS / f"{time.strftime('%H%M%S')}-upgrade-{tag}.log"
    log.write_text(run.output)
    print(f"\n{tag}: site.yml of {tree}: exit {run.returncode} in {run.seconds:.0f} s, log {log}")
    print(run.recap.strip())
    return run


def _inspect(host, name: str) -> dict:
    return json.loads(host.check_output("docker inspect %s", name))[0]


def test_the_previous_version_converges_the_host(host, https):
    if BASELINE.exists():
        subprocess.run(["rm", "-rf", str(BASELINE)], check=True)
    BASELINE.mkdir(parents=True)
    tar = BASELINE.with_suffix(".tar")
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", "-o", str(tar), FROM],
        capture_output=True,
        text=True,
        check=False,
    )
    if archive.returncode == 0:
        subprocess.run(["tar", "-x", "-f", str(tar), "-C", str(BASELINE)], check=True)
        tar.unlink()
    assert archive.returncode == 0, (
        f"cannot take {FROM} from this checkout's history (a shallow clone? "
        f"`git fetch --unshallow`): {archive.stderr}"
    )
    # the previous version's own local inventory, aimed at this instance
    (INVENTORY / "hosts.yml").write_text(
        "all:\n  children:\n    vmstack:\n      hosts:\n"
        f"        {INSTANCE}:\n"
        "          ansible_connection: community.docker.docker\n"
        "          ansible_python_interpreter: /usr/bin/python3\n"
    )
    run = _site(BASELINE, f"from-{FROM}")
    assert f"Using {BASELINE}/ansible.cfg as config file" in run.output
    assert run.returncode == 0, run.output[-3000:]
    status, body = https.call("GET", "/readyz")
    assert status == 200, body


def test_this_version_over_it_under_load_fails_no_request(host, https):
    # the previous version's vault (its inventory is the one both runs use)
    admin_password = vaults.read(INVENTORY)["vault_app_admin_password"]
    token = https.login("admin@example.com", admin_password)
    status, dtype = https.call(
        "POST", "/api/v1/device-types", {"name": f"upgrade-{uuid.uuid4().hex[:8]}"}, token=token
    )
    assert status == 201, dtype
    db = _inspect(host, "vmstack-db-1")
    release = https.call("GET", "/version")[1]["release"]

    run = underload.run(INSTANCE, "upgrade", admin_password, lambda: _site(REPO, "upgrade"), RATE)
    played = run.outcome
    assert f"Using {REPO}/ansible.cfg as config file" in played.output
    assert played.returncode == 0, played.output[-3000:]
    underload.assert_no_failed_requests(run)
    assert run.phases["during"]["requests"] > 0
    assert run.phases["after"]["requests"] > 0, run.phases

    after = _inspect(host, "vmstack-db-1")
    assert (after["Id"], after["State"]["StartedAt"]) == (db["Id"], db["State"]["StartedAt"])
    token = https.login("admin@example.com", admin_password)
    status, body = https.call("GET", f"/api/v1/device-types/{dtype['id']}", token=token)
    assert status == 200, body
    status, body = https.call("GET", "/version")
    assert status == 200
    assert body["release"] == release
    # every booking the load wrote is there
    STATE["bookings"] = set(run.booking_ids)
    found: set[int] = set()
    offset, total = 0, None
    while total is None or offset < total:
        status, page = https.call("GET", f"/api/v1/bookings?limit=200&offset={offset}", token=token)
        assert status == 200, page
        total = page["total"]
        found.update(int(b["id"]) for b in page["items"])
        offset += page["limit"]
    assert STATE["bookings"] <= found, len(STATE["bookings"] - found)


def test_a_second_run_of_this_version_changes_nothing(host):
    run = _site(REPO, "rerun")
    assert run.returncode == 0, run.output[-3000:]
    assert " changed=0 " in run.recap, run.recap


def _frontend(version: str) -> str:
    """The extra-vars file that adds the stand-in frontend at /portal/ (an inventory
    change: the same keys would go into group_vars)."""
    archives = os.environ["VMSTACK_ARCHIVES"]
    path = BASELINE / f"frontend-{version}.json"
    path.write_text(
        json.dumps(
            {
                "stack_services": {
                    "frontend": {
                        "image": "vmstack/frontend",
                        "version": version,
                        "delivery": "archive",
                        "archive": f"{archives}/frontend-{{version}}.tar",
                        "port": 8080,
                        "healthcheck": ["CMD", "/usr/local/bin/healthcheck"],
                        "uid": 101,
                        "routes": [{"path": "/portal/"}],
                        "memory": "64m",
                    }
                }
            }
        )
    )
    return f"@{path}"


def _app_slot(host) -> tuple[str, str]:
    live = json.loads(host.file("/opt/vmstack/release.json").content_string)["active"]
    state = _inspect(host, f"vmstack-app-{live}-1")
    return state["Id"], state["State"]["StartedAt"]


def test_adding_a_service_to_the_inventory_goes_out_under_load(host, https):
    admin_password = vaults.read(INVENTORY)["vault_app_admin_password"]
    db = _inspect(host, "vmstack-db-1")["Id"]
    run = underload.run(
        INSTANCE,
        "add-frontend",
        admin_password,
        lambda: _site(REPO, "add-frontend", "-e", _frontend("1.0.0")),
        RATE,
    )
    assert run.outcome.returncode == 0, run.outcome.output[-3000:]
    underload.assert_no_failed_requests(run)
    status, body = https.call("GET", "/portal/version.json")
    assert (status, body) == (200, {"service": "frontend", "version": "1.0.0"})
    assert _inspect(host, "vmstack-db-1")["Id"] == db


def test_site_releases_only_the_service_that_changed(host, https):
    admin_password = vaults.read(INVENTORY)["vault_app_admin_password"]
    app = _app_slot(host)
    db = _inspect(host, "vmstack-db-1")["Id"]
    run = underload.run(
        INSTANCE,
        "site-frontend-1.1.0",
        admin_password,
        lambda: _site(REPO, "site-frontend-1.1.0", "-e", _frontend("1.1.0")),
        RATE,
        also_get=("/portal/version.json",),
    )
    assert run.outcome.returncode == 0, run.outcome.output[-3000:]
    underload.assert_no_failed_requests(run)
    served = [s["served"] for s in sorted(run.of("get /portal/version.json"), key=lambda s: s["t"])]
    assert served[0] == "1.0.0"
    assert served[-1] == "1.1.0"
    status, body = https.call("GET", "/portal/version.json")
    assert (status, body) == (200, {"service": "frontend", "version": "1.1.0"})
    # the app and the database were not released, recreated or restarted
    assert _app_slot(host) == app
    assert _inspect(host, "vmstack-db-1")["Id"] == db
