from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.users.models import User
from tests.conftest import assert_error

U = "/api/v1/users"


def test_users_crud(client: TestClient, admin_h: dict[str, str], admin: User) -> None:
    body = {"email": "New@Example.com", "password": "longpassword", "full_name": "New"}
    r = client.post(U, json=body, headers=admin_h)
    assert r.status_code == 201, r.text
    user = r.json()
    assert user["email"] == "new@example.com"
    assert user["role"] == "member"
    assert client.get(f"{U}/{user['id']}", headers=admin_h).json()["full_name"] == "New"

    listing = client.get(U, params={"q": "new", "limit": 1}, headers=admin_h).json()
    assert listing["total"] == 1
    assert listing["items"][0]["id"] == user["id"]
    assert client.get(U, params={"role": "admin"}, headers=admin_h).json()["total"] == 1

    r = client.patch(
        f"{U}/{user['id']}",
        json={
            "full_name": "Renamed",
            "role": "admin",
            "password": "anotherpass1",
            "email": "renamed@example.com",
        },
        headers=admin_h,
    )
    assert r.status_code == 200, r.text
    assert r.json()["role"] == "admin"
    login = client.post(
        "/api/v1/auth/login", json={"email": "renamed@example.com", "password": "anotherpass1"}
    )
    assert login.status_code == 200

    assert client.delete(f"{U}/{user['id']}", headers=admin_h).status_code == 204
    assert_error(client.get(f"{U}/{user['id']}", headers=admin_h), 404, "not_found")


def test_users_conflicts(
    client: TestClient, admin_h: dict[str, str], admin: User, member: User
) -> None:
    dup = {"email": "member@example.com", "password": "longpassword"}
    assert_error(client.post(U, json=dup, headers=admin_h), 409, "conflict")
    r = client.patch(f"{U}/{member.id}", json={"email": "admin@example.com"}, headers=admin_h)
    assert_error(r, 409)
    assert_error(client.delete(f"{U}/{admin.id}", headers=admin_h), 409)
    assert_error(client.patch(f"{U}/{admin.id}", json={"role": "member"}, headers=admin_h), 409)


def test_admin_cannot_demote_self_when_other_admins_exist(
    client: TestClient, admin_h: dict[str, str], admin: User, make_user: Any
) -> None:
    make_user(role="admin")
    assert_error(client.patch(f"{U}/{admin.id}", json={"is_active": False}, headers=admin_h), 409)


def test_delete_user_with_bookings_conflicts(
    client: TestClient,
    admin_h: dict[str, str],
    member: User,
    member_h: dict[str, str],
    device: dict[str, Any],
) -> None:
    b = {"device_id": device["id"], "start": "2030-01-01T10:00:00Z", "end": "2030-01-01T11:00:00Z"}
    assert client.post("/api/v1/bookings", json=b, headers=member_h).status_code == 201
    assert_error(client.delete(f"{U}/{member.id}", headers=admin_h), 409)


def test_users_validation(client: TestClient, admin_h: dict[str, str], member: User) -> None:
    assert_error(
        client.post(U, json={"email": "bad", "password": "longpassword"}, headers=admin_h), 422
    )
    assert_error(client.post(U, json={"email": "a@b.c", "password": "short"}, headers=admin_h), 422)
    assert_error(
        client.post(
            U, json={"email": "a@b.c", "password": "longpassword", "x": 1}, headers=admin_h
        ),
        422,
    )
    assert_error(client.patch(f"{U}/{member.id}", json={"role": "root"}, headers=admin_h), 422)
    assert_error(client.get(f"{U}/0", headers=admin_h), 422)
    assert_error(client.get(f"{U}/99999999999", headers=admin_h), 422)
    assert_error(client.get(U, params={"limit": 0}, headers=admin_h), 422)


def test_users_not_found(client: TestClient, admin_h: dict[str, str]) -> None:
    assert_error(client.get(f"{U}/4242", headers=admin_h), 404)
    assert_error(client.patch(f"{U}/4242", json={}, headers=admin_h), 404)
    assert_error(client.delete(f"{U}/4242", headers=admin_h), 404)


def test_users_rbac(client: TestClient, member_h: dict[str, str], member: User) -> None:
    assert_error(client.get(U), 401)
    assert_error(client.get(U, headers=member_h), 403, "forbidden")
    assert_error(
        client.post(U, json={"email": "a@b.c", "password": "longpassword"}, headers=member_h), 403
    )
    assert_error(client.get(f"{U}/{member.id}", headers=member_h), 403)
    assert_error(client.patch(f"{U}/{member.id}", json={}, headers=member_h), 403)
    assert_error(client.delete(f"{U}/{member.id}", headers=member_h), 403)


def test_create_admin_with_a_new_password_ends_the_admins_sessions(
    app: FastAPI, client: TestClient, admin: User
) -> None:
    from app.users import service as users_service

    tokens = client.post(
        "/api/v1/auth/login", json={"email": "admin@example.com", "password": "password123"}
    ).json()
    with app.state.db.session_factory.begin() as s:
        same = users_service.ensure_admin(
            session=s, email="admin@example.com", password="password123"
        )
    assert same == "unchanged"
    assert (
        client.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        ).status_code
        == 200
    )
    with app.state.db.session_factory.begin() as s:
        changed = users_service.ensure_admin(
            session=s, email="admin@example.com", password="rotated-password-1"
        )
    assert changed == "updated"
    assert_error(
        client.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        ),
        401,
    )
    assert_error(
        client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401
    )
