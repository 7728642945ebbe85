"""The web UI of the converged host in Debian's chromium on the controller, through nginx.

The browser runs inside the instance's network namespace (nsenter -n, as test_audit.py does
for the auditors), so https://127.0.0.1 is the instance's nginx and nothing is published.
The flows live in app/tests/browser/deployed (Playwright, /usr/bin/chromium)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PROJECT = "/opt/vmstack"
CHROMIUM = "/usr/bin/chromium"


def _instance_pid(host) -> str:
    name = host.ansible.get_variables()["inventory_hostname"]
    pid = subprocess.run(
        ["docker", "inspect", "-f", "{{.State.Pid}}", name],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert pid.isdigit(), f"instance {name}: no pid ({pid!r})"
    assert pid != "0", f"instance {name} is not running"
    return pid


def test_the_ui_books_a_device_and_infra_shows_the_live_release(host, vault):
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} is missing on the controller: make setup installs chromium")
    release = json.loads(host.file(f"{PROJECT}/release.json").content_string)
    env = {
        **os.environ,
        "VMSTACK_UI_URL": "https://127.0.0.1",
        "VMSTACK_UI_ADMIN_EMAIL": "admin@example.com",
        "VMSTACK_UI_ADMIN_PASSWORD": vault["vault_app_admin_password"],
        "VMSTACK_UI_EXPECT_VERSION": release["version"],
        "VMSTACK_UI_SCREENSHOTS": str(REPO / ".cache" / "ui"),
    }
    result = subprocess.run(
        [
            "nsenter",
            "-t",
            _instance_pid(host),
            "-n",
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=-ra --strict-markers",
            "tests/browser/deployed",
        ],
        cwd=REPO / "app",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert vault["vault_app_admin_password"] not in output
    assert result.returncode == 0, output[-4000:]
    assert "2 passed" in output, output[-2000:]
