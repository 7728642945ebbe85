from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.bookings.models import Booking
from app.core.pagination import PageParams, paginate
from app.users.models import User


def get(session: Session, *, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_by_email(session: Session, *, email: str) -> User | None:
    return session.scalars(select(User).where(User.email == email.lower())).one_or_none()


def list_users(
    session: Session, *, q: str | None, role: str | None, page: PageParams
) -> tuple[Sequence[User], int]:
    stmt = select(User)
    if q:
        stmt = stmt.where(User.search_matches(q))
    if role:
        stmt = stmt.where(User.role == role)
    return paginate(session, stmt, page=page, order_by=(User.id,))


def count_bookings(session: Session, *, user_id: int) -> int:
    return session.scalar(select(func.count()).where(Booking.user_id == user_id)) or 0


def count_active_admins(session: Session) -> int:
    return (
        session.scalar(select(func.count()).where(User.role == "admin", User.is_active.is_(True)))
        or 0
    )


def add(session: Session, *, user: User) -> User:
    session.add(user)
    session.flush()
    return user


def delete(session: Session, *, user: User) -> None:
    session.delete(user)
    session.flush()
