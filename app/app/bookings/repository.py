from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.bookings.models import Booking
from app.core.pagination import PageParams, paginate
from app.users.models import User

# The database-side guard against overlapping active bookings (migration 0002): an exclusion
# constraint on PostgreSQL, a trigger raising this name on SQLite.
OVERLAP_CONSTRAINT = "ex_bookings_device_active_overlap"


def get(session: Session, *, booking_id: int) -> Booking | None:
    return session.get(Booking, booking_id)


def _overlapping_stmt(
    *, device_id: int, start: datetime, end: datetime, exclude_id: int | None
) -> Select[Booking]:
    stmt = select(Booking).where(
        Booking.device_id == device_id,
        Booking.status == "active",
        Booking.start_at < end,
        Booking.end_at > start,
    )
    if exclude_id is not None:
        stmt = stmt.where(Booking.id != exclude_id)
    return stmt.order_by(Booking.start_at, Booking.id)


def overlapping(
    session: Session,
    *,
    device_id: int,
    start: datetime,
    end: datetime,
    exclude_id: int | None = None,
) -> Sequence[Booking]:
    """Active bookings of the device that intersect ``[start, end)``."""
    stmt = _overlapping_stmt(device_id=device_id, start=start, end=end, exclude_id=exclude_id)
    return session.scalars(stmt).all()


def overlapping_with_holders(
    session: Session, *, device_id: int, start: datetime, end: datetime
) -> list[tuple[Booking, User]]:
    """Like :func:`overlapping`, with each booking's holder (one query)."""
    stmt = _overlapping_stmt(device_id=device_id, start=start, end=end, exclude_id=None)
    rows = session.execute(stmt.add_columns(User).join(User, User.id == Booking.user_id)).all()
    return [(row[0], row[1]) for row in rows]


def list_bookings(
    session: Session,
    *,
    user_id: int | None,
    device_id: int | None,
    status: str | None,
    start: datetime | None,
    end: datetime | None,
    page: PageParams,
) -> tuple[Sequence[Booking], int]:
    stmt = select(Booking)
    if user_id is not None:
        stmt = stmt.where(Booking.user_id == user_id)
    if device_id is not None:
        stmt = stmt.where(Booking.device_id == device_id)
    if status:
        stmt = stmt.where(Booking.status == status)
    if start is not None:
        stmt = stmt.where(Booking.end_at > start)
    if end is not None:
        stmt = stmt.where(Booking.start_at < end)
    return paginate(session, stmt, page=page, order_by=(Booking.start_at, Booking.id))
