from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import Code, DbId, LongText, Name, PatchModel, ShortText, Unset


class DeviceStatus(StrEnum):
    AVAILABLE = "available"
    MAINTENANCE = "maintenance"
    RETIRED = "retired"


class DeviceTypeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: LongText = ""


class DeviceTypeUpdate(PatchModel):
    name: Name | Unset = None
    description: LongText | Unset = None


class DeviceTypeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str
    created_at: datetime


class DeviceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    device_type_id: DbId
    serial: Code
    location: ShortText = ""
    status: DeviceStatus = DeviceStatus.AVAILABLE
    notes: LongText = ""


class DeviceUpdate(PatchModel):
    name: Name | Unset = None
    device_type_id: DbId | Unset = None
    serial: Code | Unset = None
    location: ShortText | Unset = None
    status: DeviceStatus | Unset = None
    notes: LongText | Unset = None


class DeviceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    device_type_id: int
    device_type: DeviceTypeRead
    serial: str
    location: str
    status: DeviceStatus
    notes: str
    created_at: datetime
    updated_at: datetime


class Interval(BaseModel):
    start: datetime
    end: datetime


class BusyInterval(Interval):
    booking_id: int
    user_id: int
    holder: str = Field(description="The holder's display name (full name, else e-mail)")


class Availability(BaseModel):
    device_id: int
    status: DeviceStatus
    from_: datetime = Field(alias="from")
    to: datetime
    busy: list[BusyInterval]
    free: list[Interval]

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)
