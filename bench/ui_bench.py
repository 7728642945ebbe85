"""Web UI bench (run by bench/ui): seed 500 devices and a busy device, start ONE uvicorn worker,
time the pages, report server-side p50/p99 from the access log and the JS+CSS bytes shipped."""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from app.bookings.models import Booking
from app.core.db import Database
from app.core.security import hash_password
from app.devices.models import Device, DeviceType
from app.users.models import User
from sqlalchemy import text

from app import migrations

DEVICES = 500
HOLDERS = 20
TARGET_P99_MS = 100.0
TARGET_ASSET_BYTES = 100 * 1024


def seed(url: str, admin_email: str, admin_password: str) -> tuple[int, str, int]:
    """Fresh schema; 500 devices; one device booked every 2 h around the clock for 8 weeks.
    Returns (busy device id, Monday of the busiest week, bookings in that week)."""
    db = Database(url)
    if not url.startswith("sqlite"):
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    migrations.upgrade(url)
    monday = (datetime.now(UTC) + timedelta(days=7)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    monday -= timedelta(days=monday.weekday())
    with db.session_factory.begin() as session:
        session.add(
            User(
                email=admin_email,
                full_name="Bench admin",
                password_hash=hash_password(admin_password),
                role="admin",
                is_active=True,
            )
        )
        holders = [
            User(
                email=f"holder{n}@bench.test",
                full_name=f"Holder {n:02d}",
                password_hash="!",  # noqa: S106 - not a hash: holders never sign in
                role="member",
                is_active=True,
            )
            for n in range(HOLDERS)
        ]
        session.add_all(holders)
        types = [DeviceType(name=f"Type {n}") for n in range(10)]
        session.add_all(types)
        session.flush()
        devices = [
            Device(
                name=f"Device {n:03d}",
                device_type_id=types[n % 10].id,
                serial=f"BENCH-{n:05d}",
                location=f"Lab {n % 5}",
                status="available",
            )
            for n in range(DEVICES)
        ]
        session.add_all(devices)
        session.flush()
        busy = devices[0]
        start = monday - timedelta(weeks=4)
        for n in range(8 * 7 * 12):  # every 2 hours, 1.5 h long, 8 weeks
            slot = start + timedelta(hours=2 * n)
            session.add(
                Booking(
                    device_id=busy.id,
                    user_id=holders[n % HOLDERS].id,
                    start_at=slot,
                    end_at=slot + timedelta(minutes=90),
                    purpose="bench",
                    status="active",
                )
            )
        busy_id = busy.id
    db.dispose()
    return busy_id, monday.date().isoformat(), 7 * 12


def sign_in(client: httpx.Client, email: str, password: str) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, "no CSRF field on /login"
    r = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token.group(1)}
    )
    assert r.status_code == 303, f"sign-in failed: {r.status_code}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def assets(client: httpx.Client, paths: list[str]) -> tuple[dict[str, tuple[int, int]], int]:
    """Every script and stylesheet the pages reference: raw and gzip bytes."""
    found: dict[str, tuple[int, int]] = {}
    for path in paths:
        html = client.get(path).text
        refs = re.findall(r'<script[^>]*\ssrc="([^"]+)"', html) + re.findall(
            r'<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"', html
        )
        for ref in refs:
            if ref not in found:
                body = client.get(ref).content
                found[ref] = (len(body), len(gzip.compress(body, 6)))
    return found, sum(raw for raw, _ in found.values())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--requests", type=int, default=int(os.environ.get("BENCH_UI_REQUESTS", "300"))
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_UI_PORT", "18901")))
    args = parser.parse_args()
    url = os.environ["BENCH_UI_DATABASE_URL"]
    admin_email, admin_password = "bench-ui@bench.test", secrets.token_urlsafe(16)
    busy_id, week, week_bookings = seed(url, admin_email, admin_password)

    log = Path(tempfile.mkstemp(prefix="vmstack-bench-ui.", suffix=".log")[1])
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "ENVIRONMENT": "production",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "LOG_LEVEL": "INFO",
        "LOGIN_RATE_LIMIT": "1000/minute",
        "RELEASE_ID": "bench-ui",
    }
    env.pop("SECRETS_DIR", None)
    base = f"http://127.0.0.1:{args.port}"
    with log.open("wb") as out:
        server = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "app",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(args.port),
                "--workers",
                "1",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        client = httpx.Client(base_url=base, timeout=10)
        sign_in(client, admin_email, admin_password)
        pages = {
            "device list (500 devices, page 1 of 10)": "/devices",
            "device search (?q=device 4)": "/devices?q=device+4",
            f"week view ({week_bookings} bookings)": f"/devices/{busy_id}?week={week}",
        }
        client_ms: dict[str, list[float]] = {}
        for index, (label, path) in enumerate(pages.items()):
            for _ in range(20):  # warm-up: connections, pool, template cache
                client.get(path)
            marks = []
            for n in range(args.requests):
                t0 = time.perf_counter()
                r = client.get(path, headers={"X-Request-ID": f"bench-ui-{index}-{n}"})
                marks.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, (path, r.status_code)
            client_ms[label] = marks
            assert "Holder" in client.get(f"/devices/{busy_id}?week={week}").text
        found, total = assets(client, ["/login", "/devices", f"/devices/{busy_id}"])
        docs, docs_total = assets(client, ["/api/docs"])
        client.close()
    finally:
        server.terminate()
        server.wait(timeout=20)

    # Server time per page from the access log, matched by the request ids sent above.
    durations: dict[int, list[float]] = {}
    for line in log.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        match = re.fullmatch(r"bench-ui-(\d+)-\d+", str(rec.get("request_id", "")))
        if rec.get("message") == "request" and match:
            durations.setdefault(int(match.group(1)), []).append(float(rec["duration_ms"]))
    print(
        f"vmstack web UI bench - {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, 1 uvicorn worker, "
        f"{'PostgreSQL' if not url.startswith('sqlite') else 'SQLite'}, "
        f"{args.requests} sequential requests per page, load before: "
        f"{Path('/proc/loadavg').read_text().split()[0]}"
    )
    failed = False
    for index, label in enumerate(pages):
        server = durations.get(index, [])
        assert len(server) == args.requests, f"{label}: {len(server)} log lines"
        p50, p99 = statistics.median(server), percentile(server, 99)
        c99 = percentile(client_ms[label], 99)
        verdict = "ok" if p99 < TARGET_P99_MS else "OVER TARGET"
        failed |= p99 >= TARGET_P99_MS
        print(
            f"  {label:42s} server p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  "
            f"(client p99 {c99:6.1f} ms)  target p99 < {TARGET_P99_MS:.0f} ms: {verdict}"
        )
    print("  JS+CSS shipped by the UI pages (/login, /devices, /devices/{id}):")
    for ref, (raw, gz) in sorted(found.items()):
        print(f"    {ref.split('?')[0]:48s} {raw:8d} B  ({gz:7d} B gzip)")
    gz_total = sum(g for _, g in found.values())
    verdict = "ok" if total < TARGET_ASSET_BYTES else "OVER TARGET"
    failed |= total >= TARGET_ASSET_BYTES
    print(
        f"    total {total} B = {total / 1024:.1f} KiB ({gz_total / 1024:.1f} KiB gzip); "
        f"target < 100 KiB: {verdict}"
    )
    print(
        f"  /api/docs only (Swagger UI, not part of the UI pages): {docs_total / 1024:.0f} KiB "
        f"({sum(g for _, g in docs.values()) / 1024:.0f} KiB gzip)"
    )
    log.unlink()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
