"""The services model (stack_services, nginx_app_routes) checked before any change.

The nginx and stack preflight run on the controller (tests/playbooks/preflight_services.yml)
against inventories/local with a model in -e; a malformed one must fail naming its variable.
The filters behind the checks and the address scheme are tested directly too.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "tests" / "playbooks" / "preflight_services.yml"
sys.path.insert(0, str(REPO / "collections"))

from ansible_collections.vmstack.deploy.plugins.filter import services as f  # noqa: E402

# Images come from a registry in these runs, so no archive must exist on the controller.
PULL = {
    "stack_db_image_source": "pull",
    "stack_redis_image_source": "pull",
    "nginx_image_source": "pull",
}
GOOD = {
    "nginx_app_routes": ["/api/"],
    "stack_services": {
        "web": {
            "image": "registry.example.com/web",
            "version": "1.2.0",
            "port": 8080,
            "env": {"API_BASE": "/api/"},
            "secrets": {"session_key": "preflight-session-key-0123456789"},
            "routes": [{"path": "/"}, {"path": "/live/", "websocket": True, "rate": "5r/s"}],
        }
    },
}


def preflight(model: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            "ansible-playbook",
            "-i",
            "inventories/local",
            str(PLAYBOOK),
            "-e",
            "ansible_connection=local",
            "-e",
            json.dumps({**PULL, **model}),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )


def web(**changes: object) -> dict:
    model = copy.deepcopy(GOOD)
    model["stack_services"]["web"].update(changes)
    return model


def test_a_good_model_passes(runs):
    run = runs["good"]
    assert run.returncode == 0, run.stdout[-3000:]


def test_todays_inventory_passes(runs):
    run = runs["today"]
    assert run.returncode == 0, run.stdout[-3000:]


BAD = [
    ("port is not a number", web(port="http"), "stack_services.web"),
    ("port out of range", web(port=70000), "stack_services.web.port"),
    (
        "route taken by the app",
        web(routes=[{"path": "/api/"}]),
        "stack_services.web.routes[0].path",
    ),
    ("route without a slash", web(routes=[{"path": "web"}]), "stack_services.web.routes[0].path"),
    ("no routes", web(routes=[]), "stack_services.web.routes"),
    ("bad rate", web(routes=[{"path": "/", "rate": "fast"}]), "stack_services.web.routes[0].rate"),
    ("quote in env", web(env={"A": "it's"}), "stack_services.web.env.A"),
    ("unknown delivery", web(delivery="scp"), "stack_services.web"),
    (
        "archive missing",
        web(delivery="archive", archive="/nonexistent/web-{version}.tar"),
        "stack_services.web.archive",
    ),
    (
        "reserved name",
        {"stack_services": {"redis": GOOD["stack_services"]["web"]}},
        "stack_services.redis",
    ),
    (
        "two services on one prefix",
        {
            "nginx_app_routes": ["/api/"],
            "stack_services": {
                "web": GOOD["stack_services"]["web"],
                "docs": {**GOOD["stack_services"]["web"], "routes": [{"path": "/live/"}]},
            },
        },
        "stack_services.web.routes[1].path",
    ),
    ("bad app route", {"nginx_app_routes": ["api"]}, "nginx_app_routes[0]"),
]


@pytest.fixture(scope="module")
def runs() -> dict[str, subprocess.CompletedProcess]:
    """Every case's preflight run, a few at a time (each takes seconds)."""
    cases = {"good": GOOD, "today": {}, **{case: model for case, model, _ in BAD}}
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = list(pool.map(preflight, cases.values()))
    return dict(zip(cases, done, strict=True))


@pytest.mark.parametrize(("case", "names"), [(c, n) for c, _, n in BAD], ids=[c for c, _, _ in BAD])
def test_a_malformed_model_stops_naming_the_variable(runs, case, names):
    run = runs[case]
    assert run.returncode != 0, f"{case}: the preflight passed"
    assert names in run.stdout, run.stdout[-3000:]
    assert "failed=1" in run.stdout, run.stdout[-2000:]


def test_the_address_scheme():
    got = f.service_slot_addresses({"web": {}, "admin": {}, "api2": {}}, "10.9.8")
    assert got == {
        "admin": {"blue": "10.9.8.20", "green": "10.9.8.21"},
        "api2": {"blue": "10.9.8.22", "green": "10.9.8.23"},
        "web": {"blue": "10.9.8.24", "green": "10.9.8.25"},
    }
    assert f.service_slot_addresses({}, "10.9.8") == {}


def test_routes_are_longest_prefix_first_and_the_app_keeps_its_own():
    routes = f.service_routes(GOOD["stack_services"], ["/api/"], ["/static/"])
    assert [(r["path"], r["service"]) for r in routes] == [
        ("/live/", "web"),
        ("/api/", "app"),
        ("/", "web"),
    ]
    # with the app at / its fixed locations (/, /api/, auth, static) are today's site config
    assert f.service_routes({}, ["/"], ["/static/"]) == []
    assert f.app_covers_auth(["/api/"])
    assert not f.app_covers_auth(["/admin/"])


def test_the_app_fingerprint_ignores_the_services_part():
    compose = {"services": {"app-blue": {"image": "a"}, "web-blue": {"image": "w:1"}}}
    other = {"services": {"app-blue": {"image": "a"}, "web-blue": {"image": "w:2"}}}
    services = {"web": {}}
    assert f.service_strip_compose(compose, services) == f.service_strip_compose(other, services)
    assert f.service_compose_part(compose, "web") != f.service_compose_part(other, "web")
    assert f.service_wanted({"web": {"image": "w", "version": "1"}}, "web", "2")["web"] == {
        "image": "w:2",
        "version": "2",
        "archive": "",
    }


def test_release_state_of_a_service_with_and_without_a_release_file():
    import base64

    wanted = {"web": {"image": "w:2", "version": "2"}, "api2": {"image": "a:1", "version": "1"}}
    record = {"active": "green", "slots": {"blue": {"image": "w:1", "version": "1"}}}
    results = [
        {"item": "web", "content": base64.b64encode(json.dumps(record).encode()).decode()},
        {"item": "api2", "failed": False, "msg": "file not found"},
    ]
    states = f.service_states(results, wanted)
    assert states["web"]["active"] == "green"
    assert states["web"]["slots"] == record["slots"]
    fresh = {"image": "a:1", "version": "1"}
    assert states["api2"] == {"active": "blue", "slots": {"blue": fresh, "green": fresh}}
    assert f.service_state_field(states, "active") == {"web": "green", "api2": "blue"}


def test_secret_files_the_model_no_longer_lists_are_found():
    found = [{"item": "web", "files": [{"path": "/s/web/keep"}, {"path": "/s/web/old"}]}]
    assert f.service_stale_files(found, {"web": {"secrets": {"keep": "x"}}}) == ["/s/web/old"]
    assert f.service_secret_dirs({"web": {"uid": 101}}, "/s") == [
        {"path": "/s/web", "owner": 0},
        {"path": "/s/web-blue", "owner": 101},
        {"path": "/s/web-green", "owner": 101},
    ]


def test_files_of_services_that_left_the_model_are_found():
    found = [
        "/opt/vmstack/web.env",  # declared: kept
        "/opt/vmstack/portal.env",  # left the model
        "/opt/vmstack/db.env",  # the stack's own (an earlier version's settings file)
        "/opt/vmstack/app-blue.env",  # a slot name, never a service's
        "/opt/vmstack/Notes.env",  # not a service name
        "/opt/vmstack/.env",  # the app's settings
        "/opt/vmstack/portal.env.bak",
    ]
    services = {"web": {}}
    assert f.service_retired_files(found, services) == ["/opt/vmstack/portal.env"]
    assert f.service_retired(found, services) == ["portal"]
    assert f.service_retired(found, {}) == ["portal", "web"]
    releases = ["/o/release-portal.json", "/o/releases-portal.json", "/o/release.json"]
    assert f.service_retired_files(releases, services, "release-{}.json") == [
        "/o/release-portal.json"
    ]
    assert f.service_retired_files(releases, services, "releases-{}.json") == [
        "/o/releases-portal.json"
    ]
    upstreams = ["/n/vmstack-upstream.inc", "/n/vmstack-upstream-portal.inc"]
    assert f.service_retired(upstreams, services, "vmstack-upstream-{}.inc") == ["portal"]
    assert f.service_retired(None, services) == []
