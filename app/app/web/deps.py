"""Who is signed in (cookie session), who may see admin pages, and the CSRF check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from app.auth import repository as auth_repository
from app.core.config import Settings
from app.core.db import SessionDep, utcnow
from app.core.rootpath import below_root, root_path_of
from app.users import repository as users_repository
from app.users.models import User
from app.web import session as web_session

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class LoginRequired(Exception):
    """No valid session: the page answers with a redirect to the sign-in form."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class PageForbidden(Exception):
    """The signed-in user may not see this page (or the form's CSRF token is wrong)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Identity:
    """What the page templates show of the signed-in user: plain values, still readable
    after the request's database session has closed (error pages render after that)."""

    id: int
    email: str
    full_name: str
    role: str


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def safe_next(value: str | None, default: str = "/devices") -> str:
    """Only a local path may be a redirect target (no scheme, no //host)."""
    if (
        not value
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(c) < 33 or ord(c) == 127 for c in value)  # browsers drop tabs: "/\t/x"
    ):
        return default
    return value


def load_web_user(request: Request, session: SessionDep) -> User | None:
    settings = settings_of(request)
    claims = web_session.decode_session(request.cookies.get(web_session.SESSION_COOKIE), settings)
    user: User | None = None
    if claims is not None:
        row = auth_repository.get(session, jti=claims.jti)
        if (
            row is not None
            and row.user_id == claims.user_id
            and row.revoked_at is None
            and row.used_at is None
            and row.expires_at > utcnow()
        ):
            candidate = users_repository.get(session, user_id=claims.user_id)
            if candidate is not None and candidate.is_active:
                user = candidate
                request.state.session_jti = claims.jti
    request.state.web_user = (
        Identity(id=user.id, email=user.email, full_name=user.full_name, role=user.role)
        if user
        else None
    )
    return user


OptionalWebUser = Annotated[User | None, Depends(load_web_user)]


def require_web_user(request: Request, user: OptionalWebUser) -> User:
    if user is None:
        # The page to come back to, as a path of this service (below ROOT_PATH).
        path = below_root(request.url.path, root_path_of(request.scope))
        target = path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(safe_next(target))
    return user


WebUser = Annotated[User, Depends(require_web_user)]


def require_web_admin(user: WebUser) -> User:
    if user.role != "admin":
        raise PageForbidden("This page is for administrators.")
    return user


WebAdmin = Annotated[User, Depends(require_web_admin)]


async def csrf_protect(request: Request) -> None:
    """Refuse an unsafe request whose CSRF token (header or form field) does not match."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(web_session.CSRF_HEADER)
    if not sent:
        form = await request.form()
        value = form.get(web_session.CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not web_session.csrf_valid(request, settings_of(request), sent):
        raise PageForbidden(
            "The form's security token did not match (it may have expired). "
            "Reload the page and try again."
        )
