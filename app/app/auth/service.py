from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from app.auth import repository
from app.auth.models import RefreshToken
from app.auth.schemas import TokenPair
from app.core.config import Settings
from app.core.db import utcnow
from app.core.errors import Unauthorized
from app.core.security import InvalidToken, create_token, decode_token, verify_password
from app.users import repository as users_repository
from app.users.models import User

logger = logging.getLogger("app.auth")


def issue_tokens(session: Session, *, user: User, settings: Settings) -> TokenPair:
    access = create_token(
        subject=user.id,
        token_type="access",
        ttl_seconds=settings.access_token_ttl_seconds,
        key=settings.signing_key,
        extra={"role": user.role},
    )
    refresh = create_token(
        subject=user.id,
        token_type="refresh",
        ttl_seconds=settings.refresh_token_ttl_seconds,
        key=settings.signing_key,
    )
    repository.add(
        session,
        token=RefreshToken(jti=refresh.jti, user_id=user.id, expires_at=refresh.expires_at),
    )
    return TokenPair(
        access_token=access.token,
        refresh_token=refresh.token,
        expires_in=settings.access_token_ttl_seconds,
        refresh_expires_in=settings.refresh_token_ttl_seconds,
    )


def login(session: Session, *, email: str, password: str, settings: Settings) -> TokenPair:
    user = users_repository.get_by_email(session, email=email)
    if not verify_password(password, user.password_hash if user else None) or user is None:
        raise Unauthorized("invalid e-mail or password", code="invalid_credentials")
    if not user.is_active:
        raise Unauthorized("invalid e-mail or password", code="invalid_credentials")
    repository.delete_expired(session, user_id=user.id, now=utcnow())
    logger.info("login", extra={"user_id": user.id})
    return issue_tokens(session, user=user, settings=settings)


class RefreshReuse(Exception):
    """A refresh token was presented a second time: the whole family is revoked."""


def refresh(session: Session, *, token: str, settings: Settings) -> TokenPair:
    try:
        claims = decode_token(token, key=settings.signing_key, expected_type="refresh")
    except InvalidToken:
        raise Unauthorized("invalid or expired refresh token") from None
    now = utcnow()
    if not repository.consume(session, jti=claims.jti, user_id=claims.subject, now=now):
        stored = repository.get(session, jti=claims.jti)
        if stored is not None and stored.used_at is not None:
            # Reuse of a rotated token: assume theft, revoke every outstanding token.
            raise RefreshReuse(claims.subject)
        raise Unauthorized("invalid or expired refresh token")
    user = users_repository.get(session, user_id=claims.subject)
    if user is None or not user.is_active:
        raise Unauthorized("invalid or expired refresh token")
    return issue_tokens(session, user=user, settings=settings)


def revoke_family(session: Session, *, user_id: int) -> None:
    repository.revoke_all(session, user_id=user_id, now=utcnow())
    logger.warning("refresh token reuse; revoked all refresh tokens", extra={"user_id": user_id})
