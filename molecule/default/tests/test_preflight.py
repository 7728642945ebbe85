"""The preflight matrix: a malformed inventory variable stops site.yml before any change.

Every case is a real `site.yml` run on the converged instance with one variable overridden
(`-e` as JSON, so an int stays an int). Each must
  * exit non-zero, the failing task being one of roles/*/tasks/preflight.yml,
  * start no task outside the preflight (facts, the pre_tasks' include, preflight files),
  * report no change, and name the variable in the failure message;
and the instance's configuration (file list, modes, owners and content hashes of /etc,
/opt/vmstack, /usr/local/sbin; container, network, volume and image ids) is the same
after the whole matrix as before it. A control run of the unmodified inventory through the
same preflight tasks (playbooks/env-check.yml) must pass, so the failures come from
the variables.

The runs go a few at a time (they stop after facts and the preflight); the tasks they ran
come from the task_log callback in vmstack_testlib.
"""

from __future__ import annotations

import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from vmstack_testlib import REPO, hostcheck, playbooks

CALLBACKS = Path(playbooks.__file__).parent / "ansible_callbacks"
MISSING = "/nonexistent/vmstack-preflight-matrix/missing.tar"
WORKERS = 4

# (variable, bad value): each names a different check; every role is represented.
CASES: list[tuple[str, object]] = [
    ("nginx_server_name", "bad name"),
    ("app_admin_email", "not-an-email"),
    ("app_release_keep", 0),
    ("app_archive", MISSING),
    ("nginx_image_archive", MISSING),
    ("stack_db_image_archive", MISSING),
    ("app_web_concurrency", 0),
    ("app_root_path", "/lab/../admin"),
    ("app_environment", "prod"),
    ("nginx_upstream_host", "app blue"),
    ("nginx_tls_mode", "letsencrypt"),
    ("stack_db_name", "Bad-Name"),
    ("stack_edge_subnet", "10.0.0.0/8"),
    ("stack_app_healthcheck_retries", 0),
    ("docker_install_source", "tarball"),
    ("base_ssh_port", 0),
    ("backup_keep_count", 0),
    ("backup_age_recipients", ["not-an-age-key"]),
    ("backup_schedule", "every tuesday-ish"),
    ("status_collect_interval", 5),
    ("status_format", "yaml"),
    # the services model (docs/services.md): a port that is no port, an app route without /
    (
        "stack_services",
        {"web": {"image": "rig/web", "version": "1", "port": 0, "routes": [{"path": "/web/"}]}},
    ),
    ("nginx_app_routes", ["api"]),
]

# Tasks a stopped run may start besides the preflight files: fact gathering and the
# pre_tasks' include_role loop in playbooks/site.yml.
ALLOWED_OUTSIDE = ("Gathering Facts",)


def _site(
    extra: list[str], log: Path, playbook: str = "site.yml"
) -> tuple[playbooks.Run, list[dict]]:
    run = playbooks.run(
        playbook,
        *extra,
        env={
            "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACKS),
            "ANSIBLE_CALLBACKS_ENABLED": "task_log",
            "VMSTACK_TASK_LOG": str(log),
        },
        timeout=600,
    )
    events = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return run, events


# The files a role's preflight is made of: its preflight.yml and what that includes
# (the base role's read-only SSH lock-out guard: id, getent, slurp, assert).
PREFLIGHT_FILES = ("/tasks/preflight.yml", "/base/tasks/lockout-guard.yml")


def _in_preflight(event: dict) -> bool:
    path = event["path"].rsplit(":", 1)[0]
    return "/roles/" in path and path.endswith(PREFLIGHT_FILES)


def _outside_preflight(events: list[dict]) -> list[str]:
    site = str(REPO / "playbooks" / "site.yml")
    return sorted(
        {
            f"{e['task']} ({e['path']})"
            for e in events
            if e["event"] == "start"
            and not _in_preflight(e)
            and e["task"] not in ALLOWED_OUTSIDE
            and not e["path"].startswith(site)
        }
    )


@pytest.fixture(scope="module")
def matrix(host) -> dict:
    instance = host.backend.host
    work = Path(tempfile.mkdtemp(prefix="vmstack-preflight-"))
    before = hostcheck.fingerprint(instance)

    def one(case: tuple[str, object] | None) -> tuple[playbooks.Run, list[dict]]:
        if case is None:
            # The control: the inventory as it is through the same preflight tasks
            # (env-check.yml runs exactly site.yml's pre_tasks loop, in check mode).
            return _site([], work / "control.jsonl", "env-check.yml")
        name, value = case
        return _site(["-e", json.dumps({name: value})], work / f"{name}.jsonl")

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        done = list(pool.map(one, [None, *CASES]))
    # keyed by variable name (each case has its own); None is the control
    runs = dict(zip([None, *(name for name, _ in CASES)], done, strict=True))
    after = hostcheck.fingerprint(instance)
    return {"runs": runs, "before": before, "after": after}


def test_the_unmodified_inventory_passes_the_preflight(matrix):
    run, events = matrix["runs"][None]
    assert run.returncode == 0, run.output[-3000:]
    preflight = [e for e in events if e["event"] == "start" and _in_preflight(e)]
    # every role's preflight ran (its validate_argument_spec task at least)
    roles = {e["path"].split("/roles/")[1].split("/")[0] for e in preflight}
    assert roles >= {"base", "docker", "app", "nginx", "stack", "backup", "status"}, roles
    assert not [e for e in events if e.get("changed")], "the preflight changed something"


@pytest.mark.parametrize(("name", "value"), CASES, ids=[f"{n}={v!r}" for n, v in CASES])
def test_a_bad_variable_stops_in_the_preflight(matrix, name, value):
    run, events = matrix["runs"][name]
    assert run.returncode != 0, f"site.yml accepted {name}={value!r}:\n{run.recap}"
    failed = [e for e in events if e["event"] in ("failed", "item_failed", "unreachable")]
    assert failed, f"no task failed, rc {run.returncode}:\n{run.output[-2000:]}"
    assert all(_in_preflight(e) for e in failed), [f"{e['task']} ({e['path']})" for e in failed]
    assert not _outside_preflight(events), _outside_preflight(events)
    assert not [e for e in events if e.get("changed")], "a task reported a change"
    messages = " ".join(e["msg"] for e in failed)
    assert name in messages, f"the failure does not name {name}: {messages[:1500]}"


def test_the_matrix_left_the_host_unchanged(matrix):
    before, after = matrix["before"], matrix["after"]
    assert len(before) > 100, "the fingerprint saw almost nothing"
    assert before == after, hostcheck.difference(before, after)


def test_the_matrix_runs_every_role_and_at_least_15_cases():
    assert len(CASES) >= 15
    assert len({name for name, _ in CASES}) == len(CASES), "one case per variable"
    roles = {name.split("_")[0] for name, _ in CASES}
    assert roles >= {"base", "docker", "app", "nginx", "stack", "backup", "status"}, roles
