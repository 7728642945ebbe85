"""The app's release fingerprint reads sha256sum's output through sha256sum_checksums;
it must give exactly what a stat per file gave (missing file: "")."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "collections"))

from ansible_collections.vmstack.deploy.plugins.filter.checksums import (  # noqa: E402
    sha256sum_checksums,
)


def test_checksums_come_back_in_the_order_asked_and_missing_files_are_empty(tmp_path):
    (tmp_path / "secrets").mkdir()
    files = {"compose.yaml": b"services: {}\n", ".env": b"A=1\n", "secrets/key": b"s3cret"}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    names = ["secrets/key", "missing", "compose.yaml", ".env"]
    run = subprocess.run(
        ["sha256sum", "--", *names], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert run.returncode == 1  # the missing file
    want = [hashlib.sha256(files[n]).hexdigest() if n in files else "" for n in names]
    assert sha256sum_checksums(run.stdout, names) == want


def test_binary_mode_lines_and_noise_are_read_correctly():
    digest = "a" * 64
    out = (
        f"{digest} *compose.yaml\nsha256sum: x: No such file or directory\n\\{digest}  odd\\nname\n"
    )
    assert sha256sum_checksums(out, ["compose.yaml", "x"]) == [digest, ""]
