"""Cookie sessions and CSRF tokens of the web UI.

A signed-in browser holds one cookie, ``vmstack_session``: a short JWT (type ``web``) that
names the user and the ``jti`` of a row in ``refresh_tokens``. That row is issued by the
same ``auth.service.login`` as an API sign-in, so logout, a password change or a
deactivation revoke browser sessions and API refresh tokens through one mechanism; the
cookie is accepted only while its row is unrevoked, unused and unexpired.

CSRF: a second cookie, ``vmstack_csrf`` (random, HttpOnly, SameSite=Strict), and a token
derived from it with an HMAC over the signing key, bound to the session's ``jti``. Every
form carries the token in a hidden field, htmx sends it as the ``X-CSRF-Token`` header. A
cross-site page can neither read the cookie nor compute the HMAC.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
from fastapi import Request, Response

from app.core.config import Settings
from app.core.rootpath import root_path_of
from app.core.security import ALGORITHM, MAX_SUBJECT

SESSION_COOKIE = "vmstack_session"
CSRF_COOKIE = "vmstack_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_TOKEN_TYPE = "web"
_CSRF_COOKIE_MAX_AGE = 400 * 86_400  # browsers cap cookie lifetimes at 400 days


@dataclass(frozen=True, slots=True)
class SessionClaims:
    user_id: int
    jti: str


def verification_keys(settings: Settings) -> list[str]:
    """The signing key first, then any previous keys still accepted (key rotation)."""
    return list(settings.verification_keys)


def encode_session(*, user_id: int, jti: str, expires_at: datetime, settings: Settings) -> str:
    claims = {
        "sub": str(user_id),
        "jti": jti,
        "type": SESSION_TOKEN_TYPE,
        "exp": int(expires_at.timestamp()),
    }
    return jwt.encode(claims, settings.signing_key, algorithm=ALGORITHM)


def _claims(token: str, settings: Settings) -> dict[str, object] | None:
    for key in verification_keys(settings):
        try:
            claims: dict[str, object] = jwt.decode(
                token, key, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "jti"]}
            )
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError:
            return None
        return claims
    return None


def decode_session(token: str | None, settings: Settings) -> SessionClaims | None:
    """The claims of a well-signed, unexpired session cookie (its row is checked elsewhere)."""
    claims = _claims(token, settings) if token else None
    if claims is None or claims.get("type") != SESSION_TOKEN_TYPE:
        return None
    sub = str(claims.get("sub", ""))
    user_id = int(sub) if sub.isdigit() and len(sub) <= 10 else 0
    if not 1 <= user_id <= MAX_SUBJECT:
        return None
    return SessionClaims(user_id=user_id, jti=str(claims["jti"]))


def is_https(request: Request) -> bool:
    # uvicorn's proxy-headers middleware sets the scheme from X-Forwarded-Proto, but only
    # for a trusted peer (FORWARDED_ALLOW_IPS: nginx's edge address).
    return request.url.scheme == "https"


def cookie_path(request: Request) -> str:
    """The cookies belong to the prefix the service is published under (``ROOT_PATH``), so a
    browser sends them to this service only, not to the one at ``/``."""
    return root_path_of(request.scope) or "/"


def _session_cookie_attributes(request: Request, path: str) -> dict[str, Any]:
    """What the session cookie is set and expired with (a browser matches both on them)."""
    return {"path": path, "httponly": True, "secure": is_https(request), "samesite": "lax"}


def set_session_cookie(response: Response, request: Request, *, value: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=max_age,
        **_session_cookie_attributes(request, cookie_path(request)),
    )
    _clear_root_session_cookie(response, request)


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, **_session_cookie_attributes(request, cookie_path(request))
    )
    _clear_root_session_cookie(response, request)


def _clear_root_session_cookie(response: Response, request: Request) -> None:
    """Under a prefix, also expire a session cookie of Path=/ (left from when the service
    was published at /): the browser would send it along with the new one, and the server
    reads the last of two same-named cookies, i.e. the old one."""
    if cookie_path(request) != "/":
        response.delete_cookie(SESSION_COOKIE, **_session_cookie_attributes(request, "/"))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def csrf_token_for(*, cookie: str, session_jti: str, settings: Settings) -> str:
    mac = hmac.new(
        settings.signing_key.encode(),
        f"vmstack-csrf|{cookie}|{session_jti}".encode(),
        hashlib.sha256,
    )
    return _b64(mac.digest())


def csrf_cookie_value(request: Request) -> tuple[str, bool]:
    """The browser's CSRF cookie, or a new one (``True``: the response must set it)."""
    existing = request.cookies.get(CSRF_COOKIE, "")
    if 20 <= len(existing) <= 100 and existing.replace("-", "").replace("_", "").isalnum():
        return existing, False
    cached = getattr(request.state, "new_csrf_cookie", None)
    if isinstance(cached, str):
        return cached, True
    fresh = secrets.token_urlsafe(32)
    request.state.new_csrf_cookie = fresh
    return fresh, True


def set_csrf_cookie(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        CSRF_COOKIE,
        value,
        max_age=_CSRF_COOKIE_MAX_AGE,
        path=cookie_path(request),
        httponly=True,
        secure=is_https(request),
        samesite="strict",
    )


def session_jti_of(request: Request, settings: Settings) -> str:
    claims = decode_session(request.cookies.get(SESSION_COOKIE), settings)
    return claims.jti if claims else ""


def expected_csrf_token(request: Request, settings: Settings) -> str:
    cookie, _ = csrf_cookie_value(request)
    return csrf_token_for(
        cookie=cookie, session_jti=session_jti_of(request, settings), settings=settings
    )


def csrf_valid(request: Request, settings: Settings, sent: str | None) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not sent:
        return False
    expected = csrf_token_for(
        cookie=cookie, session_jti=session_jti_of(request, settings), settings=settings
    )
    return hmac.compare_digest(expected.encode(), sent.encode())
