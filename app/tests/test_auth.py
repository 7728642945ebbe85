from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.models import RefreshToken
from app.core import security
from app.core.config import Settings
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
    assert_error(client.post("/api/v1/auth/login", content=b"{not json"), 422)


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
    # reusing the spent token fails and revokes the family (the new one stops working too)
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
        {"sub": "abc", "type": "access", "jti": "1", "exp": int(time.time()) + 60},
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
        {"sub": str(2**40), "type": "access", "jti": "1", "exp": int(time.time()) + 60},
        settings.signing_key,
        algorithm="HS256",
    )
    assert_error(client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}), 401)
