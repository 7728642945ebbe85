from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.auth.models import RefreshToken


def add(session: Session, *, token: RefreshToken) -> None:
    session.add(token)
    session.flush()


def get(session: Session, *, jti: str) -> RefreshToken | None:
    return session.get(RefreshToken, jti)


def consume(session: Session, *, jti: str, user_id: int, now: datetime) -> bool:
    """Mark an unused, unrevoked, unexpired token used; True if this call won the race."""
    result = session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.jti == jti,
            RefreshToken.user_id == user_id,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def revoke(session: Session, *, jti: str, user_id: int, now: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.jti == jti,
            RefreshToken.user_id == user_id,
            RefreshToken.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )


def revoke_all(session: Session, *, user_id: int, now: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )


def delete_expired(session: Session, *, user_id: int, now: datetime) -> None:
    from sqlalchemy import delete

    session.execute(
        delete(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.expires_at < now)
        .execution_options(synchronize_session=False)
    )
