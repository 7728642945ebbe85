from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from app.auth.dependencies import CurrentUser, SettingsDep
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
    result = service.list_bookings(
        session=session,
        page=page,
        actor=actor,
        user_id=user_id,
        device_id=device_id,
        status=status,
        start=from_,
        end=to,
    )
    return Page[BookingRead].of(result, page, BookingRead.of)


@router.post("", response_model=BookingRead, status_code=status.HTTP_201_CREATED)
def create_booking(
    body: BookingCreate, actor: CurrentUser, session: SessionDep, settings: SettingsDep
) -> BookingRead:
    """Book a device; 409 names the conflicting booking (and its holder) on an overlap,
    422 ``booking_rule`` when a booking rule is broken (see the README)."""
    booking = service.create_booking(session=session, actor=actor, data=body, settings=settings)
    return BookingRead.of(booking)


@router.get("/{booking_id}", response_model=BookingRead)
def get_booking(booking_id: IdPath, actor: CurrentUser, session: SessionDep) -> BookingRead:
    return BookingRead.of(service.get_visible(session=session, booking_id=booking_id, actor=actor))


@router.patch("/{booking_id}", response_model=BookingRead)
def update_booking(
    booking_id: IdPath,
    body: BookingUpdate,
    actor: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> BookingRead:
    """Move, extend or shorten an active booking (the booking rules apply)."""
    booking = service.get_visible(session=session, booking_id=booking_id, actor=actor)
    updated = service.update_booking(session=session, booking=booking, data=body, settings=settings)
    return BookingRead.of(updated)


@router.post("/{booking_id}/cancel", response_model=BookingRead)
def cancel_booking(booking_id: IdPath, actor: CurrentUser, session: SessionDep) -> BookingRead:
    booking = service.get_visible(session=session, booking_id=booking_id, actor=actor)
    return BookingRead.of(service.cancel_booking(session=session, booking=booking))
