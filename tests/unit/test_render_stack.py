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

# case -> extra vars over inventories/local (each golden directory was rendered with them)
GOLDEN_CASES: dict[str, dict] = {
    "local": {},
    "local-plain": {
        "nginx_tls_enabled": False,
        "stack_redis_enabled": False,
        "nginx_root_location": "landing",
        "stack_app_egress": True,
    },
}


def render(dest: Path, extra: dict) -> Path:
    run = subprocess.run(
        [
            "ansible-playbook",
            "-i",
            "inventories/local",
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
    out = files(render(tmp_path / case, GOLDEN_CASES[case]))
    golden = files(GOLDEN / case)
    assert sorted(out) == sorted(golden)
    for name, text in golden.items():
        assert out[name] == text, f"{case}/{name} differs from the golden file"
