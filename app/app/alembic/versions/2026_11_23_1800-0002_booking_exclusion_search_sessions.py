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
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("search_text", sa.Text(), nullable=False, server_default="")
            )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("search_text", server_default=None)
        t = sa.table(table, sa.column("id"), sa.column("search_text"), *map(sa.column, fields))
        rows = bind.execute(sa.select(t.c.id, *(t.c[f] for f in fields))).all()
        for row in rows:
            bind.execute(t.update().where(t.c.id == row[0]).values(search_text=_fold(*row[1:])))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("tokens_valid_after", sa.DateTime(timezone=True), nullable=True)
        )
    # Overlaps left by the old race (issue 15) would block the constraint: keep the first
    # booking of each overlapping set active and cancel the later ones (nothing is deleted).
    op.execute(
        "UPDATE bookings SET status = 'cancelled', cancelled_at = CURRENT_TIMESTAMP "
        "WHERE status = 'active' AND EXISTS (SELECT 1 FROM bookings o "
        "WHERE o.device_id = bookings.device_id AND o.status = 'active' "
        "AND o.id < bookings.id AND o.start_at < bookings.end_at AND o.end_at > bookings.start_at)"
    )
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
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("tokens_valid_after")
    for table in SEARCHABLE:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("search_text")
