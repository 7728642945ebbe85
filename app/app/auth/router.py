from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse

from app.auth import service
from app.auth.dependencies import CurrentUser, SettingsDep
from app.auth.schemas import LoginRequest, RefreshRequest, TokenPair
from app.core.config import API_V1_STR
from app.core.db import SessionDep
from app.core.errors import ErrorEnvelope, RateLimited, error_response
from app.core.ratelimit import LoginLimiter
from app.users.models import User
from app.users.schemas import UserRead

router = APIRouter(prefix=API_V1_STR, tags=["auth"])

_AUTH_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorEnvelope, "description": "Malformed request body"},
    401: {"model": ErrorEnvelope, "description": "Invalid credentials or token"},
    422: {"model": ErrorEnvelope, "description": "Validation error"},
}


def _client_ip(request: Request) -> str:
    # request.client honours X-Forwarded-For only when uvicorn's proxy-headers middleware
    # trusts the peer (FORWARDED_ALLOW_IPS).
    return request.client.host if request.client else "unknown"


@router.post(
    "/auth/login",
    response_model=TokenPair,
    responses={
        **_AUTH_ERRORS,
        429: {"model": ErrorEnvelope, "description": "Too many login attempts"},
    },
)
def login(
    body: LoginRequest, request: Request, session: SessionDep, settings: SettingsDep
) -> TokenPair:
    """Exchange e-mail and password for an access and a refresh token."""
    limiter: LoginLimiter = request.app.state.login_limiter
    retry_after = limiter.hit(_client_ip(request))
    if retry_after is not None:
        raise RateLimited(
            "too many login attempts; try again later",
            details={"retry_after_seconds": round(retry_after, 1)},
            headers={"Retry-After": limiter.retry_after_header(retry_after)},
        )
    return service.login(
        session=session, email=body.email, password=body.password, settings=settings
    )


@router.post(
    "/auth/refresh",
    response_model=TokenPair,
    responses={
        **_AUTH_ERRORS,
        409: {"model": ErrorEnvelope, "description": "Rotated moments ago by a concurrent twin"},
    },
)
def refresh(
    body: RefreshRequest, session: SessionDep, settings: SettingsDep
) -> TokenPair | JSONResponse:
    """Rotate a refresh token: the presented token is spent, a new pair is returned.

    Presented again within ``REFRESH_REUSE_GRACE_SECONDS``: 409 ``refresh_in_progress``
    (nothing revoked). Later: 401 ``refresh_token_reused`` and every session is revoked."""
    try:
        return service.refresh(session=session, token=body.refresh_token, settings=settings)
    except service.RefreshReuse as reuse:
        service.revoke_family(session=session, user_id=int(reuse.args[0]))
        # Returned, not raised: the revocation must be committed.
        return error_response(
            401,
            "refresh_token_reused",
            "refresh token already used; all sessions were revoked",
            headers={"WWW-Authenticate": "Bearer"},
        )


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, responses=_AUTH_ERRORS)
def logout(body: RefreshRequest, session: SessionDep, settings: SettingsDep) -> Response:
    """Sign out: revoke the refresh token (the short-lived access token expires on its own)."""
    service.logout(session=session, token=body.refresh_token, settings=settings)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/me",
    response_model=UserRead,
    responses={401: {"model": ErrorEnvelope, "description": "Not authenticated"}},
)
def me(user: CurrentUser) -> User:
    """The authenticated user."""
    return user
