#!/usr/bin/env python3
"""Steady load through nginx before, during and after a release; stdlib only.

Two ways to use it:

* ``bench/deploy_under_load`` (the driver, on the controller): logs in, prepares a
  device, runs the load in-process, starts ``playbooks/deploy.yml`` after a steady
  phase, keeps the load on until some seconds after the deploy, prints the report
  and exits non-zero if any request failed or the deploy failed.
* ``--load-only`` (what the Molecule ``release`` scenario runs inside the target):
  the load alone, until ``--stop-file`` appears; raw samples go to ``--out`` (JSON)
  and the caller cuts them into phases with its own deploy timestamps.

The mix: GET /api/v1/devices?limit=20 and authenticated POST /api/v1/bookings,
spread over ten devices, each booking on its own one-hour slot (never a 409).
Every request opens its own connection, like a fresh client; a connection error
or any non-2xx is a failure.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import ssl
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
# Prefix of the deploy command. On the rig the controller (ansible-playbook and
# its connection processes) shares the cores of the target it deploys to; in
# production it runs on another machine. A lower CPU priority keeps its own
# work from being counted against the target's serving capacity.
CONTROLLER_NICE = ("nice", "-n", "10")


class _ResumingHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS that offers an earlier TLS session, as a returning browser does."""

    def __init__(self, *args: object, offer: ssl.SSLSession | None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._offer = offer
        self.tls: ssl.SSLSocket | None = None

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.tls = self._context.wrap_socket(  # type: ignore[attr-defined]
            self.sock, server_hostname=self.host, session=self._offer
        )
        self.sock = self.tls


class Client:
    """One new connection per request (like a fresh client). Over HTTPS it offers
    the last TLS session it got (resumption, like a returning browser) unless
    ``tls_resume`` is off: then every request pays a full handshake."""

    def __init__(self, base_url: str, timeout: float = 10.0, tls_resume: bool = True) -> None:
        parts = urlsplit(base_url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if self.https else 80)
        self.timeout = timeout
        self.token: str | None = None
        self.tls_resume = tls_resume
        self.tls_session: ssl.SSLSession | None = None
        self.tls_resumed = 0
        self._ctx = ssl._create_unverified_context() if self.https else None  # noqa: S323 - self-signed test target

    def request(self, method: str, path: str, body: object | None = None) -> tuple[int, object]:
        tls: _ResumingHTTPSConnection | None = None
        if self.https:
            tls = _ResumingHTTPSConnection(
                self.host,
                self.port,
                timeout=self.timeout,
                context=self._ctx,
                offer=self.tls_session if self.tls_resume else None,
            )
            conn: http.client.HTTPConnection = tls
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        headers = {"Connection": "close"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            if tls is not None and tls.tls is not None:
                # (TLS 1.3 sends the session after the handshake: read it now,
                # while the socket is still open)
                if tls.tls.session_reused:
                    self.tls_resumed += 1
                elif self.tls_resume and tls.tls.session is not None:
                    self.tls_session = tls.tls.session
            raw = response.read()
            try:
                payload: object = json.loads(raw) if raw else None
            except ValueError:
                payload = raw.decode(errors="replace")
            return response.status, payload
        finally:
            conn.close()


def prepare(client: Client, email: str, password: str, devices: int = 10) -> list[int]:
    """Log in and create `devices` devices the bookings are spread over."""
    status, body = client.request(
        "POST", "/api/v1/auth/login", {"email": email, "password": password}
    )
    if status != 200 or not isinstance(body, dict):
        raise SystemExit(f"login as {email} failed: {status} {body}")
    client.token = body["access_token"]
    tag = uuid.uuid4().hex[:8]
    status, dtype = client.request("POST", "/api/v1/device-types", {"name": f"load-{tag}"})
    if status != 201 or not isinstance(dtype, dict):
        raise SystemExit(f"creating a device type failed: {status} {dtype}")
    ids = []
    for n in range(devices):
        status, device = client.request(
            "POST",
            "/api/v1/devices",
            {
                "name": f"Load rig {tag}-{n}",
                "device_type_id": dtype["id"],
                "serial": f"LOAD-{tag}-{n}",
            },
        )
        if status != 201 or not isinstance(device, dict):
            raise SystemExit(f"creating a device failed: {status} {device}")
        ids.append(int(device["id"]))
    return ids


class Load:
    """Issues requests at a fixed rate from a worker pool; records every one."""

    def __init__(
        self, client: Client, device_ids: list[int], rate: float, workers: int = 128
    ) -> None:
        self.client = client
        self.device_ids = device_ids
        self.rate = rate
        self.pool = ThreadPoolExecutor(max_workers=workers)
        self.samples: list[dict[str, object]] = []
        self.booking_ids: list[int] = []
        self._lock = threading.Lock()
        self._slot = 0
        # Far enough ahead, and offset per run, that slots never collide.
        self._base = datetime(2035, 1, 1, tzinfo=UTC) + timedelta(days=uuid.uuid4().int % 20000)

    def _one(self, kind: str, slot: int, scheduled: float) -> None:
        t0 = time.perf_counter()
        try:
            if kind == "get":
                status, body = self.client.request("GET", "/api/v1/devices?limit=20")
            else:
                # round-robin over the devices, each booking its own hour
                device_id = self.device_ids[slot % len(self.device_ids)]
                start = self._base + timedelta(hours=slot // len(self.device_ids))
                status, body = self.client.request(
                    "POST",
                    "/api/v1/bookings",
                    {
                        "device_id": device_id,
                        "start": start.isoformat(),
                        "end": (start + timedelta(minutes=59)).isoformat(),
                        "purpose": "deploy under load",
                    },
                )
            error = None if 200 <= status < 300 else f"HTTP {status}: {str(body)[:200]}"
            if kind == "post" and error is None and isinstance(body, dict):
                with self._lock:
                    self.booking_ids.append(int(body["id"]))
        except (OSError, http.client.HTTPException) as exc:
            status, error = 0, f"{type(exc).__name__}: {exc}"
        sample = {
            # when the request was due (phases), and how long it took once sent
            "t": scheduled,
            "latency": time.perf_counter() - t0,
            "kind": kind,
            "status": status,
            "error": error,
        }
        with self._lock:
            self.samples.append(sample)

    def run_until(self, stop: threading.Event, max_seconds: float = 900) -> None:
        interval = 1.0 / self.rate
        next_at = time.perf_counter()
        deadline = next_at + max_seconds
        i = 0
        while not stop.is_set() and time.perf_counter() < deadline:
            kind = "post" if i % 2 else "get"
            slot = self._slot
            if kind == "post":
                self._slot += 1
            self.pool.submit(self._one, kind, slot, time.time())
            i += 1
            next_at += interval
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        # Requests still queued when the load stops were never sent: they are
        # dropped, not counted (the report shows the rate actually achieved).
        self.pool.shutdown(wait=True, cancel_futures=True)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def summarize(samples: list[dict], start: float, end: float) -> dict[str, dict]:
    phases = {
        "steady": [s for s in samples if s["t"] < start],
        "during": [s for s in samples if start <= s["t"] <= end],
        "after": [s for s in samples if s["t"] > end],
    }
    out = {}
    for name, rows in phases.items():
        latencies = [float(s["latency"]) for s in rows]
        span = (max(s["t"] for s in rows) - min(s["t"] for s in rows)) if len(rows) > 1 else 0
        out[name] = {
            "requests": len(rows),
            "failed": sum(1 for s in rows if s["error"]),
            "rate": len(rows) / span if span else 0.0,
            "p50_ms": percentile(latencies, 0.50) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000,
        }
    return out


def report(samples: list[dict], start: float, end: float, deploy_rc: int | None) -> bool:
    phases = summarize(samples, start, end)
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
            f"p50 {percentile(latencies, 0.5) * 1000:6.1f} ms  n={len(latencies):<4} "
            f"{running[-1] if running else '(before the first task)'}"
        )


def vault_admin_password(inventory: str) -> str:
    env = inventory.rstrip("/").split("/")[-1]
    out = subprocess.run(
        [
            "ansible-vault",
            "view",
            "--vault-id",
            f"{env}@{REPO / 'vault-passwords' / (env + '.txt')}",
            str(Path(inventory) / "group_vars" / "all" / "vault.yml"),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for line in out.splitlines():
        if line.startswith("vault_app_admin_password:"):
            return line.split(":", 1)[1].strip().strip('"')
    raise SystemExit("vault_app_admin_password not found in the vault")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--base-url", default=os.environ.get("VMSTACK_BENCH_URL", "https://127.0.0.1:8443")
    )
    parser.add_argument(
        "--rate", type=float, default=100.0, help="requests per second (default 100)"
    )
    parser.add_argument("--email", default="admin@example.com")
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
    parser.add_argument("--stop-file", default="/tmp/vmstack-load.stop")  # noqa: S108 - test hosts only
    parser.add_argument("--out", help="--load-only: write samples and booking ids here (JSON)")
    parser.add_argument("--max-seconds", type=float, default=900)
    parser.add_argument(
        "--no-tls-resume",
        action="store_true",
        help="a full TLS handshake on every request (default: resume the session, like a browser)",
    )
    args = parser.parse_args()

    client = Client(args.base_url, tls_resume=not args.no_tls_resume)
    password = (
        args.password
        or os.environ.get("VMSTACK_ADMIN_PASSWORD")
        or vault_admin_password(args.inventory)
    )
    device_ids = prepare(client, args.email, password)
    # The load may run as another user (VMSTACK_LOAD_EMAIL / VMSTACK_LOAD_PASSWORD),
    # e.g. a member while the admin's own password rotates (which ends the admin's
    # sessions by design).
    load_email = os.environ.get("VMSTACK_LOAD_EMAIL")
    if load_email:
        status, body = client.request(
            "POST",
            "/api/v1/auth/login",
            {"email": load_email, "password": os.environ.get("VMSTACK_LOAD_PASSWORD", "")},
        )
        if status != 200 or not isinstance(body, dict):
            raise SystemExit(f"login as {load_email} failed: {status} {body}")
        client.token = body["access_token"]
    load = Load(client, device_ids, args.rate)
    stop = threading.Event()

    if args.load_only:
        stop_file = Path(args.stop_file)
        stop_file.unlink(missing_ok=True)
        watcher = threading.Thread(target=load.run_until, args=(stop, args.max_seconds))
        watcher.start()
        while watcher.is_alive() and not stop_file.exists():
            time.sleep(0.2)
        stop.set()
        watcher.join()
        result = {
            "samples": load.samples,
            "booking_ids": load.booking_ids,
            "device_ids": device_ids,
        }
        Path(args.out or "load.json").write_text(json.dumps(result))
        return 0

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
    start = time.time()
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
    ok = report(load.samples, start, end, deploy_rc)
    if client.https:
        print(
            f"TLS: {client.tls_resumed} of {len(load.samples)} connections resumed a session"
            + (" (--no-tls-resume)" if args.no_tls_resume else "")
        )
    spikes(load.samples, start, end, deploy_tasks(log))
    return 0 if ok and deploy_rc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
