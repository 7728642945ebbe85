from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth.service import token_still_valid
from app.core.config import Settings
from app.core.db import SessionDep
from app.core.errors import Forbidden, Unauthorized
from app.core.security import InvalidToken, decode_token
from app.users import repository as users_repository
from app.users.models import User

bearer_scheme = HTTPBearer(auto_error=False, description="Access token from /api/v1/auth/login")


def get_settings_from_app(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings_from_app)]


def get_current_user(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("authentication required")
    try:
        claims = decode_token(
            credentials.credentials, key=settings.verification_keys, expected_type="access"
        )
    except InvalidToken:
        raise Unauthorized("invalid or expired access token") from None
    user = users_repository.get(session, user_id=claims.subject)
    if user is None or not user.is_active or not token_still_valid(user, claims):
        raise Unauthorized("invalid or expired access token")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_admin(user: CurrentUser) -> User:
    if user.role != "admin":
        raise Forbidden("admin role required")
    return user


AdminUser = Annotated[User, Depends(require_admin)]
