"""The README's example inventory (a frontend at /, the embedded API at /api/,
PostgreSQL, Redis) renders and passes the nginx and stack preflight, on the controller."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from test_render_stack import render
from test_services_preflight import PULL, preflight

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "README.md"
# The example's one vault value the local inventory's vault does not have.
VAULT = {"vault_web_session_key": "doc-example-session-key-0123456789"}


def example() -> dict:
    text = DOC.read_text()
    block = re.search(
        r"<!-- services-example:start -->\n```yaml\n(.*?)```\n<!-- services-example:end -->",
        text,
        re.S,
    )
    assert block, "README.md lost its services example block"
    return yaml.safe_load(block.group(1))


def test_the_example_passes_the_preflight():
    run = preflight({**example(), **VAULT})
    assert run.returncode == 0, run.stdout[-3000:]


def test_the_example_renders_what_the_doc_says(tmp_path):
    out = render(tmp_path / "example", {**example(), **VAULT, **PULL})
    services = yaml.safe_load((out / "compose.yaml").read_text())["services"]
    assert {"web-blue", "web-green", "app-blue", "app-green", "db", "redis", "nginx"} <= set(
        services
    )
    https = (out / "conf.d" / "vmstack.conf").read_text().split("listen 443 ssl", 1)[1]
    assert "location / {\n        proxy_pass $vmstack_upstream_web;" in https
    assert "location /assets/ {\n        client_max_body_size 1m;" in https
    assert "location /api/ { proxy_pass $vmstack_upstream; }" in https
    assert "location /api/v1/auth/ {" in https
    assert "location = /version { proxy_pass $vmstack_upstream; }" in https
    assert VAULT["vault_web_session_key"] not in (out / "compose.yaml").read_text()
