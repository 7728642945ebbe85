from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from sqlalchemy.orm import Session

from app.auth import service as auth_service
from app.auth.schemas import TokenPair
from app.core.config import Settings
from app.core.errors import Conflict, Forbidden, NotFound
from app.core.pagination import PageParams
from app.core.security import hash_password, verify_password
from app.users import repository
from app.users.models import User
from app.users.schemas import Role, SelfUpdate, UserCreate, UserUpdate

AdminOutcome = Literal["created", "updated", "unchanged"]


def get(*, session: Session, user_id: int) -> User:
    user = repository.get(session, user_id=user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def list_users(
    *, session: Session, page: PageParams, q: str | None = None, role: Role | None = None
) -> tuple[Sequence[User], int]:
    return repository.list_users(session, q=q, role=role.value if role else None, page=page)


def create(*, session: Session, data: UserCreate) -> User:
    if repository.get_by_email(session, email=data.email) is not None:
        raise Conflict("a user with this e-mail already exists", details={"email": data.email})
    user = User(
        email=data.email,
        full_name=data.full_name,
        password_hash=hash_password(data.password),
        role=data.role.value,
        is_active=data.is_active,
    )
    return repository.add(session, user=user)


def _would_remove_last_admin(session: Session, *, user: User) -> bool:
    return (
        user.role == Role.ADMIN.value
        and user.is_active
        and repository.count_active_admins(session) <= 1
    )


def update(*, session: Session, user: User, data: UserUpdate, actor: User) -> User:
    fields = data.model_dump(exclude_unset=True)
    if "email" in fields and fields["email"] != user.email:
        if repository.get_by_email(session, email=fields["email"]) is not None:
            raise Conflict(
                "a user with this e-mail already exists", details={"email": fields["email"]}
            )
        user.email = fields["email"]
    demoting = fields.get("role") not in (None, Role.ADMIN) or fields.get("is_active") is False
    if demoting and _would_remove_last_admin(session, user=user):
        raise Conflict("the last active admin cannot be demoted or deactivated")
    if user.id == actor.id and demoting:
        raise Conflict("admins cannot demote or deactivate themselves")
    ends_sessions = "password" in fields or (fields.get("is_active") is False and user.is_active)
    if "password" in fields:
        user.password_hash = hash_password(fields["password"])
    if "full_name" in fields:
        user.full_name = fields["full_name"]
    if "role" in fields:
        user.role = Role(fields["role"]).value
    if "is_active" in fields:
        user.is_active = fields["is_active"]
    session.flush()
    if ends_sessions:
        # A reset password or a deactivated account ends every session of that user.
        auth_service.end_sessions(session=session, user=user)
    return user


def update_self(*, session: Session, user: User, data: SelfUpdate) -> User:
    """A user changes their own name or e-mail address."""
    fields = data.model_dump(exclude_unset=True)
    if "email" in fields and fields["email"] != user.email:
        if repository.get_by_email(session, email=fields["email"]) is not None:
            raise Conflict(
                "a user with this e-mail already exists", details={"email": fields["email"]}
            )
        user.email = fields["email"]
    if "full_name" in fields:
        user.full_name = fields["full_name"]
    session.flush()
    return user


def change_own_password(
    *, session: Session, user: User, current_password: str, new_password: str, settings: Settings
) -> TokenPair:
    """Change your own password (the current one is required). Every session ends, and the
    caller gets a fresh token pair, so only the OTHER sessions are signed out."""
    if not verify_password(current_password, user.password_hash):
        raise Forbidden("the current password is wrong", code="wrong_password")
    user.password_hash = hash_password(new_password)
    auth_service.end_sessions(session=session, user=user)
    return auth_service.issue_tokens(session=session, user=user, settings=settings)


def delete(*, session: Session, user: User, actor: User) -> None:
    if user.id == actor.id:
        raise Conflict("admins cannot delete themselves")
    if repository.count_bookings(session, user_id=user.id):
        raise Conflict(
            "user has bookings; deactivate the user instead (is_active=false)",
            details={"user_id": user.id},
        )
    repository.delete(session, user=user)


def ensure_admin(*, session: Session, email: str, password: str) -> AdminOutcome:
    """Create or update the bootstrap admin; idempotent."""
    user = repository.get_by_email(session, email=email)
    if user is None:
        repository.add(
            session,
            user=User(
                email=email.lower(),
                full_name="Administrator",
                password_hash=hash_password(password),
                role=Role.ADMIN.value,
                is_active=True,
            ),
        )
        return "created"
    changed = False
    if not verify_password(password, user.password_hash):
        # A new ADMIN_PASSWORD is a password reset: the admin's sessions end.
        user.password_hash = hash_password(password)
        auth_service.end_sessions(session=session, user=user)
        changed = True
    if user.role != Role.ADMIN.value or not user.is_active:
        user.role = Role.ADMIN.value
        user.is_active = True
        changed = True
    session.flush()
    return "updated" if changed else "unchanged"
