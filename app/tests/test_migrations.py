"""Alembic is the only way the schema changes: prove upgrade/downgrade and no drift."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from app import migrations
from app.core.db import make_engine
from app.models import Base
from tests.conftest import IS_PG, PG_URL, reset_pg_schema


@pytest.fixture
def empty_url(tmp_path: Path) -> str:
    if IS_PG:
        reset_pg_schema(PG_URL)
        return PG_URL
    return f"sqlite:///{tmp_path / 'empty.db'}"


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _diff(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, Base.metadata))
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(empty_url: str) -> None:
    migrations.upgrade(empty_url)
    assert migrations.current_heads(empty_url) == migrations.script_heads()
    assert set(Base.metadata.tables) <= _tables(empty_url)
    migrations.downgrade(empty_url, "base")
    assert migrations.current_heads(empty_url) == set()
    assert _tables(empty_url) - {"alembic_version"} == set()
    migrations.upgrade(empty_url)
    assert migrations.current_heads(empty_url) == migrations.script_heads()


def test_models_and_migrations_agree(empty_url: str) -> None:
    migrations.upgrade(empty_url)
    assert _diff(empty_url) == []


def test_migration_files_named_by_date_and_slug() -> None:
    names = [p.name for p in (migrations.SCRIPT_LOCATION / "versions").glob("*.py")]
    assert names
    for name in names:
        assert name[:4].isdigit() and name[4] == "_", name
        assert "-" in name and name.endswith(".py")


def test_single_head() -> None:
    assert len(migrations.script_heads()) == 1


def test_no_create_all_in_app_code() -> None:
    root = Path(migrations.__file__).parent
    offenders = [p for p in root.rglob("*.py") if "create_all(" in p.read_text()]
    assert offenders == []


def test_0002_keeps_old_overlaps_as_cancelled_and_fills_search_text(empty_url: str) -> None:
    """An existing database with overlaps left by the old race upgrades without losing a row."""
    from sqlalchemy import text

    migrations.upgrade(empty_url, "0001")
    engine = make_engine(empty_url)
    now = "2031-05-01 09:00:00"
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (id, email, full_name, password_hash, role, is_active, "
                    "created_at, updated_at) VALUES (1, 'a@lab.local', 'Ärger Ünd', 'x', "
                    "'member', true, :t, :t)"
                ),
                {"t": now},
            )
            conn.execute(
                text(
                    "INSERT INTO device_types (id, name, description, created_at) "
                    "VALUES (1, 'Осциллограф', '', :t)"
                ),
                {"t": now},
            )
            conn.execute(
                text(
                    "INSERT INTO devices (id, name, device_type_id, serial, location, status, "
                    "notes, created_at, updated_at) VALUES (1, 'Scope', 1, 'SN-1', '', "
                    "'available', '', :t, :t)"
                ),
                {"t": now},
            )
            for booking_id, start, end in (
                (1, "2031-05-01 09:00:00", "2031-05-01 10:00:00"),
                (2, "2031-05-01 09:30:00", "2031-05-01 10:30:00"),  # overlaps 1
                (3, "2031-05-01 10:00:00", "2031-05-01 11:00:00"),  # overlaps 2 only
            ):
                conn.execute(
                    text(
                        "INSERT INTO bookings (id, device_id, user_id, start_at, end_at, purpose, "
                        "status, created_at) VALUES (:id, 1, 1, :s, :e, '', 'active', :t)"
                    ),
                    {"id": booking_id, "s": start, "e": end, "t": now},
                )
        migrations.upgrade(empty_url)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, status FROM bookings ORDER BY id")).all()
            assert [tuple(r) for r in rows] == [(1, "active"), (2, "cancelled"), (3, "active")]
            assert conn.execute(text("SELECT search_text FROM device_types")).scalar() == (
                "осциллограф"
            )
            assert conn.execute(text("SELECT search_text FROM users")).scalar() == (
                "a@lab.local\x1färger ünd"
            )
    finally:
        engine.dispose()
