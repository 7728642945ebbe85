"""Schemathesis hooks for scripts/test-app.sh (``SCHEMATHESIS_HOOKS=tests.schemathesis_hooks``).

The fuzzer acts as the seeded admin. Its requests may legitimately end that admin's sessions
(``PATCH /users/{id}`` with a new password does, by design), so instead of one fixed bearer
token this provider signs a fresh access token with the server's SECRET_KEY, the way a client
signs in again; schemathesis fetches a new one when a request answers 401 and retries once.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

from app.core import security
from app.core.config import load_settings
from app.core.db import Database
from app.users import repository as users_repository


def _admin_id() -> int:
    settings = load_settings()
    assert settings.admin_email, "ADMIN_EMAIL must name the seeded admin"
    db = Database(settings.database_url)
    try:
        with db.session_factory() as session:
            admin = users_repository.get_by_email(session, email=settings.admin_email)
            assert admin is not None, "run tests.live_seed first"
            return admin.id
    finally:
        db.dispose()


ADMIN_ID = _admin_id()


@schemathesis.auth(refresh_interval=60)
class SeededAdmin:
    def get(self, case: Any, context: Any) -> str:
        return security.create_token(
            subject=ADMIN_ID,
            token_type="access",
            ttl_seconds=300,
            key=os.environ["SECRET_KEY"],
        ).token

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
