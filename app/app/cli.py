"""``python -m app serve|migrate|create-admin|check`` (also the ``vmstack-app`` entry point)."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence

from app.core.config import Settings, settings_or_exit
from app.core.logging import configure_logging, logging_config

logger = logging.getLogger("app.cli")


def _settings() -> Settings:
    settings = settings_or_exit()
    configure_logging(settings.log_level)
    return settings


def _require_migrated(settings: Settings) -> None:
    """Exit 1 with "run migrate first" unless the schema is at head (no file is created)."""
    from app import migrations

    try:
        migrations.require_head(settings.database_url)
    except migrations.NotMigrated as exc:
        print(f"vmstack-app: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except Exception as exc:
        print(f"vmstack-app: database unreachable ({type(exc).__name__})", file=sys.stderr)
        raise SystemExit(1) from None


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _settings()
    if settings.is_development and settings.is_sqlite:
        from app import migrations

        migrations.upgrade(settings.database_url)
    workers = args.workers or settings.web_concurrency
    metrics_dir: str | None = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Every worker writes its metrics here; /metrics aggregates them.
        metrics_dir = tempfile.mkdtemp(prefix="vmstack-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    logger.info(
        "starting server",
        extra={
            "host": args.host,
            "port": args.port or settings.port,
            "workers": workers,
            "environment": settings.environment.value,
            "release": settings.release_id,
            "root_path": settings.root_path or "/",
        },
    )
    uvicorn.run(
        "app.main:app",
        host=args.host,
        port=args.port or settings.port,
        workers=workers,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        log_config=logging_config(settings.log_level),
        access_log=False,
        server_header=False,
        limit_concurrency=settings.web_limit_concurrency or None,
        timeout_graceful_shutdown=20,
    )
    if metrics_dir is not None:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from app import migrations

    settings = _settings()
    migrations.upgrade(settings.database_url, args.revision)
    heads = sorted(migrations.current_heads(settings.database_url))
    print(f"database at revision {', '.join(heads) or 'base'}")
    return 0


def cmd_create_admin(_: argparse.Namespace) -> int:
    from app.core.db import Database
    from app.users import service as users_service

    settings = _settings()
    _require_migrated(settings)
    if not settings.admin_email or not settings.admin_password:
        print("vmstack-app: ADMIN_EMAIL and ADMIN_PASSWORD must be set", file=sys.stderr)
        return 2
    if len(settings.admin_password) < 8:
        print("vmstack-app: ADMIN_PASSWORD must be at least 8 characters", file=sys.stderr)
        return 2
    db = Database(settings.database_url)
    try:
        with db.session_factory.begin() as session:
            outcome = users_service.ensure_admin(
                session=session, email=settings.admin_email, password=settings.admin_password
            )
    finally:
        db.dispose()
    print(outcome)
    return 0


def cmd_check(_: argparse.Namespace) -> int:
    from app import migrations

    settings = _settings()
    _require_migrated(settings)
    heads = ",".join(sorted(migrations.script_heads()))
    print(f"ok: environment={settings.environment.value} schema={heads}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vmstack-app", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP server (uvicorn)")
    serve.add_argument("--host", default=os.environ.get("HOST", "0.0.0.0"))  # noqa: S104
    serve.add_argument("--port", type=int, default=None, help="default: PORT")
    serve.add_argument("--workers", type=int, default=None, help="default: WEB_CONCURRENCY")
    serve.set_defaults(func=cmd_serve)
    migrate = sub.add_parser("migrate", help="upgrade the database schema (alembic)")
    migrate.add_argument("--revision", default="head")
    migrate.set_defaults(func=cmd_migrate)
    admin = sub.add_parser("create-admin", help="create/update the admin from ADMIN_EMAIL/PASSWORD")
    admin.set_defaults(func=cmd_create_admin)
    check = sub.add_parser("check", help="validate settings, database and schema revision")
    check.set_defaults(func=cmd_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
