#!/usr/bin/env python3
"""Steady load through nginx before, during and after a release; stdlib only.

Two ways to use it:

* ``bench/deploy_under_load`` (the driver, on the controller): logs in, prepares a
  device, runs the load in-process, starts ``playbooks/deploy.yml`` after a steady
  phase, keeps the load on until some seconds after the deploy, prints the report
  and exits non-zero if any request failed or the deploy failed.
* ``--load-only``: the load alone, until ``--stop-file`` appears; raw samples go to
  ``--out`` (JSON). The Molecule ``default`` scenario's release story runs the same
  load inside the target straight from ``tests/lib/vmstack_testlib/load.py``.

The load generator and the vault reader come from the shared test helpers
(``vmstack_testlib``, under tests/lib; the ``bench/deploy_under_load`` wrapper puts it
on PYTHONPATH).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from vmstack_testlib import REPO, vault
from vmstack_testlib import load as loadgen
from vmstack_testlib.playbooks import CONTROLLER_NICE


def report(samples: list[dict], start: float, end: float, deploy_rc: int | None) -> bool:
    phases = loadgen.summarize(samples, start, end)
    failures = [s for s in samples if s["error"]]
    print(f"\n{'phase':<8} {'requests':>9} {'failed':>7} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8}")
    for name, row in phases.items():
        print(
            f"{name:<8} {row['requests']:>9} {row['failed']:>7} {row['rate']:>7.1f} "
            f"{row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f}"
        )
    total = len(samples)
    print(f"\ntotal requests: {total}, failed (non-2xx or connection error): {len(failures)}")
    for sample in failures[:10]:
        when = datetime.fromtimestamp(sample["t"], UTC).isoformat()
        print(f"  {when} {sample['kind']} {sample['error']}")
    print(
        f"deploy duration: {end - start:.1f} s"
        + ("" if deploy_rc is None else f" (exit {deploy_rc})")
    )
    steady, during = phases["steady"]["p99_ms"], phases["during"]["p99_ms"]
    if steady == steady and during == during and steady > 0:  # not NaN
        print(f"p99 during / steady: {during / steady:.2f}x (goal <= 3x)")
    return not failures


_TASK = re.compile(r"^TASK \[(.+?)\] \*+$")
# profile_tasks' line under each TASK header, e.g. "Monday 23 November 2026  18:05:12 +0000 (...)"
_STAMP = re.compile(r"^\w+ \d{1,2} \w+ \d{4}\s+(\d\d:\d\d:\d\d) ([+-]\d{4})")


def deploy_tasks(log: Path) -> list[tuple[float, str]]:
    """(start time, task name) of every task in a deploy log written with profile_tasks."""
    tasks: list[tuple[float, str]] = []
    pending: str | None = None
    for line in log.read_text(errors="replace").splitlines():
        header = _TASK.match(line)
        if header:
            pending = header.group(1)
            continue
        stamp = _STAMP.match(line)
        if stamp and pending is not None:
            day = line.split()[1:4]
            when = datetime.strptime(
                f"{' '.join(day)} {stamp.group(1)} {stamp.group(2)}", "%d %B %Y %H:%M:%S %z"
            )
            tasks.append((when.timestamp(), pending))
            pending = None
    return tasks


def spikes(samples: list[dict], start: float, end: float, tasks: list[tuple[float, str]]) -> None:
    """The slowest seconds of the deploy and the task that was running then."""
    buckets: dict[int, list[float]] = {}
    for sample in samples:
        if start <= sample["t"] <= end:
            buckets.setdefault(int(sample["t"]), []).append(float(sample["latency"]))
    worst = sorted(buckets.items(), key=lambda item: -max(item[1]))[:8]
    if not worst:
        return
    print("\nslowest seconds of the deploy (max latency; the task running then):")
    for second, latencies in sorted(worst):
        running = [name for at, name in tasks if at <= second + 1]
        when = datetime.fromtimestamp(second, UTC).strftime("%H:%M:%S")
        print(
            f"  {when} +{second - start:5.1f} s  max {max(latencies) * 1000:7.1f} ms "
            f"p50 {loadgen.percentile(latencies, 0.5) * 1000:6.1f} ms  n={len(latencies):<4} "
            f"{running[-1] if running else '(before the first task)'}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    loadgen.add_arguments(parser)
    parser.add_argument("--password", help="admin password (default: from the inventory's vault)")
    parser.add_argument("--inventory", default="inventories/local")
    parser.add_argument("--version", default="0.2.0", help="app_version to deploy")
    parser.add_argument(
        "--steady", type=float, default=20.0, help="seconds of load before the deploy"
    )
    parser.add_argument(
        "--after", type=float, default=15.0, help="seconds of load after the deploy"
    )
    parser.add_argument(
        "--deploy-arg", action="append", default=[], help="extra ansible-playbook argument"
    )
    parser.add_argument(
        "--load-only", action="store_true", help="only the load, until --stop-file exists"
    )
    args = parser.parse_args()

    password = (
        args.password
        or os.environ.get("VMSTACK_ADMIN_PASSWORD")
        or vault.admin_password(args.inventory)
    )
    if args.load_only:
        return loadgen.until_stop_file(args, password)

    client = loadgen.Client(args.base_url, tls_resume=not args.no_tls_resume)
    load, _ = loadgen.start(client, args.email, password, args.rate)
    stop = threading.Event()
    runner = threading.Thread(target=load.run_until, args=(stop, args.max_seconds))
    runner.start()
    print(f"load: {args.rate:.0f} req/s against {args.base_url}; steady for {args.steady:.0f} s")
    time.sleep(args.steady)
    command = [
        *CONTROLLER_NICE,
        "ansible-playbook",
        "-i",
        args.inventory,
        str(REPO / "playbooks" / "deploy.yml"),
        "-e",
        f"app_version={args.version}",
        *args.deploy_arg,
    ]
    print("deploy: " + " ".join(command))
    began = time.time()
    log = REPO / ".cache" / "bench-deploy.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    # profile_tasks stamps every task, so the report can name what ran during a spike.
    env = {**os.environ, "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks"}
    with log.open("w") as handle:
        deploy_rc = subprocess.run(
            command, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT, check=False, env=env
        ).returncode
    end = time.time()
    print(f"deploy finished (exit {deploy_rc}, log {log}); load continues {args.after:.0f} s")
    time.sleep(args.after)
    stop.set()
    runner.join()
    ok = report(load.samples, began, end, deploy_rc)
    if client.https:
        print(
            f"TLS: {client.tls_resumed} of {len(load.samples)} connections resumed a session"
            + (" (--no-tls-resume)" if args.no_tls_resume else "")
        )
    spikes(load.samples, began, end, deploy_tasks(log))
    return 0 if ok and deploy_rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
