"""Operations endpoints at the root: liveness, readiness, version, metrics."""

from __future__ import annotations

import logging
import platform

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from app import __version__, migrations
from app.core import metrics
from app.core.db import Database
from app.core.errors import ErrorEnvelope, ServiceUnavailable

router = APIRouter(tags=["operations"])
logger = logging.getLogger("app.ops")


class Health(BaseModel):
    status: str


class Version(BaseModel):
    release: str
    version: str
    environment: str
    python: str


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """Liveness: the process answers (no database access)."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    responses={
        503: {"model": ErrorEnvelope, "description": "Database unreachable or not migrated"}
    },
)
def readyz(request: Request) -> Health:
    """Readiness: the database answers and its schema is at the Alembic head revision."""
    db: Database = request.app.state.db
    try:
        with db.engine.connect() as conn:
            current = migrations.connection_heads(conn)
    except Exception as exc:
        logger.warning("readiness check failed", extra={"error": type(exc).__name__})
        raise ServiceUnavailable("database unavailable", code="not_ready") from None
    expected = migrations.script_heads()
    if current != expected:
        logger.warning(
            "readiness check failed: schema not at head",
            extra={"current": sorted(current), "expected": sorted(expected)},
        )
        raise ServiceUnavailable(
            "the database schema is not at the latest migration; run migrate",
            code="not_migrated",
            details={"current": sorted(current), "expected": sorted(expected)},
        )
    return Health(status="ready")


@router.get("/version", response_model=Version)
def version(request: Request) -> Version:
    settings = request.app.state.settings
    return Version(
        release=settings.release_id,
        version=__version__,
        environment=settings.environment.value,
        python=platform.python_version(),
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus metrics"}},
)
def prometheus_metrics() -> Response:
    body, content_type = metrics.render()
    return Response(content=body, media_type=content_type)
