from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.bookings.models import Booking


def get(session: Session, *, booking_id: int) -> Booking | None:
    return session.get(Booking, booking_id)


def overlapping(
    session: Session,
    *,
    device_id: int,
    start: datetime,
    end: datetime,
    exclude_id: int | None = None,
) -> Sequence[Booking]:
    """Active bookings of the device that intersect ``[start, end)``."""
    stmt = select(Booking).where(
        Booking.device_id == device_id,
        Booking.status == "active",
        Booking.start_at < end,
        Booking.end_at > start,
    )
    if exclude_id is not None:
        stmt = stmt.where(Booking.id != exclude_id)
    return session.scalars(stmt.order_by(Booking.start_at, Booking.id)).all()


def list_bookings(
    session: Session,
    *,
    user_id: int | None,
    device_id: int | None,
    status: str | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    offset: int,
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
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(Booking.start_at, Booking.id).limit(limit).offset(offset)
    ).all()
    return rows, total


def add(session: Session, *, booking: Booking) -> Booking:
    session.add(booking)
    session.flush()
    return booking
