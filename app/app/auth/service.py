"""Sign-in, token rotation and the end of sessions (keyword-only, shared with the web pages).

Session rules (README "Sessions"): a refresh token is spent when used; presenting it again
within ``REFRESH_REUSE_GRACE_SECONDS`` of its rotation is a concurrent twin (409, nothing
revoked), later it is treated as theft and every refresh token of the user is revoked.
Changing or resetting a password and deactivating a user end every session at once (refresh
tokens revoked, access tokens issued before refused); logout revokes its refresh token.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.orm import Session

from app.auth import repository
from app.auth.models import RefreshToken
from app.auth.schemas import TokenPair
from app.core.config import Settings
from app.core.db import utcnow
from app.core.errors import Conflict, Unauthorized
from app.core.security import (
    InvalidToken,
    TokenClaims,
    create_token,
    decode_token,
    verify_password,
)
from app.users import repository as users_repository
from app.users.models import User

logger = logging.getLogger("app.auth")


def issue_tokens(*, session: Session, user: User, settings: Settings) -> TokenPair:
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


def authenticate(*, session: Session, email: str, password: str) -> User:
    """The active user with this e-mail and password, else 401 ``invalid_credentials``."""
    user = users_repository.get_by_email(session, email=email)
    if not verify_password(password, user.password_hash if user else None) or user is None:
        raise Unauthorized("invalid e-mail or password", code="invalid_credentials")
    if not user.is_active:
        raise Unauthorized("invalid e-mail or password", code="invalid_credentials")
    return user


def login(*, session: Session, email: str, password: str, settings: Settings) -> TokenPair:
    user = authenticate(session=session, email=email, password=password)
    repository.delete_expired(session, user_id=user.id, now=utcnow())
    logger.info("login", extra={"user_id": user.id})
    return issue_tokens(session=session, user=user, settings=settings)


def token_still_valid(user: User, claims: TokenClaims) -> bool:
    """False for a token issued before the user's sessions were ended."""
    cutoff = user.tokens_valid_after
    return cutoff is None or claims.issued_at >= cutoff.timestamp()


class RefreshReuse(Exception):
    """A refresh token was presented again after the grace window: revoke the family."""


def _decode_refresh(token: str, settings: Settings) -> TokenClaims:
    try:
        return decode_token(token, key=settings.verification_keys, expected_type="refresh")
    except InvalidToken:
        raise Unauthorized("invalid or expired refresh token") from None


def refresh(*, session: Session, token: str, settings: Settings) -> TokenPair:
    claims = _decode_refresh(token, settings)
    now = utcnow()
    if not repository.consume(session, jti=claims.jti, user_id=claims.subject, now=now):
        stored = repository.get(session, jti=claims.jti)
        if stored is not None and stored.used_at is not None and stored.revoked_at is None:
            grace = timedelta(seconds=settings.refresh_reuse_grace_seconds)
            if now - stored.used_at <= grace:
                # Two tabs refreshing at once: the twin won and holds the new pair; nothing
                # is revoked.
                raise Conflict(
                    "this refresh token was just rotated by a concurrent request; "
                    "use the tokens that request received",
                    code="refresh_in_progress",
                )
            # Reuse of a rotated token: assume theft, revoke every outstanding token.
            raise RefreshReuse(claims.subject)
        raise Unauthorized("invalid or expired refresh token")
    user = users_repository.get(session, user_id=claims.subject)
    if user is None or not user.is_active or not token_still_valid(user, claims):
        raise Unauthorized("invalid or expired refresh token")
    return issue_tokens(session=session, user=user, settings=settings)


def revoke_family(*, session: Session, user_id: int) -> None:
    repository.revoke_all(session, user_id=user_id, now=utcnow())
    logger.warning("refresh token reuse; revoked all refresh tokens", extra={"user_id": user_id})


def logout(*, session: Session, token: str, settings: Settings) -> None:
    """Revoke one refresh token (idempotent for a token already spent or revoked)."""
    claims = _decode_refresh(token, settings)
    repository.revoke(session, jti=claims.jti, user_id=claims.subject, now=utcnow())
    logger.info("logout", extra={"user_id": claims.subject})


def end_sessions(*, session: Session, user: User) -> None:
    """End every session of ``user`` now: refresh tokens revoked, older access tokens
    refused. (Password change/reset, deactivation.)"""
    now = utcnow()
    repository.revoke_all(session, user_id=user.id, now=now)
    user.tokens_valid_after = now
    session.flush()
    logger.info("sessions ended", extra={"user_id": user.id})
