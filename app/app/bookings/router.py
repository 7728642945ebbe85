from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from app.auth.dependencies import CurrentUser
from app.bookings import service
from app.bookings.schemas import BookingCreate, BookingRead, BookingStatus, BookingUpdate
from app.core.config import API_V1_STR
from app.core.db import SessionDep
from app.core.errors import ERROR_RESPONSES
from app.core.pagination import Page, PageDep
from app.core.schemas import MAX_DB_INT, IdPath, UtcDatetime

router = APIRouter(prefix=f"{API_V1_STR}/bookings", tags=["bookings"], responses=ERROR_RESPONSES)


@router.get("", response_model=Page[BookingRead])
def list_bookings(
    actor: CurrentUser,
    session: SessionDep,
    page: PageDep,
    device_id: Annotated[int | None, Query(ge=1, le=MAX_DB_INT)] = None,
    user_id: Annotated[int | None, Query(ge=1, le=MAX_DB_INT)] = None,
    status: BookingStatus | None = None,
    from_: Annotated[UtcDatetime | None, Query(alias="from")] = None,
    to: UtcDatetime | None = None,
) -> Page[BookingRead]:
    """Bookings ordered by start; members see only their own."""
    rows, total = service.list_bookings(
        session,
        actor=actor,
        user_id=user_id,
        device_id=device_id,
        status=status,
        start=from_,
        end=to,
        limit=page.limit,
        offset=page.offset,
    )
    return Page[BookingRead](
        items=[BookingRead.of(b) for b in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post("", response_model=BookingRead, status_code=status.HTTP_201_CREATED)
def create_booking(body: BookingCreate, actor: CurrentUser, session: SessionDep) -> BookingRead:
    """Book a device; 409 names the conflicting booking when the window overlaps."""
    return BookingRead.of(service.create(session, data=body, actor=actor))


@router.get("/{booking_id}", response_model=BookingRead)
def get_booking(booking_id: IdPath, actor: CurrentUser, session: SessionDep) -> BookingRead:
    return BookingRead.of(service.get_visible(session, booking_id=booking_id, actor=actor))


@router.patch("/{booking_id}", response_model=BookingRead)
def update_booking(
    booking_id: IdPath, body: BookingUpdate, actor: CurrentUser, session: SessionDep
) -> BookingRead:
    booking = service.get_visible(session, booking_id=booking_id, actor=actor)
    return BookingRead.of(service.update(session, booking=booking, data=body))


@router.post("/{booking_id}/cancel", response_model=BookingRead)
def cancel_booking(booking_id: IdPath, actor: CurrentUser, session: SessionDep) -> BookingRead:
    booking = service.get_visible(session, booking_id=booking_id, actor=actor)
    return BookingRead.of(service.cancel(session, booking=booking))
