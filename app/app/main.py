"""ASGI application factory; ``app.main:app`` is what uvicorn serves."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import __version__
from app.api import include_routers
from app.core.config import Settings, get_settings, settings_or_exit
from app.core.db import Database
from app.core.errors import install_error_handlers
from app.core.http import BodyGuardMiddleware, EnvelopeCORSMiddleware
from app.core.logging import configure_logging
from app.core.middleware import RequestContextMiddleware
from app.core.ratelimit import RedisFixedWindowLimiter, SlidingWindowLimiter, redis_client
from app.core.rootpath import RootPathMiddleware
from app.web import install_web

logger = logging.getLogger("app")


def _startup_checks(settings: Settings) -> None:
    if settings.secret_key_ephemeral:
        logger.warning(
            "SECRET_KEY is not set: using an ephemeral key (development only); "
            "tokens will not survive a restart"
        )
    if settings.is_development and settings.is_sqlite:
        # Zero-configuration development: bring the local SQLite file to head.
        from app import migrations

        migrations.upgrade(settings.database_url)


def create_app(settings: Settings | None = None, *, run_startup: bool = True) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_startup:
            _startup_checks(settings)
            if not settings.is_sqlite:
                app.state.db.warm(settings.db_pool_size)
        logger.info(
            "service started",
            extra={"release": settings.release_id, "environment": settings.environment.value},
        )
        yield
        app.state.db.dispose()
        logger.info("service stopped")

    app = FastAPI(
        title="vmstack lab scheduler",
        version=__version__,
        summary="Lab device scheduler and inventory API",
        docs_url=None,  # /api/docs and /api/redoc: app.web, from vendored files
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = Database(
        settings.database_url,
        pool_size=settings.db_pool_size,
        pool_timeout=settings.db_pool_timeout,
    )
    count, period = settings.login_rate
    memory_limiter = SlidingWindowLimiter(limit=count, period_seconds=period)
    if settings.redis_url:
        app.state.login_limiter = RedisFixedWindowLimiter(
            redis_client(settings.redis_url, settings.redis_password),
            limit=count,
            period_seconds=period,
            fallback=memory_limiter,
        )
    else:
        app.state.login_limiter = memory_limiter

    install_error_handlers(app)
    app.add_middleware(BodyGuardMiddleware, max_body_bytes=settings.max_body_bytes)
    if settings.cors_origin_list:
        app.add_middleware(
            EnvelopeCORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID"],
        )
    app.add_middleware(RequestContextMiddleware)

    include_routers(app)
    install_web(app)
    if settings.root_path:
        # Outermost: every layer inside sees the prefix as the ASGI root_path.
        app.add_middleware(RootPathMiddleware, root_path=settings.root_path)
    return app


def _build_default_app() -> FastAPI:
    settings = settings_or_exit()
    configure_logging(settings.log_level)
    return create_app(settings)


def __getattr__(name: str) -> FastAPI:
    # ``app`` is built on first access (``uvicorn app.main:app``), so importing this module
    # (tests, tools) has no side effects.
    if name == "app":
        application = _build_default_app()
        globals()["app"] = application
        return application
    raise AttributeError(name)
