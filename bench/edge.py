#!/usr/bin/env python3
"""What nginx costs: the same load through nginx (HTTP, HTTPS) and straight to the app.

Runs against the demo target (``make demo`` first). The load generator (``wrk``,
installed from Debian inside the target when missing) runs inside the target and
reaches both nginx and the live app container at their container addresses, so
both paths are measured the same way (no published-port proxy in either).

Per endpoint the targets alternate (nginx HTTP, nginx HTTPS, direct, then the
next round in a rotated order), ``--rounds`` times ``--duration`` seconds each;
the report shows the median of the rounds and the ratio nginx / direct of
requests per second. Endpoints:

* ``GET /healthz`` with 16 connections (no database);
* ``GET /api/v1/devices?limit=50`` with a bearer token, 8 connections (the
  bench makes sure 50 devices exist, and checks the answer holds 50).

Exits 1 when a request failed (non-2xx, socket error) or a ratio misses its goal.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from vmstack_testlib import REPO, vault
from vmstack_testlib.load import Client, create_devices

LUA = "/root/.vmstack-bench-edge.lua"  # in the target, mode 0600, removed afterwards


def sh(instance: str, *argv: str, stdin: str | None = None, check: bool = True) -> str:
    """Run a command inside the target; argv never carries a secret."""
    result = subprocess.run(
        ["docker", "exec", "-i", instance, *argv],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and result.returncode != 0:
        raise SystemExit(f"in {instance}: {' '.join(argv)} failed: {result.stderr.strip()}")
    return result.stdout


def ensure_wrk(instance: str) -> None:
    if sh(instance, "sh", "-c", "command -v wrk || true").strip():
        return
    print(f"installing wrk inside {instance} (Debian package)")
    sh(
        instance,
        "sh",
        "-c",
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive "
        "apt-get install -y -qq wrk >/dev/null",
    )


def container_addresses(instance: str, project: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """Live slot, and for nginx and the app: container id and the address on a
    network they share."""
    release = json.loads(sh(instance, "cat", f"/opt/{project}/release.json"))
    slot = release["active"]
    found: dict[str, dict[str, str]] = {}
    ids: dict[str, str] = {}
    for service in ("nginx", f"app-{slot}"):
        cid = sh(
            instance,
            "docker",
            "ps",
            "--quiet",
            "--filter",
            f"label=com.docker.compose.project={project}",
            "--filter",
            f"label=com.docker.compose.service={service}",
            "--filter",
            "status=running",
        ).split()
        if not cid:
            raise SystemExit(f"no running {service} container in {instance}")
        ids[service] = cid[0]
        networks = json.loads(
            sh(
                instance,
                "docker",
                "inspect",
                "--format",
                "{{json .NetworkSettings.Networks}}",
                cid[0],
            )
        )
        found[service] = {
            name: net["IPAddress"] for name, net in networks.items() if net["IPAddress"]
        }
    shared = sorted(set(found["nginx"]) & set(found[f"app-{slot}"]))
    if not shared:
        raise SystemExit(f"nginx and app-{slot} share no network: {found}")
    # Prefer the edge network (nginx <-> app) when the stack has one.
    network = next((n for n in shared if n.endswith("_edge")), shared[0])
    return (
        slot,
        {"id": ids["nginx"], "ip": found["nginx"][network]},
        {"id": ids[f"app-{slot}"], "ip": found[f"app-{slot}"][network]},
    )


def cpu_ns(instance: str, cid: str) -> int:
    """CPU time a container has used so far (its cgroup, v1 or v2), in ns."""
    out = sh(
        instance,
        "docker",
        "exec",
        cid,
        "sh",
        "-c",
        "cat /sys/fs/cgroup/cpuacct/cpuacct.usage 2>/dev/null"
        " || awk '/^usage_usec/ {print $2 * 1000}' /sys/fs/cgroup/cpu.stat",
    )
    return int(float(out.strip()))


def prepare_devices(client: Client, password: str, wanted: int) -> str:
    status, body = client.request(
        "POST", "/api/v1/auth/login", {"email": "admin@example.com", "password": password}
    )
    if status != 200 or not isinstance(body, dict):
        raise SystemExit(f"login failed: {status} {body}")
    client.token = body["access_token"]
    status, page = client.request("GET", "/api/v1/devices?limit=1")
    if status != 200 or not isinstance(page, dict):
        raise SystemExit(f"listing devices failed: {status} {page}")
    missing = wanted - int(page["total"])
    if missing > 0:
        create_devices(client, missing, "bench", "Bench", "B")
        print(f"created {missing} devices (the list endpoint needs {wanted})")
    status, page = client.request("GET", f"/api/v1/devices?limit={wanted}")
    if status != 200 or not isinstance(page, dict) or len(page["items"]) != wanted:
        raise SystemExit(f"the list does not hold {wanted} devices: {status}")
    return client.token


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * _UNITS[unit]


def parse_wrk(out: str) -> dict[str, float]:
    def grab(pattern: str) -> str:
        match = re.search(pattern, out)
        if not match:
            raise SystemExit(f"unexpected wrk output:\n{out}")
        return match.group(1)

    requests = int(grab(r"(\d+) requests in"))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": float(grab(r"Requests/sec:\s+([\d.]+)")),
        "p50_ms": _ms(grab(r"\n\s+50%\s+(\S+)")),
        "p99_ms": _ms(grab(r"\n\s+99%\s+(\S+)")),
        "requests": requests,
        "failed": (int(non2xx.group(1)) if non2xx else 0)
        + (sum(int(x) for x in sock.groups()) if sock else 0),
    }


def run_wrk(
    instance: str, url: str, connections: int, seconds: int, auth: bool
) -> dict[str, float]:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if auth:
        argv[1:1] = ["-s", LUA]
    return parse_wrk(sh(instance, *argv))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instance", default="vmstack-demo", help="the demo target's container")
    parser.add_argument("--project", default="vmstack", help="compose project on the target")
    parser.add_argument("--base-url", default="https://127.0.0.1:8443", help="to prepare data")
    parser.add_argument("--inventory", default="inventories/local")
    parser.add_argument("--duration", type=int, default=8, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements per target")
    parser.add_argument("--goal-healthz", type=float, default=0.90)
    parser.add_argument("--goal-list", type=float, default=0.95)
    parser.add_argument("--json", help="also write the raw results here")
    args = parser.parse_args()
    if not 1 <= args.rounds <= 10 or not 1 <= args.duration <= 60:
        parser.error("--rounds 1..10, --duration 1..60")

    ensure_wrk(args.instance)
    slot, nginx, app = container_addresses(args.instance, args.project)
    nginx_ip, app_ip = nginx["ip"], app["ip"]
    password = vault.admin_password(REPO / args.inventory)
    token = prepare_devices(Client(args.base_url), password, 50)
    lua = f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    sh(args.instance, "sh", "-c", f"umask 077 && cat > {LUA}", stdin=lua)

    targets = {
        "nginx http": f"http://{nginx_ip}",
        "nginx https": f"https://{nginx_ip}",
        "direct": f"http://{app_ip}:8000",
    }
    endpoints = {
        "/healthz": ("/healthz", 16, False, args.goal_healthz),
        "list 50 (auth)": ("/api/v1/devices?limit=50", 8, True, args.goal_list),
    }
    # Over plain HTTP nginx redirects everything but the health endpoints.
    skip = {("list 50 (auth)", "nginx http")}
    print(
        f"live slot {slot}: nginx {nginx_ip}, app {app_ip}; wrk inside {args.instance}, "
        f"{args.rounds} rounds x {args.duration} s per target, alternating"
    )
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    results: dict[str, dict[str, list[dict[str, float]]]] = {}
    try:
        for name, (path, conns, auth, _goal) in endpoints.items():
            results[name] = {t: [] for t in targets if (name, t) not in skip}
            order = list(results[name])
            for round_no in range(args.rounds):
                rotated = order[round_no % len(order) :] + order[: round_no % len(order)]
                for target in rotated:
                    cpu0 = (cpu_ns(args.instance, nginx["id"]), cpu_ns(args.instance, app["id"]))
                    row = run_wrk(args.instance, targets[target] + path, conns, args.duration, auth)
                    cpu1 = (cpu_ns(args.instance, nginx["id"]), cpu_ns(args.instance, app["id"]))
                    # CPU each container spent per request: unlike req/s, hardly
                    # moved by other work on the machine.
                    row["nginx_us"] = (cpu1[0] - cpu0[0]) / 1000 / max(row["requests"], 1)
                    row["app_us"] = (cpu1[1] - cpu0[1]) / 1000 / max(row["requests"], 1)
                    results[name][target].append(row)
                    print(
                        f"  {name:<15} {target:<12} round {round_no + 1}: {row['rps']:8.0f} req/s "
                        f"p50 {row['p50_ms']:6.2f} ms p99 {row['p99_ms']:6.2f} ms "
                        f"failed {row['failed']:.0f} cpu/req nginx {row['nginx_us']:.0f} us "
                        f"app {row['app_us']:.0f} us"
                    )
    finally:
        sh(args.instance, "rm", "-f", LUA, check=False)

    ok = True
    print(
        f"\n{'endpoint':<15} {'target':<12} {'req/s':>8} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'nginx us':>8} {'app us':>7} {'cpu est':>7} "
        f"{'ratio':>6} goal"
    )
    for name, per_target in results.items():
        goal = endpoints[name][3]
        direct = statistics.median(r["rps"] for r in per_target["direct"])
        direct_app_us = statistics.median(r["app_us"] for r in per_target["direct"])
        for target, rows in per_target.items():
            rps = statistics.median(r["rps"] for r in rows)
            nginx_us = statistics.median(r["nginx_us"] for r in rows)
            app_us = statistics.median(r["app_us"] for r in rows)
            # What the ratio would be if CPU were the only limit: app CPU per
            # request direct / (app + nginx CPU per request through nginx).
            estimate = direct_app_us / (app_us + nginx_us) if app_us + nginx_us else float("nan")
            ratio = rps / direct if direct else float("nan")
            verdict = (
                "" if target == "direct" else ("ok" if ratio >= goal else f"MISSED (>= {goal})")
            )
            ok &= target == "direct" or ratio >= goal
            print(
                f"{name:<15} {target:<12} {rps:8.0f} "
                f"{statistics.median(r['p50_ms'] for r in rows):7.2f} "
                f"{statistics.median(r['p99_ms'] for r in rows):7.2f} "
                f"{nginx_us:8.0f} {app_us:7.0f} {estimate:7.2f} "
                f"{ratio:6.2f} {verdict}"
            )
    failed = sum(r["failed"] for rows in results.values() for rs in rows.values() for r in rs)
    load_after = Path("/proc/loadavg").read_text().split()[:3]
    print(
        "\nratio: req/s through nginx / direct (the goal). cpu est: the ratio if CPU were the only"
        "\nlimit, from the CPU time the nginx and app containers used per request (wrk's own"
        "\nCPU not counted); it moves far less with other load on the machine than req/s does."
    )
    print(f"failed requests (non-2xx/3xx or socket errors): {failed:.0f}")
    # Other work on the machine shares the cores with the target: say how busy it was.
    print(
        f"machine load average (1/5/15 min): before {' '.join(load_before)}, "
        f"after {' '.join(load_after)}"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "at": datetime.now(UTC).isoformat(),
                    "loadavg": {"before": load_before, "after": load_after},
                    "results": results,
                },
                indent=2,
            )
        )
    return 0 if ok and failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
