"""The stack's and nginx's files, rendered on the controller from the roles' templates.

* Today's inventories render byte-identical files: tests/unit/golden/<case>/ was
  rendered from main before the services model (issue 13, stage 2) touched a template.
* A services model (a frontend at `/`, the embedded app at `/api/`) renders the extra
  service's release slots, secrets mounts, upstream file and nginx locations.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "tests" / "playbooks" / "render_stack.yml"
GOLDEN = Path(__file__).resolve().parent / "golden"

# case -> (inventory, extra vars); each golden directory was rendered from main with them.
# inventories/production's vault is not in the repo: its hosts and vars are copied without
# it and these stand-in values given instead.
PRODUCTION_VAULT = {
    "vault_app_secret_key": "render-secret-key-0123456789-0123456789-abcdef",
    "vault_app_admin_password": "render-admin-password-0123",
    "vault_stack_db_password": "render-db-password-0123456789",
    "vault_backup_hmac_key": "render-hmac-key-0123456789",
}
GOLDEN_CASES: dict[str, tuple[str, dict]] = {
    "local": ("local", {}),
    "local-plain": (
        "local",
        {
            "nginx_tls_enabled": False,
            "stack_redis_enabled": False,
            "nginx_root_location": "landing",
            "stack_app_egress": True,
        },
    ),
    "production": ("production", PRODUCTION_VAULT),
}


def inventory(name: str, tmp: Path) -> str:
    if name == "local":
        return "inventories/local"
    copy = tmp / f"inventory-{name}"
    (copy / "group_vars" / "all").mkdir(parents=True, exist_ok=True)
    source = REPO / "inventories" / name
    (copy / "hosts.yml").write_text((source / "hosts.yml").read_text())
    (copy / "group_vars" / "all" / "vars.yml").write_text(
        (source / "group_vars" / "all" / "vars.yml").read_text()
    )
    return str(copy)


def render(dest: Path, extra: dict, inventory_path: str = "inventories/local") -> Path:
    run = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            inventory_path,
            str(PLAYBOOK),
            "-e",
            "ansible_connection=local",
            "-e",
            json.dumps({"render_dest": str(dest), **extra}),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    return dest


def files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_todays_inventory_renders_byte_identical(tmp_path, case):
    name, extra = GOLDEN_CASES[case]
    out = files(render(tmp_path / case, extra, inventory(name, tmp_path)))
    golden = files(GOLDEN / case)
    assert sorted(out) == sorted(golden)
    for name, text in golden.items():
        assert out[name] == text, f"{case}/{name} differs from the golden file"


# A stack like issue 13's first paragraph: a frontend at `/`, the embedded API at `/api/`.
MODEL = {
    "nginx_app_routes": ["/api/"],
    "stack_services": {
        "web": {
            "image": "registry.example.com/web",
            "version": "1.2.0",
            "delivery": "pull",
            "port": 8080,
            "health_path": "/healthz",
            "env": {"API_BASE": "/api/"},
            "secrets": {"session_key": "render-web-session-key-0123456789"},
            "routes": [
                {"path": "/"},
                {"path": "/live/", "websocket": True, "rate": "10r/s", "burst": 5},
                {"path": "/upload/", "client_max_body_size": "50m"},
            ],
        },
        "admin-ui": {
            "image": "registry.example.com/admin",
            "version": "2.0.0",
            "port": 9000,
            "command": ["serve", "--port", "9000"],
            "healthcheck": ["CMD", "/usr/local/bin/probe"],
            "migrate_command": ["migrate"],
            "routes": [{"path": "/admin/"}],
        },
    },
}


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return render(tmp_path_factory.mktemp("model"), MODEL)


def _compose(root: Path) -> dict:
    import yaml

    return yaml.safe_load((root / "compose.yaml").read_text())


def test_each_service_gets_two_confined_release_slots(model):
    services = _compose(model)["services"]
    for name, port in (("web", 8080), ("admin-ui", 9000)):
        for color in ("blue", "green"):
            slot = services[f"{name}-{color}"]
            assert slot["profiles"] == [f"{name}-{color}"]
            assert slot["cap_drop"] == ["ALL"]
            assert slot["security_opt"] == ["no-new-privileges:true"]
            assert slot["read_only"] is True
            assert slot["env_file"] == [f"{name}.env"]
            assert set(slot["networks"]) == {"backend", "edge"}
            assert slot["volumes"] == [f"/opt/vmstack/secrets/{name}-{color}:/run/secrets:ro"]
            assert slot["environment"]["SECRETS_DIR"] == "/run/secrets"
            assert str(port) in " ".join(slot["healthcheck"]["test"]) or name == "admin-ui"
    # the app is unchanged: still app-blue/app-green, profiles blue/green
    assert services["app-blue"]["profiles"] == ["blue"]
    assert services["app-green"]["profiles"] == ["green"]


def test_secrets_never_reach_the_compose_file_or_the_env_files(model):
    secret = MODEL["stack_services"]["web"]["secrets"]["session_key"]
    for path in model.rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(), path
    assert (model / "web.env").read_text().endswith("API_BASE='/api/'\n")


def test_edge_addresses_follow_the_documented_scheme(model):
    services = _compose(model)["services"]

    def address(name: str) -> str:
        return services[name]["networks"]["edge"]["ipv4_address"]

    # sorted by name: admin-ui is the 0th (.20/.21), web the 1st (.22/.23)
    assert [address(f"admin-ui-{c}") for c in ("blue", "green")] == ["172.30.80.20", "172.30.80.21"]
    assert [address(f"web-{c}") for c in ("blue", "green")] == ["172.30.80.22", "172.30.80.23"]
    assert address("app-blue") == "172.30.80.11"
    upstream = (model / "conf.d" / "vmstack-upstream-web.inc").read_text()
    assert "server 172.30.80.22:8080;" in upstream
    assert "map $host $vmstack_upstream_web {" in upstream


def test_the_healthcheck_override_and_the_default_probe(model):
    services = _compose(model)["services"]
    assert services["admin-ui-blue"]["healthcheck"]["test"] == ["CMD", "/usr/local/bin/probe"]
    probe = services["web-blue"]["healthcheck"]["test"]
    assert probe[0] == "CMD-SHELL"
    for tool in ("curl", "wget", "python3"):
        assert tool in probe[1]
    assert "http://127.0.0.1:8080/healthz" in probe[1]


def test_a_migrate_command_gets_a_one_shot_service(model):
    services = _compose(model)["services"]
    migrate = services["admin-ui-migrate"]
    assert migrate["profiles"] == ["tools"]
    assert migrate["command"] == ["migrate"]
    assert migrate["networks"] == ["backend"]
    assert "web-migrate" not in services


def _locations(conf: str) -> list[str]:
    https = conf.split("listen 443 ssl", 1)[1]
    return [
        line.strip().removeprefix("location ").split(" {")[0]
        for line in https.splitlines()
        if line.strip().startswith("location ") and "@" not in line
    ]


def test_nginx_routes_each_prefix_to_its_service_longest_first(model):
    conf = (model / "conf.d" / "vmstack.conf").read_text()
    for name in ("web", "admin-ui"):
        assert f"include /etc/nginx/conf.d/vmstack-upstream-{name}.inc;" in conf
    locations = _locations(conf)
    prefixes = [loc for loc in locations if not loc.startswith(("=", "~"))]
    # the app keeps its health, version, metrics and rate-limited auth locations
    assert {"= /healthz", "= /readyz", "= /version", "= /metrics"} <= set(locations)
    assert prefixes[0] == "/api/v1/auth/"
    routed = prefixes[1:]
    assert routed == sorted(routed, key=lambda p: (-len(p), p)), routed
    assert set(routed) == {"/", "/api/", "/admin/", "/live/", "/upload/"}
    https = conf.split("listen 443 ssl", 1)[1]

    def block(path: str) -> str:
        return https.split(f"location {path} {{", 1)[1].split("}", 1)[0]

    assert "proxy_pass $vmstack_upstream_web;" in block("/")
    assert "proxy_pass $vmstack_upstream;" in block("/api/")
    assert "proxy_pass $vmstack_upstream_admin_ui;" in block("/admin/")
    assert "client_max_body_size 50m;" in block("/upload/")
    live = block("/live/")
    assert "limit_req zone=vmstack_web_1 burst=5 nodelay;" in live
    assert "proxy_read_timeout 3600s;" in live
    assert "limit_req_zone $binary_remote_addr zone=vmstack_web_1:10m rate=10r/s;" in conf
    # the app's UI-only locations are gone: the frontend owns / and /static/
    assert "location ~ ^/(login|account/password)$" not in conf
    assert "location /static/" not in conf


def test_the_app_under_a_prefix_keeps_its_metrics_and_sign_in_protected(tmp_path):
    """app_root_path /lab with nginx_app_routes [/lab/] and a frontend at /: ROOT_PATH
    reaches the app's .env, and below /lab nginx refuses /metrics to the world and
    rate-limits the auth API and the sign-in forms as it does at /."""
    extra = {
        "app_root_path": "/lab",
        "nginx_app_routes": ["/lab/"],
        "stack_services": {"web": MODEL["stack_services"]["web"]},
    }
    root = render(tmp_path / "prefix", extra)
    assert "ROOT_PATH='/lab'\n" in (root / ".env").read_text()
    conf = (root / "conf.d" / "vmstack.conf").read_text()
    for server in conf.split("server {")[1:]:
        if "location /lab/ " not in server:
            continue
        metrics = server.split("location = /lab/metrics {", 1)[1].split("}", 1)[0]
        assert "deny all;" in metrics
        auth = server.split("location /lab/api/v1/auth/ {", 1)[1].split("}", 1)[0]
        assert "limit_req zone=vmstack_auth" in auth
        forms = server.split(r"location ~ ^/lab/(login|account/password)$ {", 1)[1]
        assert "limit_req zone=vmstack_form_auth" in forms.split("}", 1)[0]
        break
    else:
        pytest.fail("no server block routes /lab/ to the app")
    # Without the setting none of it is written: the golden files above are renders of
    # today's inventories, which do not set it.
