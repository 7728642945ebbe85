"""Booking rules, in one place for the API and the web pages.

Every function is keyword-only. Rules (settings, see README "Booking rules"): no start in the
past beyond ``BOOKING_PAST_GRACE_SECONDS``; length between ``BOOKING_MIN_SECONDS`` and
``BOOKING_MAX_SECONDS``; no two active bookings of one device overlap. The last rule holds under
concurrency: the device is locked before the overlap check (PostgreSQL: ``FOR UPDATE``; SQLite:
a write that takes the database's write lock), and the database refuses an overlap on its own
(exclusion constraint / trigger, migration 0002) — a violation still answers 409.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.bookings import repository
from app.bookings.models import Booking
from app.bookings.schemas import BookingCreate, BookingStatus, BookingUpdate
from app.core.config import Settings
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.core.pagination import PageParams
from app.devices import repository as devices_repository
from app.devices.models import Device
from app.devices.schemas import Availability, BusyInterval, DeviceStatus, Interval
from app.users import repository as users_repository
from app.users.models import User

MAX_AVAILABILITY_WINDOW = timedelta(days=366)


def _is_admin(user: User) -> bool:
    return user.role == "admin"


def get_visible(*, session: Session, booking_id: int, actor: User) -> Booking:
    booking = repository.get(session, booking_id=booking_id)
    if booking is None:
        raise NotFound(f"booking {booking_id} not found")
    if booking.user_id != actor.id and not _is_admin(actor):
        raise Forbidden("this booking belongs to another user")
    return booking


def list_bookings(
    *,
    session: Session,
    actor: User,
    page: PageParams,
    user_id: int | None = None,
    device_id: int | None = None,
    status: BookingStatus | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[Sequence[Booking], int]:
    """Bookings ordered by start; members see only their own."""
    if not _is_admin(actor):
        if user_id is not None and user_id != actor.id:
            raise Forbidden("members can list only their own bookings")
        user_id = actor.id
    return repository.list_bookings(
        session,
        user_id=user_id,
        device_id=device_id,
        status=status.value if status else None,
        start=start,
        end=end,
        page=page,
    )


def check_rules(
    *, start: datetime, end: datetime, settings: Settings, check_start: bool = True
) -> None:
    """The booking rules that do not need the database; 422 ``booking_rule``."""

    def broken(rule: str, message: str) -> NoReturn:
        raise Unprocessable(
            message, code="booking_rule", details={"rule": rule, "start": start, "end": end}
        )

    if end <= start:
        broken("end_after_start", "end must be after start")
    length = (end - start).total_seconds()
    if length < settings.booking_min_seconds:
        broken("min_length", f"a booking lasts at least {settings.booking_min_seconds} seconds")
    if length > settings.booking_max_seconds:
        broken("max_length", f"a booking lasts at most {settings.booking_max_seconds} seconds")
    if check_start and start < utcnow() - timedelta(seconds=settings.booking_past_grace_seconds):
        broken("start_in_past", "a booking cannot start in the past")


def _lock_bookable_device(session: Session, *, device_id: int) -> Device:
    # Serialises bookings of one device: a row lock on PostgreSQL, the write lock on SQLite.
    device = devices_repository.get(session, device_id=device_id, lock=True)
    if device is None:
        raise Unprocessable(f"device {device_id} does not exist", details={"device_id": device_id})
    if device.status != DeviceStatus.AVAILABLE.value:
        raise Conflict(
            f"device {device_id} is {device.status} and cannot be booked",
            code="device_unavailable",
            details={"device_id": device_id, "status": device.status},
        )
    return device


def _conflict(device_id: int, conflicts: Sequence[Booking]) -> Conflict:
    details: dict[str, Any] = {"device_id": device_id, "conflicts": []}
    message = f"device {device_id} is already booked in that window"
    if conflicts:
        first = conflicts[0]
        holder = first.user
        message = (
            f"device {device_id} is already booked by {holder.display_name} "
            f"(booking {first.id}) in that window"
        )
        details.update(
            booking_id=first.id,
            start=first.start_at,
            end=first.end_at,
            holder=holder.display_name,
            conflicts=[
                {
                    "booking_id": b.id,
                    "start": b.start_at,
                    "end": b.end_at,
                    "holder": b.user.display_name,
                }
                for b in conflicts
            ],
        )
    return Conflict(message, code="booking_conflict", details=details)


def _ensure_no_overlap(
    session: Session, *, device_id: int, start: datetime, end: datetime, exclude_id: int | None
) -> None:
    conflicts = repository.overlapping(
        session, device_id=device_id, start=start, end=end, exclude_id=exclude_id
    )
    if conflicts:
        raise _conflict(device_id, conflicts)


def _flush_guarded(session: Session, *, device_id: int) -> None:
    """Flush; the database's own overlap guard becomes the same 409 as the app's check."""
    try:
        session.flush()
    except IntegrityError as exc:
        if repository.OVERLAP_CONSTRAINT in str(exc.orig):
            session.rollback()
            raise _conflict(device_id, []) from None
        raise


def create_booking(
    *, session: Session, actor: User, data: BookingCreate, settings: Settings
) -> Booking:
    owner_id = actor.id
    if data.user_id is not None and data.user_id != actor.id:
        if not _is_admin(actor):
            raise Forbidden("members can book only for themselves")
        owner = users_repository.get(session, user_id=data.user_id)
        if owner is None:
            raise Unprocessable(
                f"user {data.user_id} does not exist", details={"user_id": data.user_id}
            )
        owner_id = owner.id
    check_rules(start=data.start, end=data.end, settings=settings)
    _lock_bookable_device(session, device_id=data.device_id)
    _ensure_no_overlap(
        session, device_id=data.device_id, start=data.start, end=data.end, exclude_id=None
    )
    booking = Booking(
        device_id=data.device_id,
        user_id=owner_id,
        start_at=data.start,
        end_at=data.end,
        purpose=data.purpose,
        status=BookingStatus.ACTIVE.value,
    )
    session.add(booking)
    _flush_guarded(session, device_id=data.device_id)
    return booking


def update_booking(
    *, session: Session, booking: Booking, data: BookingUpdate, settings: Settings
) -> Booking:
    """Move, extend or shorten an active booking, or change its purpose."""
    if booking.status != BookingStatus.ACTIVE.value:
        raise Conflict("a cancelled booking cannot be changed", details={"booking_id": booking.id})
    fields = data.model_dump(exclude_unset=True)
    start = fields.get("start", booking.start_at)
    end = fields.get("end", booking.end_at)
    if "start" in fields or "end" in fields:
        # A booking that has begun may be extended or shortened; only a new start is
        # held to the no-past rule.
        check_rules(start=start, end=end, settings=settings, check_start=start != booking.start_at)
        _lock_bookable_device(session, device_id=booking.device_id)
        _ensure_no_overlap(
            session, device_id=booking.device_id, start=start, end=end, exclude_id=booking.id
        )
    booking.start_at = start
    booking.end_at = end
    if "purpose" in fields:
        booking.purpose = fields["purpose"]
    _flush_guarded(session, device_id=booking.device_id)
    return booking


def cancel_booking(*, session: Session, booking: Booking) -> Booking:
    if booking.status == BookingStatus.CANCELLED.value:
        raise Conflict("booking is already cancelled", details={"booking_id": booking.id})
    booking.status = BookingStatus.CANCELLED.value
    booking.cancelled_at = utcnow()
    session.flush()
    return booking


def availability(
    *, session: Session, device: Device, start: datetime, end: datetime
) -> Availability:
    """Busy intervals (with who holds them) and free windows of ``device`` in ``[start, end)``."""
    if end <= start:
        raise Unprocessable("'to' must be after 'from'", details={"from": start, "to": end})
    if end - start > MAX_AVAILABILITY_WINDOW:
        raise Unprocessable("the window may span at most 366 days")
    rows = repository.overlapping_with_holders(session, device_id=device.id, start=start, end=end)
    busy = [
        BusyInterval(
            booking_id=b.id,
            start=b.start_at,
            end=b.end_at,
            user_id=holder.id,
            holder=holder.display_name,
        )
        for b, holder in rows
    ]
    free: list[Interval] = []
    cursor = start
    for b, _ in rows:  # ordered by start
        if b.start_at > cursor:
            free.append(Interval(start=cursor, end=min(b.start_at, end)))
        cursor = max(cursor, b.end_at)
    if cursor < end:
        free.append(Interval(start=cursor, end=end))
    if device.status != DeviceStatus.AVAILABLE.value:
        free = []
    return Availability(
        device_id=device.id,
        status=DeviceStatus(device.status),
        from_=start,
        to=end,
        busy=busy,
        free=free,
    )
