#!/usr/bin/python3
"""vmstack-status: collect the facts of a vmstack host into one JSON file.

    vmstack-status [--config /etc/vmstack/status.conf.json] [--print]

Installed by the vmstack.deploy.status role and run by vmstack-status.timer (and
by playbooks/status.yml, once). Reads the compose project's containers (docker
ps/inspect), the app role's release.json and releases.json, the backup role's
last-status.json, the TLS certificate and the ACME client's last run, du/df, and
/readyz through nginx; writes the status file (schema 1, see docs/operations.md)
atomically, mode 0644. Everything that is wrong goes into "problems". Exits 0 when
the file was written, whatever the problems; 1 when it could not be.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = 1
DEFAULT_CONFIG = "/etc/vmstack/status.conf.json"
TIMEOUT = 30


def now_utc() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: object) -> datetime | None:
    """ISO 8601 from Docker (nanoseconds), Python (microseconds, offset) or the scripts (Z)."""
    if not isinstance(text, str) or not text or text.startswith("0001-01-01"):
        return None
    value = text.strip().replace("Z", "+00:00")
    if "." in value:
        head, _, tail = value.partition(".")
        digits = tail[: len(tail) - len(tail.lstrip("0123456789"))]
        zone = tail[len(digits) :]
        value = f"{head}.{digits[:6]}{zone}"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def run(
    argv: list[str], timeout: int = TIMEOUT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    # Fixed programs (docker, du, openssl, systemd-analyze) with arguments from the settings file.
    return subprocess.run(  # noqa: S603
        argv, capture_output=True, text=True, timeout=timeout, check=False, env=env
    )


def read_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def containers(project: str, problems: list[str]) -> list[dict[str, Any]]:
    listed = run(
        [
            "docker",
            "ps",
            "--all",
            "--quiet",
            "--filter",
            f"label=com.docker.compose.project={project}",
        ]
    )
    if listed.returncode != 0:
        problems.append(f"docker ps failed: {listed.stderr.strip()[:200]}")
        return []
    ids = listed.stdout.split()
    if not ids:
        return []
    inspected = run(["docker", "inspect", *ids])
    if inspected.returncode != 0:
        problems.append(f"docker inspect failed: {inspected.stderr.strip()[:200]}")
        return []
    result = []
    for item in json.loads(inspected.stdout):
        labels = item.get("Config", {}).get("Labels") or {}
        if labels.get("com.docker.compose.oneoff") == "True":
            continue  # `docker compose run` (migrations): not part of the running stack
        state = item.get("State", {})
        health = (state.get("Health") or {}).get("Status")
        result.append(
            {
                "name": item.get("Name", "").lstrip("/"),
                "service": labels.get("com.docker.compose.service"),
                "state": state.get("Status"),
                "health": health,
                "started_at": iso(parse_time(state.get("StartedAt"))),
                "_image": item.get("Config", {}).get("Image"),
                "_image_id": item.get("Image"),
            }
        )
    return sorted(result, key=lambda c: str(c["name"]))


def release_services(release: Any) -> list[dict[str, Any]]:
    """The live release of every service from release.json (the app role's format)."""
    if not isinstance(release, dict):
        return []
    records = release.get("services")
    if not isinstance(records, dict):
        records = {"app": release}
    services = []
    for name, record in sorted(records.items()):
        if not isinstance(record, dict):
            continue
        services.append(
            {
                "name": name,
                "version": record.get("version"),
                "slot": record.get("active"),
                "image": record.get("image"),
                "image_id": record.get("image_id") or None,
                "since": iso(parse_time(record.get("deployed_at"))),
            }
        )
    return services


def extra_service_releases(directory: Path) -> list[dict[str, Any]]:
    """The live release of each extra service (stack_services): release-<name>.json
    beside release.json, written by the app role's service_release."""
    services = []
    for path in sorted(directory.glob("release-*.json")):
        name = path.name.removeprefix("release-").removesuffix(".json")
        services += release_services({"services": {name: read_json(str(path))}})
    return services


def release_history(history: Any, count: int) -> list[dict[str, Any]]:
    """The newest `count` entries of releases.json, newest first."""
    if not isinstance(history, list):
        return []
    entries = []
    for record in reversed(history[-count:] if count > 0 else []):
        if not isinstance(record, dict):
            continue
        entries.append(
            {
                "service": record.get("service", "app"),
                "version": record.get("version"),
                "slot": record.get("slot"),
                "image_id": record.get("image_id") or None,
                "at": iso(parse_time(record.get("finished_at") or record.get("started_at"))),
                "result": record.get("result"),
            }
        )
    return entries


def check_containers(
    found: list[dict[str, Any]], services: list[dict[str, Any]], problems: list[str]
) -> None:
    """Every container that should run does, and none is unhealthy.

    The app's idle release slot is stopped on purpose (app-<slot> of the slot that
    is not live): it is reported as it is, not as a problem."""
    live_slots = {f"{s['name']}-{s['slot']}" for s in services if s.get("slot")}
    idle = {
        f"{s['name']}-{color}"
        for s in services
        for color in ("blue", "green")
        if s.get("slot") and color != s["slot"]
    }
    seen = {c["service"] for c in found if c["state"] == "running"}
    for container in found:
        if container["service"] in idle and container["state"] != "running":
            continue
        if container["state"] != "running":
            problems.append(f"container {container['name']} is {container['state']}")
        elif container["health"] == "unhealthy":
            problems.append(f"container {container['name']} is unhealthy")
    for service in sorted(live_slots - seen):
        problems.append(f"the live release's service {service} has no running container")


def timespan_seconds(text: str) -> int:
    out = run(["systemd-analyze", "timespan", text])
    for line in out.stdout.splitlines():
        if line.strip().startswith("μs:"):
            return int(line.split(":", 1)[1].strip()) // 1_000_000
    return 0


def schedule_period_seconds(schedule: str) -> int | None:
    """Seconds between the next two runs of an OnCalendar expression (systemd-analyze, in UTC)."""
    out = run(
        ["systemd-analyze", "calendar", "--iterations=2", "--", schedule],
        env={**os.environ, "TZ": "UTC"},
    )
    moments = []
    for line in out.stdout.splitlines():
        label, _, value = line.strip().partition(": ")
        if label == "Next elapse" or label.startswith("Iter"):
            try:
                moments.append(datetime.strptime(value.strip(), "%a %Y-%m-%d %H:%M:%S UTC"))
            except ValueError:
                continue
    if len(moments) < 2:
        return None
    return int((moments[1] - moments[0]).total_seconds())


def backup(config: dict[str, Any], moment: datetime, problems: list[str]) -> dict[str, Any] | None:
    if not config.get("enabled"):
        return None
    max_age = int(config.get("max_age_seconds") or 0)
    if max_age <= 0:
        period = schedule_period_seconds(str(config.get("schedule", "daily")))
        delay = timespan_seconds(str(config.get("randomized_delay", "0")))
        max_age = period + delay + int(config.get("grace_seconds", 3600)) if period else 0
    last = read_json(str(config["status_file"]))
    last = last if isinstance(last, dict) else {}
    success_file, success_at = None, None
    try:
        stamp, _, path = Path(config["last_success_file"]).read_text().strip().partition(" ")
        success_file, success_at = path or None, parse_time(stamp)
    except OSError:
        pass
    if last.get("status") == "ok" and last.get("file"):
        file, at = last["file"], parse_time(last.get("finished_at"))
        verified = bool(last.get("verified"))
    else:
        file, at, verified = success_file, success_at, False
        if last.get("status") == "failed":
            problems.append(f"the last backup run failed: {str(last.get('message', ''))[:200]}")
    size = None
    if file:
        try:
            size = os.stat(file).st_size
        except OSError:
            problems.append(f"the last backup {file} is missing")
    age = int((moment - at).total_seconds()) if at else None
    if at is None:
        problems.append("no successful backup yet")
    elif max_age and age is not None and age > max_age:
        problems.append(
            f"the last backup is {age // 3600} h old (the schedule allows {max_age // 3600} h)"
        )
    return {
        "last_file": file,
        "at": iso(at),
        "size_bytes": size,
        "verified": verified if file else None,
        "age_seconds": age,
        "max_age_seconds": max_age or None,
    }


def tls(config: dict[str, Any], moment: datetime, problems: list[str]) -> dict[str, Any] | None:
    if not config.get("enabled"):
        return None
    certificate = str(config["certificate"])
    out = run(
        [
            "openssl",
            "x509",
            "-noout",
            "-subject",
            "-issuer",
            "-enddate",
            "-nameopt",
            "RFC2253",
            "-in",
            certificate,
        ]
    )
    if out.returncode != 0:
        problems.append(f"cannot read the TLS certificate {certificate}")
        return {
            "subject": None,
            "issuer": None,
            "not_after": None,
            "days_left": None,
            "renewal": acme_renewal(str(config.get("acme_status_file") or ""), problems),
        }
    fields = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    not_after = None
    try:
        not_after = datetime.strptime(fields.get("notAfter", ""), "%b %d %H:%M:%S %Y GMT")
        not_after = not_after.replace(tzinfo=UTC)
    except ValueError:
        problems.append(f"cannot read the expiry of {certificate}")
    days_left = int((not_after - moment).total_seconds() // 86400) if not_after else None
    warn = int(config.get("warn_days", 14))
    if days_left is not None and days_left < warn:
        problems.append(f"the TLS certificate expires in {days_left} days (warning under {warn})")
    return {
        "subject": fields.get("subject"),
        "issuer": fields.get("issuer"),
        "not_after": iso(not_after),
        "days_left": days_left,
        "renewal": acme_renewal(str(config.get("acme_status_file") or ""), problems),
    }


def acme_renewal(status_file: str, problems: list[str]) -> dict[str, Any] | None:
    """The last run of vmstack-acme-renew (nginx_tls_mode: acme), as it wrote it."""
    if not status_file:
        return None
    last = read_json(status_file)
    if not isinstance(last, dict):
        return None  # no run recorded yet (the first issuance writes it)
    status = str(last.get("status", "unknown"))
    at = iso(parse_time(last.get("finished_at")))
    message = str(last.get("message", ""))[:300]
    if status != "ok":
        problems.append(f"the last ACME certificate renewal ({at}) failed: {message}")
    return {"status": status, "at": at, "message": message}


def readyz(config: dict[str, Any], problems: list[str]) -> None:
    url = config.get("url")
    if not url:
        return
    if not str(url).startswith(("http://", "https://")):
        problems.append(f"status_readyz_url is not an http(s) URL: {url}")
        return
    host = str(config.get("host_header") or "")
    request = urllib.request.Request(str(url), headers={"Host": host} if host else {})  # noqa: S310
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the release's health, not the certificate (checked above)
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, OSError) as error:
        problems.append(f"the release does not answer {url} through nginx: {error}")
        return
    if status != 200:
        problems.append(f"the release does not answer {url} through nginx: HTTP {status}")


def du_bytes(path: str) -> int | None:
    out = run(["du", "--summarize", "--bytes", "--one-file-system", path], timeout=120)
    try:
        return int(out.stdout.split()[0])
    except (IndexError, ValueError):
        return None


def disk(config: dict[str, Any], project_dir: str, problems: list[str]) -> dict[str, Any]:
    info = run(["docker", "info", "--format", "{{.DockerRootDir}}"])
    docker_root = info.stdout.strip() if info.returncode == 0 else ""
    total = free = None
    try:
        usage = shutil.disk_usage(project_dir)
        total, free = usage.total, usage.free
    except OSError:
        pass
    minimum = int(config.get("min_free_percent", 10))
    if total and free is not None and free * 100 < total * minimum:
        problems.append(
            f"the filesystem of {project_dir} has {free * 100 // total} % free (under {minimum} %)"
        )
    return {
        "project_dir_bytes": du_bytes(project_dir),
        "docker_bytes": du_bytes(docker_root) if docker_root else None,
        "fs_total_bytes": total,
        "fs_free_bytes": free,
    }


def collect(config: dict[str, Any]) -> dict[str, Any]:
    moment = now_utc()
    problems: list[str] = []
    found = containers(str(config["project_name"]), problems)
    release = read_json(str(config["release_file"]))
    services = release_services(release)
    if not services:
        problems.append(f"no live release recorded in {config['release_file']}")
    services += extra_service_releases(Path(str(config["release_file"])).parent)
    by_service = {c["service"]: c for c in found}
    for service in services:
        container = by_service.get(f"{service['name']}-{service['slot']}") or by_service.get(
            service["name"]
        )
        if container and not service["image_id"]:
            service["image_id"] = container["_image_id"]
    check_containers(found, services, problems)
    history = release_history(
        read_json(str(config["history_file"])), int(config.get("history_count", 10))
    )
    status = {
        "schema": SCHEMA,
        "collected_at": iso(moment),
        "interval_seconds": int(config.get("interval_seconds", 60)),
        "host": socket.gethostname(),
        "project": config["project_name"],
        "services": services,
        "releases": history,
        "containers": [{k: v for k, v in c.items() if not k.startswith("_")} for c in found],
        "backup": backup(config.get("backup", {}), moment, problems),
        "tls": tls(config.get("tls", {}), moment, problems),
        "disk": disk(config.get("disk", {}), str(config["project_dir"]), problems),
        "problems": problems,
    }
    readyz(config.get("readyz", {}), problems)
    return status


def write_atomically(path: Path, status: dict[str, Any]) -> None:
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".status.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(status, out, indent=2, sort_keys=False)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG)
    parser.add_argument("--print", action="store_true", help="also print the JSON on stdout")
    args = parser.parse_args()
    try:
        with open(args.config, encoding="utf-8") as handle:
            config = json.load(handle)
        status = collect(config)
        write_atomically(Path(config["status_file"]), status)
    except (OSError, ValueError, KeyError, subprocess.SubprocessError) as error:
        print(f"vmstack-status: FAILED: {error}", file=sys.stderr)
        return 1
    if args.print:
        print(json.dumps(status, indent=2))
    else:
        print(f"vmstack-status: wrote {config['status_file']} ({len(status['problems'])} problems)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
