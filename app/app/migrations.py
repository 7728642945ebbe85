"""Programmatic Alembic: works from any working directory and inside the image."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

SCRIPT_LOCATION = Path(__file__).resolve().parent / "alembic"


def alembic_config(url: str | None = None, *, connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    cfg.set_main_option(
        "file_template",
        "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d-%%(rev)s_%%(slug)s",
    )
    if url is not None:
        # Passed as an attribute, not an ini option: no %-interpolation of passwords.
        cfg.attributes["database_url"] = url
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def current_heads(url: str) -> set[str]:
    from app.core.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return connection_heads(conn)
    finally:
        engine.dispose()


@lru_cache(maxsize=1)
def _script_heads() -> frozenset[str]:
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def script_heads() -> set[str]:
    """The revisions the code expects (read once per process)."""
    return set(_script_heads())


def connection_heads(conn: Connection) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    return set(MigrationContext.configure(conn).get_current_heads())


def sqlite_file(url: str) -> Path | None:
    """The file behind a SQLite URL (None for memory databases and other backends)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


class NotMigrated(RuntimeError):
    """The database is missing or not at the head revision."""


def require_head(url: str) -> None:
    """Raise :class:`NotMigrated` unless the schema is at head (never creates a SQLite file)."""
    path = sqlite_file(url)
    if path is not None and not path.exists():
        raise NotMigrated(f"the database file {path} does not exist; run migrate first")
    current = current_heads(url)
    if current != script_heads():
        raise NotMigrated(
            f"the database is at {sorted(current) or 'no revision'}, "
            f"expected {sorted(script_heads())}; run migrate first"
        )
