"""Small shared schema pieces."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from fastapi import Path
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

EMAIL_PATTERN = r"^[^@\s\x00]{1,64}@[^@\s\x00]+$"
NO_NUL = r"^[^\x00]*$"
# At least one character that is not whitespace (names are stripped), no NUL.
NOT_BLANK = r"^[^\x00]*[^\s\x00][^\x00]*$"
MAX_EMAIL = 320
MAX_DB_INT = 2_147_483_647


def _email(value: str) -> str:
    value = value.lower()
    if len(value) > MAX_EMAIL:  # a few characters grow when lower-cased
        raise ValueError("e-mail address too long")
    return value


# Deliberately permissive (internal lab hosts like ``admin@lab.local`` must work); the pattern
# is in the schema, so what the schema accepts the API accepts.
Email = Annotated[
    str,
    StringConstraints(min_length=3, max_length=MAX_EMAIL, pattern=EMAIL_PATTERN),
    AfterValidator(_email),
]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NOT_BLANK)
]
Code = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=NOT_BLANK)
]
ShortText = Annotated[str, StringConstraints(max_length=200, pattern=NO_NUL)]
LongText = Annotated[str, StringConstraints(max_length=5000, pattern=NO_NUL)]
Password = Annotated[str, StringConstraints(min_length=8, max_length=256)]


def _json_integer(value: Any) -> Any:
    # JSON Schema's integer: 3 and 3.0, never true/false or "3" (pydantic's lax mode would
    # take all of them).
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON integer")
    return value


# JSON integers in bodies: true/false or "5" is not an id (query and path values stay strings
# converted by FastAPI, so they use their own annotations).
DbId = Annotated[int, BeforeValidator(_json_integer), Field(ge=1, le=MAX_DB_INT)]
Quantity = Annotated[int, BeforeValidator(_json_integer), Field(ge=0, le=MAX_DB_INT)]
Flag = Annotated[bool, Strict()]
IdPath = Annotated[int, Path(ge=1, le=MAX_DB_INT)]

MIN_YEAR = 1970
MAX_YEAR = 2999


def _to_utc(value: datetime) -> datetime:
    try:
        value = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("datetime out of range") from None
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"datetime must be between {MIN_YEAR} and {MAX_YEAR}")
    return value


_ISO_DATETIME_START = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]")


def _iso_string(value: Any) -> Any:
    # pydantic would read a number (or "0.5") as a Unix timestamp; the API takes ISO 8601 only.
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATETIME_START.match(value)):
        return value
    raise ValueError("a datetime must be an ISO 8601 string with a UTC offset")


# Timezone-aware ISO 8601 input (naive datetimes and numbers are rejected), normalised to UTC.
UtcDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_string), AfterValidator(_to_utc)]


# An optional PATCH field that is not nullable: absent means "unchanged", and the schema
# (and validation) refuse null.
Unset = SkipJsonSchema[None]


def _drop_null_defaults(schema: dict[str, Any]) -> None:
    # "default": null on a non-nullable property would contradict its own type.
    for prop in schema.get("properties", {}).values():
        if isinstance(prop, dict) and prop.get("default", ...) is None and "anyOf" not in prop:
            del prop["default"]


class PatchModel(BaseModel):
    """A PATCH body: only the fields sent change. ``null`` is accepted only for the fields
    named in ``nullable_fields`` (where the schema says so, e.g. clearing a reference)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_drop_null_defaults)
    nullable_fields: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _refuse_null(cls, data: Any) -> Any:
        if isinstance(data, dict):
            nulls = sorted(
                str(k) for k, v in data.items() if v is None and k not in cls.nullable_fields
            )
            if nulls:
                raise ValueError(f"may not be null: {', '.join(nulls)}")
        return data
