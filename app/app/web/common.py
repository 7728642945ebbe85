"""Pieces every page module shares: the router class, error pages, form parsing."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import Response

from app.core.errors import AppError
from app.web.templating import render

# Messages a redirect may ask a page to show (?msg=<key>): never reflected user input.
MESSAGES = {
    "booked": "Booked.",
    "extended": "Booking extended.",
    "cancelled": "Booking cancelled.",
    "signed-out": "You are signed out.",
    "password-changed": "Password changed. Your other sessions were signed out.",
    "profile-saved": "Profile saved.",
    "created": "Created.",
    "saved": "Saved.",
}


def error_page(request: Request, status_code: int, message: str) -> Response:
    titles = {
        400: "Bad request",
        403: "Not allowed",
        404: "Not found",
        409: "Conflict",
        422: "Invalid input",
        429: "Too many requests",
    }
    return render(
        request,
        "error.html",
        {"title": titles.get(status_code, "Error"), "message": message},
        status_code=status_code,
    )


class PageRoute(APIRoute):
    """A page route: a service error that the page did not handle becomes an HTML page
    (the API's routes keep answering with the JSON error envelope)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except AppError as exc:
                # The request's session already rolled back (the dependency saw the error).
                return error_page(request, exc.status_code, exc.message)

        return handler


def parse_local_datetime(value: str) -> datetime:
    """An ``<input type=datetime-local>`` value, read as UTC (the UI shows UTC throughout)."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"'{value[:40]}' is not a date and time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts) or "invalid input"


def fail(session: Session, exc: AppError | ValidationError | ValueError) -> str:
    """Undo whatever the failed call flushed, and word the error for a form."""
    session.rollback()
    if isinstance(exc, AppError):
        return exc.message
    if isinstance(exc, ValidationError):
        return validation_message(exc)
    return str(exc)


def form_str(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""
