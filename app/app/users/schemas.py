from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from app.core.schemas import Email, Flag, Password, PatchModel, ShortText, Unset


class Role(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: Password
    full_name: ShortText = ""
    role: Role = Role.MEMBER
    is_active: Flag = True


class UserUpdate(PatchModel):
    email: Email | Unset = None
    password: Password | Unset = None
    full_name: ShortText | Unset = None
    role: Role | Unset = None
    is_active: Flag | Unset = None


class SelfUpdate(PatchModel):
    email: Email | Unset = None
    full_name: ShortText | Unset = None


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    new_password: Password


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str
    role: Role
    is_active: bool
    created_at: datetime
    updated_at: datetime
