"""The host status file (written by the ``status`` role's collector) as the /infra/ page sees it.

The app only reads the file through a read-only mount; it never talks to Docker.
A file older than two collector intervals is STALE: its facts are shown, marked stale,
never as current health.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.core.db import utcnow

MAX_STATUS_BYTES = 2 * 1024 * 1024
DEFAULT_INTERVAL_SECONDS = 60
SUPPORTED_SCHEMA = 1
HEALTHY_STATES = frozenset({"healthy", "running", "none", None})


@dataclass
class HostStatus:
    path: str | None
    state: str  # "ok" | "stale" | "missing" | "unconfigured" | "invalid"
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    collected_at: datetime | None = None
    age_seconds: float | None = None
    interval_seconds: int = DEFAULT_INTERVAL_SECONDS

    @property
    def stale(self) -> bool:
        return self.state == "stale"

    @property
    def usable(self) -> bool:
        return self.state in {"ok", "stale"}


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _list_of_dicts(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, dict)]


class _Unusable(Exception):
    def __init__(self, state: str, message: str) -> None:
        super().__init__(message)
        self.state = state
        self.message = message


def _parse(path: str) -> dict[str, Any]:
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_STATUS_BYTES:
            raise _Unusable("invalid", f"the status file is too large ({size} bytes)")
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _Unusable(
            "missing", "No status file yet: the host's collector has not written it."
        ) from None
    except OSError as exc:
        raise _Unusable("invalid", f"the status file cannot be read ({exc.strerror})") from None
    except ValueError:
        raise _Unusable("invalid", "the status file is not valid JSON") from None
    if not isinstance(data, dict):
        raise _Unusable("invalid", "the status file is not a JSON object")
    if data.get("schema") != SUPPORTED_SCHEMA:
        raise _Unusable("invalid", f"unsupported status schema {data.get('schema')!r} (expected 1)")
    return data


def _load(path: str) -> dict[str, Any] | HostStatus:
    """The parsed, normalised file, or the verdict on why it cannot be used."""
    try:
        data = _parse(path)
    except _Unusable as exc:
        return HostStatus(path, exc.state, exc.message)
    # Normalise the parts the template iterates over.
    for key in ("services", "releases", "containers"):
        data[key] = _list_of_dicts(data.get(key))
    problems = data.get("problems")
    data["problems"] = [str(p) for p in problems if p] if isinstance(problems, list) else []
    for key in ("backup", "tls", "disk"):
        if not isinstance(data.get(key), dict):
            data[key] = None
    return data


def read_status(path: str | None, *, now: datetime | None = None) -> HostStatus:
    """Read and judge the status file; never raises for a bad or missing file."""
    now = now or utcnow()
    if not path:
        return HostStatus(
            path=None,
            state="unconfigured",
            message="STATUS_FILE is not set: this installation has no host status collector.",
        )
    loaded = _load(path)
    if isinstance(loaded, HostStatus):
        return loaded
    collected = parse_time(loaded.get("collected_at"))
    if collected is None:
        return HostStatus(path, "invalid", "the status file has no valid collected_at", loaded)
    interval = loaded.get("interval_seconds")
    if not isinstance(interval, int) or isinstance(interval, bool) or interval <= 0:
        interval = DEFAULT_INTERVAL_SECONDS
    age = (now - collected).total_seconds()
    stale = age > 2 * interval
    message = (
        f"Collected {int(age)} s ago, more than 2 collector intervals ({2 * interval} s): "
        "the facts below may no longer be true."
        if stale
        else ""
    )
    return HostStatus(
        path=path,
        state="stale" if stale else "ok",
        message=message,
        data=loaded,
        collected_at=collected,
        age_seconds=age,
        interval_seconds=interval,
    )


def container_ok(container: dict[str, Any]) -> bool:
    return container.get("state") == "running" and container.get("health") in HEALTHY_STATES
