from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.users.models import User
from tests.conftest import UserFactory, assert_error, bearer

B = "/api/v1/bookings"


def slot(device_id: int, start: str, end: str, **extra: Any) -> dict[str, Any]:
    return {"device_id": device_id, "start": start, "end": end, **extra}


def test_create_and_get_booking(
    client: TestClient, member_h: dict[str, str], member: User, device: dict[str, Any]
) -> None:
    r = client.post(
        B,
        json=slot(
            device["id"], "2030-01-01T10:00:00+02:00", "2030-01-01T11:00:00+02:00", purpose="EMC"
        ),
        headers=member_h,
    )
    assert r.status_code == 201, r.text
    b = r.json()
    assert b["start"].startswith("2030-01-01T08:00:00") and b["start"].endswith(("Z", "+00:00"))
    assert b["user_id"] == member.id and b["status"] == "active"
    assert client.get(f"{B}/{b['id']}", headers=member_h).json()["purpose"] == "EMC"


def test_overlap_conflict_names_booking(
    client: TestClient, member_h: dict[str, str], admin_h: dict[str, str], device: dict[str, Any]
) -> None:
    first = client.post(
        B, json=slot(device["id"], "2030-01-01T10:00:00Z", "2030-01-01T12:00:00Z"), headers=member_h
    ).json()
    r = client.post(
        B, json=slot(device["id"], "2030-01-01T11:00:00Z", "2030-01-01T13:00:00Z"), headers=admin_h
    )
    err = assert_error(r, 409, "booking_conflict")
    assert err["details"]["booking_id"] == first["id"]
    assert err["details"]["start"].startswith("2030-01-01T10:00:00")
    assert err["details"]["end"].startswith("2030-01-01T12:00:00")
    assert [c["booking_id"] for c in err["details"]["conflicts"]] == [first["id"]]
    # touching windows do not overlap
    ok = client.post(
        B, json=slot(device["id"], "2030-01-01T12:00:00Z", "2030-01-01T13:00:00Z"), headers=admin_h
    )
    assert ok.status_code == 201
    # cancelled bookings do not conflict
    assert client.post(f"{B}/{first['id']}/cancel", headers=member_h).status_code == 200
    again = client.post(
        B, json=slot(device["id"], "2030-01-01T10:30:00Z", "2030-01-01T11:30:00Z"), headers=admin_h
    )
    assert again.status_code == 201


_NOW = datetime.now(UTC).replace(microsecond=0)


def _iso(delta: timedelta) -> str:
    return (_NOW + delta).isoformat()


@pytest.mark.parametrize(
    ("start", "end", "rule"),
    [
        ("2030-01-01T10:00:00Z", "2030-01-01T10:00:00Z", None),  # empty window (schema)
        ("2030-01-01T10:00:00Z", "2030-01-01T09:00:00Z", None),  # end before start
        ("2030-01-01T10:00:00", "2030-01-01T11:00:00", None),  # no offset
        (1893492000, 1893495600, None),  # numbers are not datetimes
        ("0001-01-01T00:00:00+01:00", "2030-01-01T11:00:00Z", None),
        ("9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59Z", None),
        ("2000-01-01T10:00:00Z", "2000-01-01T11:00:00Z", "start_in_past"),
        (_iso(timedelta(hours=-1)), _iso(timedelta(hours=1)), "start_in_past"),
        ("2030-01-01T10:00:00Z", "2030-01-01T10:00:00.000001Z", "min_length"),
        ("2030-01-01T10:00:00Z", "2030-01-01T10:04:59Z", "min_length"),
        ("2030-01-01T10:00:00Z", "2030-01-15T10:00:01Z", "max_length"),
    ],
)
def test_invalid_windows_are_422(
    client: TestClient,
    member_h: dict[str, str],
    device: dict[str, Any],
    start: Any,
    end: Any,
    rule: str | None,
) -> None:
    err = assert_error(client.post(B, json=slot(device["id"], start, end), headers=member_h), 422)
    if rule is not None:
        assert err["code"] == "booking_rule" and err["details"]["rule"] == rule


def test_booking_rules_edges_are_accepted(
    client: TestClient, member_h: dict[str, str], make_device: Any
) -> None:
    within_grace = slot(make_device()["id"], _iso(timedelta(minutes=-4)), _iso(timedelta(hours=1)))
    assert client.post(B, json=within_grace, headers=member_h).status_code == 201
    exactly_min = slot(make_device()["id"], "2030-01-01T10:00:00Z", "2030-01-01T10:05:00Z")
    assert client.post(B, json=exactly_min, headers=member_h).status_code == 201
    exactly_max = slot(make_device()["id"], "2030-01-01T10:00:00Z", "2030-01-15T10:00:00Z")
    assert client.post(B, json=exactly_max, headers=member_h).status_code == 201


@pytest.mark.parametrize(
    "body",
    [
        {"device_id": True},
        {"device_id": "1"},
        {"device_id": 1.5},
        {"user_id": False},
    ],
)
def test_ids_are_integers_not_booleans_or_strings(
    client: TestClient, member_h: dict[str, str], device: dict[str, Any], body: dict[str, Any]
) -> None:
    payload = slot(device["id"], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z") | body
    assert_error(client.post(B, json=payload, headers=member_h), 422, "validation_error")


def test_unknown_device_and_missing_fields_are_422(
    client: TestClient, member_h: dict[str, str], device: dict[str, Any]
) -> None:
    assert_error(
        client.post(
            B, json=slot(4242, "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z"), headers=member_h
        ),
        422,
    )
    assert_error(client.post(B, json={"device_id": device["id"]}, headers=member_h), 422)


def test_unavailable_devices_are_409(
    client: TestClient, member_h: dict[str, str], make_device: Any
) -> None:
    for status in ("maintenance", "retired"):
        d = make_device(status=status)
        err = assert_error(
            client.post(
                B,
                json=slot(d["id"], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z"),
                headers=member_h,
            ),
            409,
            "device_unavailable",
        )
        assert err["details"]["status"] == status


def test_member_permissions(
    client: TestClient,
    make_user: UserFactory,
    settings: Any,
    member_h: dict[str, str],
    member: User,
    device: dict[str, Any],
) -> None:
    other = make_user()
    other_h = bearer(other, settings)
    mine = client.post(
        B, json=slot(device["id"], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z"), headers=member_h
    ).json()
    assert_error(client.get(f"{B}/{mine['id']}", headers=other_h), 403)
    assert_error(client.post(f"{B}/{mine['id']}/cancel", headers=other_h), 403)
    assert_error(client.patch(f"{B}/{mine['id']}", json={"purpose": "x"}, headers=other_h), 403)
    assert_error(
        client.post(
            B,
            json=slot(
                device["id"], "2030-01-02T10:00:00Z", "2030-01-02T11:00:00Z", user_id=member.id
            ),
            headers=other_h,
        ),
        403,
    )
    # own user_id is fine
    r = client.post(
        B,
        json=slot(device["id"], "2030-01-02T10:00:00Z", "2030-01-02T11:00:00Z", user_id=other.id),
        headers=other_h,
    )
    assert r.status_code == 201
    # listing: members only see their own
    assert client.get(B, headers=other_h).json()["total"] == 1
    assert_error(client.get(B, params={"user_id": member.id}, headers=other_h), 403)
    assert_error(client.get(B), 401)
    assert_error(client.get(f"{B}/4242", headers=member_h), 404)
    assert_error(client.post(f"{B}/4242/cancel", headers=member_h), 404)
    assert_error(client.patch(f"{B}/4242", json={}, headers=member_h), 404)


def test_admin_manages_any_booking(
    client: TestClient,
    admin_h: dict[str, str],
    member_h: dict[str, str],
    member: User,
    device: dict[str, Any],
) -> None:
    r = client.post(
        B,
        json=slot(device["id"], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z", user_id=member.id),
        headers=admin_h,
    )
    assert r.status_code == 201 and r.json()["user_id"] == member.id
    assert_error(
        client.post(
            B,
            json=slot(device["id"], "2030-02-01T10:00:00Z", "2030-02-01T11:00:00Z", user_id=4242),
            headers=admin_h,
        ),
        422,
    )
    b = r.json()
    listing = client.get(
        B,
        params={
            "user_id": member.id,
            "device_id": device["id"],
            "status": "active",
            "from": "2030-01-01T00:00:00Z",
            "to": "2030-01-02T00:00:00Z",
        },
        headers=admin_h,
    ).json()
    assert [x["id"] for x in listing["items"]] == [b["id"]]
    assert (
        client.get(B, params={"from": "2030-01-01T11:00:00Z"}, headers=admin_h).json()["total"] == 0
    )
    r = client.post(f"{B}/{b['id']}/cancel", headers=admin_h)
    assert r.json()["status"] == "cancelled" and r.json()["cancelled_at"]
    assert_error(client.post(f"{B}/{b['id']}/cancel", headers=admin_h), 409)
    assert_error(client.patch(f"{B}/{b['id']}", json={"purpose": "x"}, headers=member_h), 409)


def test_update_booking(
    client: TestClient, member_h: dict[str, str], device: dict[str, Any]
) -> None:
    a = client.post(
        B, json=slot(device["id"], "2030-01-01T10:00:00Z", "2030-01-01T11:00:00Z"), headers=member_h
    ).json()
    b = client.post(
        B, json=slot(device["id"], "2030-01-01T12:00:00Z", "2030-01-01T13:00:00Z"), headers=member_h
    ).json()
    r = client.patch(
        f"{B}/{a['id']}",
        json={"end": "2030-01-01T12:00:00Z", "purpose": "longer"},
        headers=member_h,
    )
    assert r.status_code == 200, r.text
    assert r.json()["end"].startswith("2030-01-01T12:00:00") and r.json()["purpose"] == "longer"
    err = assert_error(
        client.patch(f"{B}/{a['id']}", json={"end": "2030-01-01T12:30:00Z"}, headers=member_h), 409
    )
    assert err["details"]["booking_id"] == b["id"]
    assert_error(
        client.patch(f"{B}/{a['id']}", json={"start": "2030-01-01T12:00:00Z"}, headers=member_h),
        422,
    )
    assert (
        client.patch(
            f"{B}/{a['id']}", json={"purpose": "only purpose"}, headers=member_h
        ).status_code
        == 200
    )


def test_availability(
    client: TestClient, member_h: dict[str, str], admin_h: dict[str, str], device: dict[str, Any]
) -> None:
    for s, e in (("10", "11"), ("13", "14")):
        client.post(
            B,
            json=slot(device["id"], f"2030-01-01T{s}:00:00Z", f"2030-01-01T{e}:00:00Z"),
            headers=member_h,
        )
    c = client.post(
        B, json=slot(device["id"], "2030-01-01T15:00:00Z", "2030-01-01T16:00:00Z"), headers=member_h
    ).json()
    client.post(f"{B}/{c['id']}/cancel", headers=member_h)
    url = f"/api/v1/devices/{device['id']}/availability"
    r = client.get(
        url, params={"from": "2030-01-01T09:00:00Z", "to": "2030-01-01T17:00:00Z"}, headers=member_h
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["from"].startswith("2030-01-01T09:00:00")
    assert [(b["start"][11:16], b["end"][11:16]) for b in body["busy"]] == [
        ("10:00", "11:00"),
        ("13:00", "14:00"),
    ]
    assert [(f["start"][11:16], f["end"][11:16]) for f in body["free"]] == [
        ("09:00", "10:00"),
        ("11:00", "13:00"),
        ("14:00", "17:00"),
    ]
    # window fully inside a booking: no free time
    r = client.get(
        url, params={"from": "2030-01-01T10:15:00Z", "to": "2030-01-01T10:45:00Z"}, headers=member_h
    )
    assert r.json()["free"] == [] and len(r.json()["busy"]) == 1
    assert_error(
        client.get(
            url,
            params={"from": "2030-01-01T10:00:00Z", "to": "2030-01-01T09:00:00Z"},
            headers=member_h,
        ),
        422,
    )
    assert_error(
        client.get(
            url,
            params={"from": "2030-01-01T10:00:00Z", "to": "2032-01-01T09:00:00Z"},
            headers=member_h,
        ),
        422,
    )
    assert_error(client.get(url, params={"from": "2030-01-01T10:00:00"}, headers=member_h), 422)
    assert_error(
        client.get(
            "/api/v1/devices/4242/availability",
            params={"from": "2030-01-01T10:00:00Z", "to": "2030-01-01T11:00:00Z"},
            headers=member_h,
        ),
        404,
    )
    assert_error(
        client.get(url, params={"from": "2030-01-01T10:00:00Z", "to": "2030-01-01T11:00:00Z"}), 401
    )
    # a device in maintenance has no free windows
    client.patch(f"/api/v1/devices/{device['id']}", json={"status": "maintenance"}, headers=admin_h)
    r = client.get(
        url, params={"from": "2030-01-02T00:00:00Z", "to": "2030-01-03T00:00:00Z"}, headers=member_h
    )
    assert r.json()["free"] == [] and r.json()["status"] == "maintenance"
    # devices with bookings cannot be deleted
    assert_error(client.delete(f"/api/v1/devices/{device['id']}", headers=admin_h), 409)


@pytest.mark.parametrize("value", ["0.5", "1893492000", "tomorrow"])
def test_query_datetimes_must_be_iso_strings(
    client: TestClient, member_h: dict[str, str], value: str
) -> None:
    assert_error(client.get(B, params={"from": value}, headers=member_h), 422, "validation_error")
