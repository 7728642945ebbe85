#!/usr/bin/env python3
"""The steady load generator of vmstack's tests and benchmarks; stdlib only.

The mix: GET /api/v1/devices?limit=20 and authenticated POST /api/v1/bookings,
spread over ten devices, each booking on its own one-hour slot (never a 409).
With ``--also-get PATH`` (repeatable) GETs of those paths join the round (e.g. another
service's route behind the same nginx): get, post, PATH..., get, post, PATH...
Every request opens its own connection, like a fresh client; a connection error
or any non-2xx is a failure.

Imported by bench/deploy_under_load.py and bench/edge.py (as ``vmstack_testlib.load``).
It imports nothing outside the standard library, so the release story (Molecule
``default`` scenario, test_release.py) copies this one file into the target and runs
it there on its own:

    python3 load.py --base-url https://127.0.0.1 --rate 50 --out samples.json \
        --stop-file /root/stop

logs in (VMSTACK_ADMIN_PASSWORD, or --password), creates the devices, keeps the load
on until the stop file appears and writes the raw samples and booking ids as JSON.
VMSTACK_LOAD_EMAIL / VMSTACK_LOAD_PASSWORD run the load as another user.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import ssl
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit


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
    return create_devices(client, devices, "load", "Load rig", "LOAD")


def create_devices(
    client: Client, count: int, type_prefix: str, name_prefix: str, serial_prefix: str
) -> list[int]:
    """Create one device type and `count` devices of it (names and serials unique per call)."""
    tag = uuid.uuid4().hex[:8]
    status, dtype = client.request("POST", "/api/v1/device-types", {"name": f"{type_prefix}-{tag}"})
    if status != 201 or not isinstance(dtype, dict):
        raise SystemExit(f"creating a device type failed: {status} {dtype}")
    ids = []
    for n in range(count):
        status, device = client.request(
            "POST",
            "/api/v1/devices",
            {
                "name": f"{name_prefix} {tag}-{n}",
                "device_type_id": dtype["id"],
                "serial": f"{serial_prefix}-{tag}-{n}",
            },
        )
        if status != 201 or not isinstance(device, dict):
            raise SystemExit(f"creating a device failed: {status} {device}")
        ids.append(int(device["id"]))
    return ids


class Load:
    """Issues requests at a fixed rate from a worker pool; records every one."""

    def __init__(
        self,
        client: Client,
        device_ids: list[int],
        rate: float,
        workers: int = 128,
        also_get: tuple[str, ...] = (),
    ) -> None:
        self.client = client
        self.device_ids = device_ids
        self.rate = rate
        # one round: the app's GET and POST, then a GET of each extra path
        self.kinds = ("get", "post", *(f"get {path}" for path in also_get))
        self.pool = ThreadPoolExecutor(max_workers=workers)
        self.samples: list[dict[str, object]] = []
        self.booking_ids: list[int] = []
        self._lock = threading.Lock()
        self._slot = 0
        # Far enough ahead, and offset per run, that slots never collide.
        self._base = datetime(2035, 1, 1, tzinfo=UTC) + timedelta(days=uuid.uuid4().int % 20000)

    def _one(self, kind: str, slot: int, scheduled: float) -> None:
        t0 = time.perf_counter()
        served = None
        try:
            if kind == "get":
                status, body = self.client.request("GET", "/api/v1/devices?limit=20")
            elif kind.startswith("get "):
                status, body = self.client.request("GET", kind[4:])
                if isinstance(body, dict):
                    served = body.get("version")
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
        if served is not None:
            sample["served"] = served  # the release that answered (an extra path's JSON "version")
        with self._lock:
            self.samples.append(sample)

    def run_until(self, stop: threading.Event, max_seconds: float = 900) -> None:
        interval = 1.0 / self.rate
        next_at = time.perf_counter()
        deadline = next_at + max_seconds
        i = 0
        while not stop.is_set() and time.perf_counter() < deadline:
            kind = self.kinds[i % len(self.kinds)]
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The load's own options (shared with bench/deploy_under_load.py)."""
    parser.add_argument(
        "--base-url", default=os.environ.get("VMSTACK_BENCH_URL", "https://127.0.0.1:8443")
    )
    parser.add_argument(
        "--rate", type=float, default=100.0, help="requests per second (default 100)"
    )
    parser.add_argument("--email", default="admin@example.com")
    parser.add_argument("--stop-file", default="/tmp/vmstack-load.stop")  # noqa: S108 - test hosts only
    parser.add_argument("--out", help="write samples and booking ids here (JSON)")
    parser.add_argument("--max-seconds", type=float, default=900)
    parser.add_argument(
        "--also-get",
        action="append",
        default=[],
        metavar="PATH",
        help="also GET this path in every round (repeatable); a 2xx counts as served",
    )
    parser.add_argument(
        "--no-tls-resume",
        action="store_true",
        help="a full TLS handshake on every request (default: resume the session, like a browser)",
    )


def start(
    client: Client, email: str, password: str, rate: float, also_get: tuple[str, ...] = ()
) -> tuple[Load, list[int]]:
    """Log in, create the devices and, with VMSTACK_LOAD_EMAIL set, log in as that user
    for the load (e.g. a member while the admin's own password rotates, which ends the
    admin's sessions by design)."""
    device_ids = prepare(client, email, password)
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
    return Load(client, device_ids, rate, also_get=also_get), device_ids


def until_stop_file(args: argparse.Namespace, password: str) -> int:
    """The load alone, until --stop-file exists; raw samples go to --out (JSON)."""
    client = Client(args.base_url, tls_resume=not args.no_tls_resume)
    load, device_ids = start(client, args.email, password, args.rate, tuple(args.also_get))
    stop = threading.Event()
    stop_file = Path(args.stop_file)
    stop_file.unlink(missing_ok=True)
    worker = threading.Thread(target=load.run_until, args=(stop, args.max_seconds))
    worker.start()
    while worker.is_alive() and not stop_file.exists():
        time.sleep(0.2)
    stop.set()
    worker.join()
    result = {"samples": load.samples, "booking_ids": load.booking_ids, "device_ids": device_ids}
    Path(args.out or "load.json").write_text(json.dumps(result))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    parser.add_argument("--password", help="default: VMSTACK_ADMIN_PASSWORD")
    args = parser.parse_args()
    password = args.password or os.environ.get("VMSTACK_ADMIN_PASSWORD")
    if not password:
        raise SystemExit("give --password or VMSTACK_ADMIN_PASSWORD")
    return until_stop_file(args, password)


if __name__ == "__main__":
    sys.exit(main())
