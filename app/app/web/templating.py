"""Jinja2 environment, fingerprinted static URLs and the one ``render`` every page uses."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from app import __version__
from app.core.config import Settings
from app.core.rootpath import below_root, root_path_of
from app.web import session as web_session

PACKAGE_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"
STATIC_PREFIX = "/static"
# A fingerprinted URL (?v=<content hash>) never changes content: cache it for a year.
IMMUTABLE = "public, max-age=31536000, immutable"
# The same file asked for without (or with a stale) fingerprint: revalidate hourly.
SHORT = "public, max-age=3600"


@cache
def fingerprint(relative: str) -> str:
    path = (STATIC_DIR / relative).resolve()
    if STATIC_DIR not in path.parents or not path.is_file():
        raise FileNotFoundError(relative)
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def static_url(relative: str, root: str = "") -> str:
    """A static file's URL under the prefix ``root`` (``ROOT_PATH``), fingerprinted."""
    return f"{root}{STATIC_PREFIX}/{relative}?v={fingerprint(relative)}"


@pass_context
def _static_url_in_page(context: Context, relative: str) -> str:
    return static_url(relative, str(context.get("root", "")))


class CachedStaticFiles(StaticFiles):
    """Static files with Cache-Control: a year when the URL carries the current fingerprint."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            query = scope.get("query_string", b"").decode("latin-1")
            try:
                current = fingerprint(path)
            except (FileNotFoundError, ValueError):
                current = ""
            response.headers["Cache-Control"] = (
                IMMUTABLE if current and f"v={current}" in query.split("&") else SHORT
            )
        return response


def _fmt_dt(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime(fmt)


def _fmt_bytes(value: int | None) -> str:
    if value is None:
        return "unknown"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{value} B"  # pragma: no cover - loop always returns


def _fmt_age(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = int(seconds)
    if seconds < 0:
        return "in the future"
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 172_800:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86_400} days ago"


def _fmt_isotime(value: object, missing: str = "-") -> str:
    """An ISO 8601 time from the status file as 'YYYY-MM-DD HH:MM' UTC (as given if odd)."""
    if not isinstance(value, str) or not value:
        return missing
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return _fmt_dt(parsed)


templates = Jinja2Templates(directory=str(TEMPLATE_DIR))
templates.env.globals["static_url"] = _static_url_in_page
templates.env.globals["app_version"] = __version__
templates.env.filters["dt"] = _fmt_dt
templates.env.filters["bytes"] = _fmt_bytes
templates.env.filters["age"] = _fmt_age
templates.env.filters["isotime"] = _fmt_isotime


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Render a page; sets the CSRF cookie on the first visit.

    Templates write every URL of the service as ``{{ root }}/path``: ``root`` is the prefix
    the service is published under (``ROOT_PATH``, "" at the root), ``path`` the request's
    path below it."""
    settings: Settings = request.app.state.settings
    cookie, is_new = web_session.csrf_cookie_value(request)
    root = root_path_of(request.scope)
    ctx: dict[str, Any] = {
        "csrf_token": web_session.expected_csrf_token(request, settings),
        "csrf_field": web_session.CSRF_FIELD,
        "user": getattr(request.state, "web_user", None),
        "root": root,
        "path": below_root(request.url.path, root),
    }
    ctx.update(context or {})
    response = templates.TemplateResponse(
        request, name, ctx, status_code=status_code, headers=dict(headers or {})
    )
    if is_new:
        web_session.set_csrf_cookie(response, request, cookie)
    return response
