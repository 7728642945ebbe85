"""Password hashing (argon2) and JWT access/refresh tokens."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from app.core.db import utcnow

ALGORITHM = "HS256"
MAX_SUBJECT = 2_147_483_647  # user ids are 32-bit integers
TokenType = Literal["access", "refresh"]

_hasher = PasswordHasher()
# A valid hash of a random password: verifying against it keeps the login timing of
# unknown e-mails close to that of known ones.
_DUMMY_HASH = _hasher.hash(uuid.uuid4().hex)


def set_password_hasher(hasher: PasswordHasher) -> None:
    """Swap the hasher (tests use cheap parameters)."""
    global _hasher, _DUMMY_HASH  # noqa: PLW0603
    _hasher = hasher
    _DUMMY_HASH = hasher.hash(uuid.uuid4().hex)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    jti: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class TokenClaims:
    subject: int
    jti: str
    type: TokenType
    issued_at: float
    expires_at: datetime


class InvalidToken(Exception):
    pass


def create_token(
    *,
    subject: int,
    token_type: TokenType,
    ttl_seconds: int,
    key: str,
    extra: dict[str, Any] | None = None,
) -> IssuedToken:
    now = utcnow()
    expires = now + timedelta(seconds=ttl_seconds)
    jti = uuid.uuid4().hex
    claims: dict[str, Any] = {
        "sub": str(subject),
        "type": token_type,
        "jti": jti,
        # Sub-second precision: a session ended at t refuses tokens issued before t.
        "iat": now.timestamp(),
        "exp": int(expires.timestamp()),
        **(extra or {}),
    }
    return IssuedToken(
        token=jwt.encode(claims, key, algorithm=ALGORITHM), jti=jti, expires_at=expires
    )


def _decode(token: str, keys: Sequence[str]) -> dict[str, Any]:
    """Verify with the current key, then with each previous key (key rotation)."""
    error: jwt.PyJWTError | None = None
    for key in keys:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                options={"require": ["exp", "iat", "sub", "jti", "type"]},
            )
        except jwt.InvalidSignatureError as exc:
            error = exc
            continue
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        return claims
    raise InvalidToken(str(error or "no verification key"))


def decode_token(token: str, *, key: str | Sequence[str], expected_type: TokenType) -> TokenClaims:
    claims = _decode(token, [key] if isinstance(key, str) else key)
    if claims.get("type") != expected_type:
        raise InvalidToken("wrong token type")
    try:
        subject = int(claims["sub"])
    except (TypeError, ValueError):
        raise InvalidToken("bad subject") from None
    if not 1 <= subject <= MAX_SUBJECT:
        raise InvalidToken("bad subject")
    return TokenClaims(
        subject=subject,
        jti=str(claims["jti"]),
        type=expected_type,
        issued_at=float(claims["iat"]),
        expires_at=datetime.fromtimestamp(int(claims["exp"]), tz=utcnow().tzinfo),
    )
