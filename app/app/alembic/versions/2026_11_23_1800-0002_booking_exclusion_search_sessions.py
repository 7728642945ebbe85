"""booking exclusion constraint, folded search text, token cut-off per user

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 18:00:00+00:00

- PostgreSQL: active bookings of one device cannot overlap (``EXCLUDE USING gist`` on the
  device and ``tstzrange(start_at, end_at)``; ``btree_gist`` is a trusted extension, so a
  non-superuser database owner may create it). SQLite serialises bookings in the app instead.
- ``search_text`` on every searchable table: the searchable fields folded with
  ``str.casefold()`` (filled here for existing rows).
- ``users.tokens_valid_after``: access tokens issued before it are refused.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEPARATOR = "\x1f"
SEARCHABLE = {
    "device_types": ("name",),
    "devices": ("name", "serial"),
    "inventory_items": ("name", "sku"),
    "users": ("email", "full_name"),
}
EXCLUSION = "ex_bookings_device_active_overlap"
TRIGGER_INSERT = "tr_bookings_no_overlap_insert"
TRIGGER_UPDATE = "tr_bookings_no_overlap_update"


def _fold(*parts: str | None) -> str:
    # A frozen copy of app.core.search.fold: a migration must not change when the app does.
    return SEPARATOR.join((p or "").casefold() for p in parts)


def upgrade() -> None:
    bind = op.get_bind()
    for table, fields in SEARCHABLE.items():
        # Plain ALTER TABLE ADD/DROP COLUMN (no batch copy: on SQLite a table copy would trip
        # the foreign keys of existing rows). The empty server default stays: it fills
        # existing rows, and the app always writes the column itself.
        op.add_column(table, sa.Column("search_text", sa.Text(), nullable=False, server_default=""))
        t = sa.table(table, sa.column("id"), sa.column("search_text"), *map(sa.column, fields))
        rows = bind.execute(sa.select(t.c.id, *(t.c[f] for f in fields))).all()
        for row in rows:
            bind.execute(t.update().where(t.c.id == row[0]).values(search_text=_fold(*row[1:])))
    op.add_column("users", sa.Column("tokens_valid_after", sa.DateTime(timezone=True)))
    # Overlaps left by the old race (issue 15) would block the constraint: in booking order,
    # the first booking keeps its slot and a later one that overlaps a kept booking is
    # cancelled (nothing is deleted; the same result on every database).
    bookings = sa.table(
        "bookings",
        sa.column("id"),
        sa.column("device_id"),
        sa.column("start_at"),
        sa.column("end_at"),
        sa.column("status"),
        sa.column("cancelled_at"),
    )
    kept: dict[int, list[tuple[object, object]]] = {}
    rows = bind.execute(
        sa.select(bookings.c.id, bookings.c.device_id, bookings.c.start_at, bookings.c.end_at)
        .where(bookings.c.status == "active")
        .order_by(bookings.c.id)
    ).all()
    for booking_id, device_id, start, end in rows:
        slots = kept.setdefault(device_id, [])
        if any(s < end and e > start for s, e in slots):
            bind.execute(
                bookings.update()
                .where(bookings.c.id == booking_id)
                .values(status="cancelled", cancelled_at=sa.func.current_timestamp())
            )
        else:
            slots.append((start, end))
    if bind.dialect.name == "sqlite":
        # SQLite has no exclusion constraints: triggers refuse an overlapping active booking
        # (the app also takes the write lock before its own check, so users get a 409).
        for event, name in (("INSERT", TRIGGER_INSERT), ("UPDATE", TRIGGER_UPDATE)):
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {event} ON bookings "  # noqa: S608 - constants
                "WHEN NEW.status = 'active' AND EXISTS (SELECT 1 FROM bookings o "
                "WHERE o.device_id = NEW.device_id AND o.status = 'active' AND o.id IS NOT NEW.id "
                "AND o.start_at < NEW.end_at AND o.end_at > NEW.start_at) "
                f"BEGIN SELECT RAISE(ABORT, '{EXCLUSION}'); END"
            )
    if bind.dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            f"ALTER TABLE bookings ADD CONSTRAINT {EXCLUSION} EXCLUDE USING gist "
            "(device_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&) "
            "WHERE (status = 'active')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE bookings DROP CONSTRAINT IF EXISTS {EXCLUSION}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER_INSERT}")
        op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER_UPDATE}")
    op.drop_column("users", "tokens_valid_after")  # SQLite >= 3.35 drops columns natively
    for table in SEARCHABLE:
        op.drop_column(table, "search_text")
