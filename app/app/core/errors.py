"""One JSON error envelope for every 4xx/5xx answer."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.core.logging import request_id_var

logger = logging.getLogger("app.errors")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
}


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None
    request_id: str | None = None


class ErrorEnvelope(BaseModel):
    error: ErrorBody


class AppError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        details: Any = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers
        if code is not None:
            self.code = code


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"

    def __init__(self, message: str = "authentication required", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kwargs)


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class Unprocessable(AppError):
    status_code = 422
    code = "validation_error"


class RateLimited(AppError):
    status_code = 429
    code = "rate_limited"


class ServiceUnavailable(AppError):
    status_code = 503
    code = "service_unavailable"


def error_response(
    status_code: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {
        "error": {
            "code": code,
            "message": message,
            "details": jsonable_encoder(details),
            "request_id": request_id_var.get(),
        }
    }
    return JSONResponse(body, status_code=status_code, headers=headers)


def _validation_details(errors: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for err in errors:
        out.append(
            {
                "loc": [str(p) for p in err.get("loc", ())],
                "msg": str(err.get("msg", "")),
                "type": str(err.get("type", "")),
            }
        )
    return out


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)  # noqa: S101
    return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.headers)


def _leaf_routes(routes: Iterable[Any]) -> Iterator[Any]:
    for route in routes:
        # FastAPI keeps included routers as branches that list their effective routes.
        children = getattr(route, "effective_candidates", None)
        if callable(children):
            yield from _leaf_routes(children())
        else:
            yield route


def allowed_methods(request: Request) -> list[str]:
    """Every method served at the path template that handles this path (FastAPI makes one
    route per method, so Starlette's own 405 names only the first route's methods). The
    first template that matches wins, as in routing: ``/users/me`` is not ``/users/{id}``."""
    template: str | None = None
    methods: set[str] = set()
    for route in _leaf_routes(request.app.router.routes):
        path = getattr(route, "path", None)
        if template is not None and path != template:
            continue
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            template = path
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        methods = allowed_methods(request)
        if methods:
            headers["Allow"] = ", ".join(methods)
    return error_response(exc.status_code, code, message, None, headers or None)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    return error_response(
        422, "validation_error", "request validation failed", _validation_details(exc.errors())
    )


async def _integrity_error(_: Request, exc: Exception) -> JSONResponse:
    # Races the services' own checks could not see (e.g. two parallel inserts of one serial).
    logger.warning("integrity error", extra={"error": str(getattr(exc, "orig", exc))[:200]})
    return error_response(409, "conflict", "the request conflicts with existing data")


async def _pool_timeout(_: Request, exc: Exception) -> JSONResponse:
    # Every database connection stayed busy for DB_POOL_TIMEOUT: shed this request
    # now rather than let it queue past the client's patience.
    logger.warning("database pool exhausted", extra={"error": str(exc)[:200]})
    return error_response(
        503,
        "overloaded",
        "the service is busy; retry shortly",
        headers={"Retry-After": "1"},
    )


async def _operational_error(request: Request, exc: Exception) -> JSONResponse:
    # SQLite's busy timeout ran out while another writer held the lock: the request waited
    # its turn and can be retried; anything else is a real server error.
    if "database is locked" in str(getattr(exc, "orig", exc)):
        logger.warning("database locked past the busy timeout")
        return error_response(
            503, "overloaded", "the service is busy; retry shortly", headers={"Retry-After": "1"}
        )
    raise exc


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(PoolTimeout, _pool_timeout)
    app.add_exception_handler(OperationalError, _operational_error)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": desc}
    for status, desc in {
        400: "Malformed request body",
        401: "Not authenticated",
        403: "Not allowed",
        404: "Not found",
        409: "Conflict",
        422: "Validation error",
    }.items()
}
