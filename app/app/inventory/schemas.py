from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from app.core.schemas import Code, DbId, Name, PatchModel, Quantity, ShortText, Unset


class ItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    sku: Code
    quantity: Quantity = 0
    location: ShortText = ""
    device_type_id: DbId | None = None


class ItemUpdate(PatchModel):
    nullable_fields = frozenset({"device_type_id"})

    name: Name | Unset = None
    sku: Code | Unset = None
    quantity: Quantity | Unset = None
    location: ShortText | Unset = None
    device_type_id: DbId | None = None


class ItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    sku: str
    quantity: int
    location: str
    device_type_id: int | None
    created_at: datetime
    updated_at: datetime
