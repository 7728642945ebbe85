from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, model_validator

from app.bookings.models import Booking
from app.core.schemas import DbId, LongText, PatchModel, Unset, UtcDatetime


class BookingStatus(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"


def check_window(start: datetime, end: datetime) -> None:
    if end <= start:
        raise ValueError("end must be after start")


class BookingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device_id: DbId
    start: UtcDatetime
    end: UtcDatetime
    purpose: LongText = ""
    user_id: DbId | None = None  # admins may book on behalf of another user

    @model_validator(mode="after")
    def _window(self) -> Self:
        check_window(self.start, self.end)
        return self


class BookingUpdate(PatchModel):
    start: UtcDatetime | Unset = None
    end: UtcDatetime | Unset = None
    purpose: LongText | Unset = None


class BookingRead(BaseModel):
    id: int
    device_id: int
    user_id: int
    start: datetime
    end: datetime
    purpose: str
    status: BookingStatus
    created_at: datetime
    cancelled_at: datetime | None

    @classmethod
    def of(cls, booking: Booking) -> BookingRead:
        return cls(
            id=booking.id,
            device_id=booking.device_id,
            user_id=booking.user_id,
            start=booking.start_at,
            end=booking.end_at,
            purpose=booking.purpose,
            status=BookingStatus(booking.status),
            created_at=booking.created_at,
            cancelled_at=booking.cancelled_at,
        )
