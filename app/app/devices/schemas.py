from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from app.core.schemas import Code, DbId, LongText, Name, ShortText


class DeviceStatus(StrEnum):
    AVAILABLE = "available"
    MAINTENANCE = "maintenance"
    RETIRED = "retired"


class DeviceTypeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: LongText = ""


class DeviceTypeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: LongText | None = None


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


class DeviceUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    device_type_id: DbId | None = None
    serial: Code | None = None
    location: ShortText | None = None
    status: DeviceStatus | None = None
    notes: LongText | None = None


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


class Availability(BaseModel):
    device_id: int
    status: DeviceStatus
    from_: datetime = Field(alias="from")
    to: datetime
    busy: list[BusyInterval]
    free: list[Interval]

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)
