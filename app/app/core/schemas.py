"""Small shared schema pieces."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

_EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+$")
NO_NUL = r"^[^\x00]*$"
MAX_DB_INT = 2_147_483_647


def _email(value: str) -> str:
    value = value.strip().lower()
    if not _EMAIL_RE.fullmatch(value) or "\x00" in value:
        raise ValueError("not a valid e-mail address")
    return value


# Deliberately permissive (internal lab hosts like ``admin@lab.local`` must work).
Email = Annotated[str, StringConstraints(min_length=3, max_length=320), AfterValidator(_email)]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=NO_NUL)
]
Code = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=NO_NUL)
]
ShortText = Annotated[str, StringConstraints(max_length=200, pattern=NO_NUL)]
LongText = Annotated[str, StringConstraints(max_length=5000, pattern=NO_NUL)]
Password = Annotated[str, StringConstraints(min_length=8, max_length=256)]
DbId = Annotated[int, Field(ge=1, le=MAX_DB_INT)]
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


# Timezone-aware input (naive datetimes are rejected), normalised to UTC.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
