from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.auth.models import RefreshToken
from app.core import security
from app.core.config import Settings
from app.core.db import utcnow
from app.users.models import User
from tests.conftest import UserFactory, assert_error, bearer


def login(client: TestClient, email: str, password: str = "password123") -> object:
    return client.post("/api/v1/auth/login", json={"email": email, "password": password})


def test_login_and_me(client: TestClient, member: User) -> None:
    r = login(client, "MEMBER@example.com")
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    tokens = r.json()  # type: ignore[attr-defined]
    assert tokens["token_type"] == "bearer"
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == "member@example.com"
    assert "password_hash" not in me.json()


def test_login_wrong_password_and_unknown_user(client: TestClient, member: User) -> None:
    assert_error(login(client, "member@example.com", "wrong-password"), 401, "invalid_credentials")
    assert_error(login(client, "nobody@example.com"), 401, "invalid_credentials")


def test_login_inactive_user(client: TestClient, make_user: UserFactory) -> None:
    make_user(email="gone@example.com", is_active=False)
    assert_error(login(client, "gone@example.com"), 401)


def test_login_validation(client: TestClient) -> None:
    assert_error(client.post("/api/v1/auth/login", json={"email": "x"}), 422, "validation_error")
    assert_error(
        client.post(
            "/api/v1/auth/login", content=b"{not json", headers={"Content-Type": "application/json"}
        ),
        422,
    )


def test_login_rate_limited(client: TestClient, member: User) -> None:
    for _ in range(5):
        login(client, "member@example.com", "wrong-password")
    r = login(client, "member@example.com")
    err = assert_error(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) >= 1  # type: ignore[attr-defined]
    assert err["details"]["retry_after_seconds"] > 0


def test_refresh_rotation(client: TestClient, member: User, session: Session) -> None:
    first = login(client, "member@example.com").json()  # type: ignore[attr-defined]
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    # the new access token works
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {second['access_token']}"})
    assert me.status_code == 200
    # within the grace window the spent token is a concurrent twin: 409, nothing revoked
    twin = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert_error(twin, 409, "refresh_in_progress")
    assert session.scalar(select(func.count()).where(RefreshToken.revoked_at.is_not(None))) == 0
    # after the window, reusing the spent token revokes the family (the new one too)
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.used_at.is_not(None))
        .values(used_at=utcnow() - timedelta(seconds=60))
    )
    session.commit()
    reuse = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert_error(reuse, 401, "refresh_token_reused")
    again = client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert_error(again, 401)
    revoked = session.scalar(
        select(func.count()).where(
            RefreshToken.user_id == member.id, RefreshToken.revoked_at.is_not(None)
        )
    )
    assert revoked and revoked >= 1


def test_refresh_rejects_garbage_and_access_tokens(
    client: TestClient, member: User, settings: Settings
) -> None:
    assert_error(client.post("/api/v1/auth/refresh", json={"refresh_token": "nope"}), 401)
    access = bearer(member, settings)["Authorization"].split()[1]
    assert_error(client.post("/api/v1/auth/refresh", json={"refresh_token": access}), 401)
    unknown = security.create_token(
        subject=member.id, token_type="refresh", ttl_seconds=60, key=settings.signing_key
    )
    assert_error(client.post("/api/v1/auth/refresh", json={"refresh_token": unknown.token}), 401)
    assert_error(client.post("/api/v1/auth/refresh", json={}), 422)


def test_refresh_for_deactivated_user(
    client: TestClient, member: User, admin_h: dict[str, str]
) -> None:
    tokens = login(client, "member@example.com").json()  # type: ignore[attr-defined]
    client.patch(f"/api/v1/users/{member.id}", json={"is_active": False}, headers=admin_h)
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert_error(r, 401)


def test_me_requires_valid_token(client: TestClient, member: User, settings: Settings) -> None:
    assert_error(client.get("/api/v1/me"), 401, "unauthorized")
    assert_error(client.get("/api/v1/me", headers={"Authorization": "Bearer x.y.z"}), 401)
    assert_error(client.get("/api/v1/me", headers={"Authorization": "Basic abc"}), 401)
    wrong_key = bearer(member, settings, key="k" * 40)
    assert_error(client.get("/api/v1/me", headers=wrong_key), 401)
    expired = bearer(member, settings, ttl=-10)
    assert_error(client.get("/api/v1/me", headers=expired), 401)
    refresh = security.create_token(
        subject=member.id, token_type="refresh", ttl_seconds=60, key=settings.signing_key
    )
    assert_error(
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {refresh.token}"}), 401
    )


def test_token_for_deleted_user(client: TestClient, settings: Settings) -> None:
    ghost = User(id=999_999, email="ghost@example.com", password_hash="x", role="admin")
    assert_error(client.get("/api/v1/me", headers=bearer(ghost, settings)), 401)


def test_bad_subject_claim(client: TestClient, settings: Settings) -> None:
    import jwt

    token = jwt.encode(
        {"sub": "abc", "type": "access", "jti": "1", "iat": time.time(), "exp": time.time() + 60},
        settings.signing_key,
        algorithm="HS256",
    )
    assert_error(client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}), 401)


def test_verify_password_edge_cases() -> None:
    h = security.hash_password("s3cret-password")
    assert security.verify_password("s3cret-password", h)
    assert not security.verify_password("other", h)
    assert not security.verify_password("s3cret-password", None)
    assert not security.verify_password("s3cret-password", "not-a-hash")


def test_out_of_range_subject(client: TestClient, settings: Settings) -> None:
    import jwt

    token = jwt.encode(
        {"sub": str(2**40), "type": "access", "jti": "1", "iat": 1, "exp": time.time() + 60},
        settings.signing_key,
        algorithm="HS256",
    )
    assert_error(client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}), 401)


def _auth(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def _refresh(client: TestClient, tokens: dict[str, str]) -> object:
    return client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})


def test_concurrent_refreshes_one_wins_none_revoked(app: FastAPI, member: User) -> None:
    tokens = login(TestClient(app), "member@example.com").json()  # type: ignore[attr-defined]
    barrier = threading.Barrier(4)

    def go(_: int) -> int:
        client = TestClient(app)
        barrier.wait(5)
        return int(_refresh(client, tokens).status_code)  # type: ignore[attr-defined]

    with ThreadPoolExecutor(4) as pool:
        codes = sorted(pool.map(go, range(4)))
    assert codes == [200, 409, 409, 409], codes
    with app.state.db.session_factory() as s:
        assert s.scalar(select(func.count()).where(RefreshToken.revoked_at.is_not(None))) == 0


def test_logout_revokes_the_refresh_token(client: TestClient, member: User) -> None:
    tokens = login(client, "member@example.com").json()  # type: ignore[attr-defined]
    other = login(client, "member@example.com").json()  # type: ignore[attr-defined]
    r = client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 204, r.text
    assert_error(_refresh(client, tokens), 401)
    # logout is idempotent, and the other session lives on
    again = client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert again.status_code == 204
    assert _refresh(client, other).status_code == 200  # type: ignore[attr-defined]
    assert_error(client.post("/api/v1/auth/logout", json={"refresh_token": "x.y.z"}), 401)


def test_change_own_password_ends_other_sessions(client: TestClient, member: User) -> None:
    mine = login(client, "member@example.com").json()  # type: ignore[attr-defined]
    other = login(client, "member@example.com").json()  # type: ignore[attr-defined]
    wrong = client.post(
        "/api/v1/users/me/password",
        json={"current_password": "nope", "new_password": "new-password-1"},
        headers=_auth(mine),
    )
    assert_error(wrong, 403, "wrong_password")
    r = client.post(
        "/api/v1/users/me/password",
        json={"current_password": "password123", "new_password": "new-password-1"},
        headers=_auth(mine),
    )
    assert r.status_code == 200, r.text
    fresh = r.json()
    # the other session: refresh token revoked and its access token refused
    assert_error(_refresh(client, other), 401)
    assert_error(client.get("/api/v1/users/me", headers=_auth(other)), 401)
    # the caller's old pair is gone too; the pair returned works
    assert_error(client.get("/api/v1/users/me", headers=_auth(mine)), 401)
    assert client.get("/api/v1/users/me", headers=_auth(fresh)).status_code == 200
    assert _refresh(client, fresh).status_code == 200  # type: ignore[attr-defined]
    assert login(client, "member@example.com", "new-password-1").status_code == 200  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "change", [{"password": "reset-by-admin-1"}, {"is_active": False}], ids=["reset", "deactivate"]
)
def test_admin_reset_or_deactivation_ends_sessions(
    client: TestClient, member: User, admin_h: dict[str, str], change: dict[str, object]
) -> None:
    tokens = login(client, "member@example.com").json()  # type: ignore[attr-defined]
    r = client.patch(f"/api/v1/users/{member.id}", json=change, headers=admin_h)
    assert r.status_code == 200, r.text
    assert_error(_refresh(client, tokens), 401)
    assert_error(client.get("/api/v1/users/me", headers=_auth(tokens)), 401)


def test_users_me_get_and_patch(
    client: TestClient, member: User, admin: User, member_h: dict[str, str]
) -> None:
    me = client.get("/api/v1/users/me", headers=member_h)
    assert me.status_code == 200 and me.json()["id"] == member.id
    r = client.patch("/api/v1/users/me", json={"full_name": "Ada Lovelace"}, headers=member_h)
    assert r.status_code == 200 and r.json()["full_name"] == "Ada Lovelace"
    assert_error(client.patch("/api/v1/users/me", json={"full_name": None}, headers=member_h), 422)
    assert_error(client.patch("/api/v1/users/me", json={"role": "admin"}, headers=member_h), 422)
    taken = client.patch("/api/v1/users/me", json={"email": "ADMIN@example.com"}, headers=member_h)
    assert_error(taken, 409, "conflict")
    r = client.patch("/api/v1/users/me", json={"email": "ADA@example.com"}, headers=member_h)
    assert r.status_code == 200 and r.json()["email"] == "ada@example.com"


def test_token_signed_with_previous_key_still_verifies(
    app: FastAPI, member: User, settings: Settings
) -> None:
    old_key = "old-" + "q7w8e9" * 7
    rotated = settings.model_copy(update={"previous_secret_keys": f" {old_key} , "})
    app.state.settings = rotated
    client = TestClient(app)
    assert (
        client.get("/api/v1/users/me", headers=bearer(member, settings, key=old_key)).status_code
        == 200
    )
    assert_error(
        client.get("/api/v1/users/me", headers=bearer(member, settings, key="x" * 40)), 401
    )
    # new tokens are signed with the current key only
    tokens = login(client, "member@example.com").json()  # type: ignore[attr-defined]
    security.decode_token(tokens["access_token"], key=settings.signing_key, expected_type="access")
    with pytest.raises(security.InvalidToken):
        security.decode_token(tokens["access_token"], key=old_key, expected_type="access")
