"""Run one of the repository's playbooks against an inventory, from the checkout."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from vmstack_testlib import REPO

# On the rig the controller shares the target's cores; in production it runs
# elsewhere. A lower CPU priority keeps its own work off the served requests.
CONTROLLER_NICE = ("nice", "-n", "10")


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def recap(self) -> str:
        """The text after the last PLAY RECAP (empty when the play never got there)."""
        parts = self.output.split("PLAY RECAP")
        return parts[-1] if len(parts) > 1 else ""


def run(
    playbook: str | Path,
    *extra: str,
    inventory: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 900,
    nice: bool = False,
    log_dir: Path | None = None,
) -> Run:
    """``ansible-playbook -i INVENTORY PLAYBOOK EXTRA...`` from the repository root.

    ``playbook`` is a path, or a name under playbooks/ (``deploy.yml``). The inventory
    defaults to Molecule's (MOLECULE_INVENTORY_FILE). With ``log_dir`` the whole output is
    also written there, one file per run."""
    path = Path(playbook)
    if not path.is_absolute():
        path = REPO / "playbooks" / path if len(path.parts) == 1 else REPO / path
    command = [
        *(CONTROLLER_NICE if nice else ()),
        "ansible-playbook",
        "-i",
        inventory or os.environ["MOLECULE_INVENTORY_FILE"],
        str(path),
        *extra,
    ]
    started = time.monotonic()
    done = subprocess.run(
        command,
        cwd=REPO,
        env=dict(os.environ, **(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    result = Run(done.returncode, done.stdout, done.stderr, time.monotonic() - started)
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        tag = "_".join(extra).replace("/", "_")[:120]
        log = log_dir / f"{time.strftime('%H%M%S')}-{path.name}-{tag}.log"
        log.write_text(result.output)
        print(f"\n{path.name} {' '.join(extra)}: exit {result.returncode}, output in {log}")
    return result
