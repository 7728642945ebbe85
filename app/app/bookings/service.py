from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.bookings import repository
from app.bookings.models import Booking
from app.bookings.schemas import (
    BookingCreate,
    BookingStatus,
    BookingUpdate,
    check_window,
)
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.devices import repository as devices_repository
from app.devices.models import Device
from app.devices.schemas import Availability, BusyInterval, DeviceStatus, Interval
from app.users import repository as users_repository
from app.users.models import User

MAX_AVAILABILITY_WINDOW = timedelta(days=366)


def _is_admin(user: User) -> bool:
    return user.role == "admin"


def get_visible(session: Session, *, booking_id: int, actor: User) -> Booking:
    booking = repository.get(session, booking_id=booking_id)
    if booking is None:
        raise NotFound(f"booking {booking_id} not found")
    if booking.user_id != actor.id and not _is_admin(actor):
        raise Forbidden("this booking belongs to another user")
    return booking


def list_bookings(
    session: Session,
    *,
    actor: User,
    user_id: int | None,
    device_id: int | None,
    status: BookingStatus | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[Booking], int]:
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
        limit=limit,
        offset=offset,
    )


def _lock_bookable_device(session: Session, *, device_id: int) -> Device:
    # Row lock on the device: concurrent bookings of one device are serialised here, so the
    # overlap check below cannot be raced on PostgreSQL.
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


def _ensure_no_overlap(
    session: Session, *, device_id: int, start: datetime, end: datetime, exclude_id: int | None
) -> None:
    conflicts = repository.overlapping(
        session, device_id=device_id, start=start, end=end, exclude_id=exclude_id
    )
    if conflicts:
        first = conflicts[0]
        raise Conflict(
            f"device {device_id} is already booked by booking {first.id} in that window",
            code="booking_conflict",
            details={
                "booking_id": first.id,
                "start": first.start_at,
                "end": first.end_at,
                "conflicts": [
                    {"booking_id": b.id, "start": b.start_at, "end": b.end_at} for b in conflicts
                ],
            },
        )


def create(session: Session, *, data: BookingCreate, actor: User) -> Booking:
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
    return repository.add(session, booking=booking)


def update(session: Session, *, booking: Booking, data: BookingUpdate) -> Booking:
    if booking.status != BookingStatus.ACTIVE.value:
        raise Conflict("a cancelled booking cannot be changed", details={"booking_id": booking.id})
    fields = data.model_dump(exclude_unset=True, exclude_none=True)
    start = fields.get("start", booking.start_at)
    end = fields.get("end", booking.end_at)
    try:
        check_window(start, end)
    except ValueError as exc:
        raise Unprocessable(str(exc), details={"start": start, "end": end}) from None
    if "start" in fields or "end" in fields:
        _lock_bookable_device(session, device_id=booking.device_id)
        _ensure_no_overlap(
            session, device_id=booking.device_id, start=start, end=end, exclude_id=booking.id
        )
    booking.start_at = start
    booking.end_at = end
    if "purpose" in fields:
        booking.purpose = fields["purpose"]
    session.flush()
    return booking


def cancel(session: Session, *, booking: Booking) -> Booking:
    if booking.status == BookingStatus.CANCELLED.value:
        raise Conflict("booking is already cancelled", details={"booking_id": booking.id})
    booking.status = BookingStatus.CANCELLED.value
    booking.cancelled_at = utcnow()
    session.flush()
    return booking


def availability(
    session: Session, *, device: Device, start: datetime, end: datetime
) -> Availability:
    if end <= start:
        raise Unprocessable("'to' must be after 'from'", details={"from": start, "to": end})
    if end - start > MAX_AVAILABILITY_WINDOW:
        raise Unprocessable("the window may span at most 366 days")
    bookings = repository.overlapping(session, device_id=device.id, start=start, end=end)
    busy = [BusyInterval(booking_id=b.id, start=b.start_at, end=b.end_at) for b in bookings]
    free: list[Interval] = []
    cursor = start
    for b in bookings:  # ordered by start
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
