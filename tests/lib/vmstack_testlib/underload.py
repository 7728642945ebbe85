"""Run an action (a deploy, a rollback, a converge) while the steady load runs inside
a Molecule instance, and judge the requests: the release story (test_release.py) and
the services story (test_services.py) of the ``default`` scenario share it.

The load is ``vmstack_testlib.load`` copied into the instance and run there against
nginx on loopback, so the requests never leave the target; it runs STEADY_S before the
action (steady), during it, and AFTER_S after it (after)."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from vmstack_testlib import REPO, load, playbooks

# The windows around the action: at 45-50 requests/s, 10 s give about 450 requests
# for the steady p50/p99 the phases are judged against, and 6 s after the action
# show that the new state serves (make test runs four such actions).
STEADY_S, AFTER_S = 10, 6

# Every playbook's whole output, one file per run.
LOGS = REPO / ".cache" / "release-scenario"


def playbook(name: str, *extra: str, timeout: int = 900) -> playbooks.Run:
    """Run a playbook at a lower CPU priority than the served requests; its whole
    output is also kept in .cache/release-scenario/."""
    return playbooks.run(
        name,
        *extra,
        # profile_tasks stamps every task with the play's elapsed time, so a failed
        # request can be matched to the deploy step that was running.
        env={"ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks"},
        timeout=timeout,
        # The controller shares this machine's cores with the target and the
        # load; in production it runs elsewhere. Let the served requests win.
        nice=True,
        log_dir=LOGS,
    )


def docker(*args: str, check: bool = True) -> str:
    """``docker ARGS`` on the controller (the instance itself is a container)."""
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if check:
        assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def inner(instance: str, *args: str) -> str:
    """``docker ARGS`` inside the instance (the stack's own engine)."""
    return docker("exec", instance, "docker", *args)


@dataclass
class Outcome:
    """One action under load: the load's phases, every sample, and what the action returned."""

    phases: dict[str, dict]
    samples: list[dict]
    booking_ids: list[int]
    outcome: object
    start: float
    end: float
    by_kind: dict[str, dict] = field(default_factory=dict)

    @property
    def failures(self) -> list[dict]:
        return [s for s in self.samples if s["error"]]

    def of(self, kind: str) -> list[dict]:
        return [s for s in self.samples if s["kind"] == kind]


def run(
    instance: str,
    tag: str,
    password: str,
    action: Callable[[], object],
    rate: int,
    member: tuple[str, str] | None = None,
    also_get: tuple[str, ...] = (),
) -> Outcome:
    """Start the load inside `instance`, run action(), stop the load, summarize it.
    With `member` (email, password) the load runs as that user; `also_get` adds GETs
    of those paths to every round of the load."""
    docker("cp", load.__file__, f"{instance}:/root/vmstack-load.py")
    out, stop = f"/root/load-{tag}.json", f"/root/stop-{tag}"
    docker("exec", instance, "rm", "-f", out, stop)
    docker(
        "exec",
        "-d",
        "-e",
        f"VMSTACK_ADMIN_PASSWORD={password}",
        *(
            ["-e", f"VMSTACK_LOAD_EMAIL={member[0]}", "-e", f"VMSTACK_LOAD_PASSWORD={member[1]}"]
            if member
            else []
        ),
        instance,
        "python3",
        "/root/vmstack-load.py",
        "--base-url",
        "https://127.0.0.1",
        "--rate",
        str(rate),
        "--out",
        out,
        "--stop-file",
        stop,
        *(word for path in also_get for word in ("--also-get", path)),
    )
    time.sleep(STEADY_S)
    start = time.time()
    outcome = action()
    end = time.time()
    time.sleep(AFTER_S)
    docker("exec", instance, "touch", stop)
    for _ in range(240):
        done = subprocess.run(["docker", "exec", instance, "test", "-s", out], check=False)
        if done.returncode == 0:
            break
        time.sleep(1)
    result = json.loads(docker("exec", instance, "cat", out))
    samples = result["samples"]
    phases = load.summarize(samples, start, end)
    print(f"\n[{tag}] action took {end - start:.1f} s")
    for name, row in phases.items():
        print(f"[{tag}] {name}: {row}")
    by_kind = {}
    for kind in sorted({s["kind"] for s in samples}):
        by_kind[kind] = load.summarize([s for s in samples if s["kind"] == kind], start, end)
        print(f"[{tag}] {kind} during: {by_kind[kind]['during']}")
    _print_slow_steps(tag, samples, phases, outcome, start, end)
    return Outcome(phases, samples, result["booking_ids"], outcome, start, end, by_kind)


def _print_slow_steps(tag: str, samples: list[dict], phases: dict, outcome, start, end) -> None:
    """Where the p99 goes during the action: the requests slower than 3x the steady p99,
    counted by the playbook step that was running when each was due (profile_tasks'
    stamps), slowest steps first. Printed only; the tests assert on failures."""
    if not isinstance(outcome, playbooks.Run) or not phases["steady"]["requests"]:
        return
    limit = 3 * phases["steady"]["p99_ms"] / 1000
    starts = task_starts(outcome.stdout)  # parsed once, asked for every slow request
    slow: dict[str, list[float]] = {}
    for sample in samples:
        if start <= sample["t"] <= end and float(sample["latency"]) > limit:
            step = step_at(starts, sample["t"] - start)
            slow.setdefault(step, []).append(float(sample["latency"]))
    ranked = sorted(slow.items(), key=lambda item: -max(item[1]))
    for step, latencies in ranked[:8]:
        print(
            f"[{tag}] slower than {limit * 1000:.0f} ms: {len(latencies)} requests "
            f"(max {max(latencies) * 1000:.0f} ms) while '{step}'"
        )


_TASK = re.compile(
    r"^TASK \[(?P<name>.*)\] \*+\s*\n.*\s(?P<h>\d+):(?P<m>\d\d):(?P<s>\d\d\.\d+) \*+\s*$", re.M
)


def task_starts(output: str) -> list[tuple[float, str]]:
    """(seconds after the play began, task name) of every task, from profile_tasks'
    stamps, in the order they ran."""
    return [
        (int(match["h"]) * 3600 + int(match["m"]) * 60 + float(match["s"]), match["name"])
        for match in _TASK.finditer(output)
    ]


def step_at(output: str | list[tuple[float, str]], offset: float) -> str:
    """The playbook task that was running `offset` seconds after the action started.
    `output` is the playbook's output, or its task_starts() when asked many times."""
    starts = task_starts(output) if isinstance(output, str) else output
    step = "before the first task"
    for begun, name in starts:
        if begun > offset:
            break
        step = name
    return step


def assert_no_failed_requests(run_: Outcome) -> None:
    """Every request of the load was answered 2xx; otherwise say how many failed, how,
    and which playbook step was running at the first and the last failure."""
    failures = run_.failures
    if not failures:
        return
    output = run_.outcome.stdout if isinstance(run_.outcome, playbooks.Run) else ""
    first = min(s["t"] for s in failures) - run_.start
    last = max(s["t"] for s in failures) - run_.start
    kinds = Counter(f"{s['kind']} {str(s['error'])[:80]}" for s in failures)
    raise AssertionError(
        f"{len(failures)} of {len(run_.samples)} requests failed: {dict(kinds)}; "
        f"first at {first:+.1f} s ({step_at(output, first)}), "
        f"last at {last:+.1f} s ({step_at(output, last)}) from the action's start"
    )


__all__ = [
    "LOGS",
    "Outcome",
    "assert_no_failed_requests",
    "docker",
    "inner",
    "playbook",
    "run",
    "step_at",
]
