from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import assert_error

T = "/api/v1/device-types"
D = "/api/v1/devices"
I = "/api/v1/inventory-items"  # noqa: E741


def test_device_types_crud(
    client: TestClient, admin_h: dict[str, str], member_h: dict[str, str]
) -> None:
    r = client.post(T, json={"name": "Logic analyser", "description": "16ch"}, headers=admin_h)
    assert r.status_code == 201
    t = r.json()
    assert_error(client.post(T, json={"name": "Logic analyser"}, headers=admin_h), 409)
    assert client.get(T, params={"q": "logic"}, headers=member_h).json()["total"] == 1
    assert client.get(f"{T}/{t['id']}", headers=member_h).json()["name"] == "Logic analyser"
    r = client.patch(f"{T}/{t['id']}", json={"name": "LA", "description": "x"}, headers=admin_h)
    assert r.json()["name"] == "LA"
    client.post(T, json={"name": "Other"}, headers=admin_h)
    assert_error(client.patch(f"{T}/{t['id']}", json={"name": "Other"}, headers=admin_h), 409)
    assert client.delete(f"{T}/{t['id']}", headers=admin_h).status_code == 204
    assert_error(client.get(f"{T}/{t['id']}", headers=member_h), 404)
    assert_error(client.patch(f"{T}/{t['id']}", json={}, headers=admin_h), 404)
    assert_error(client.delete(f"{T}/{t['id']}", headers=admin_h), 404)


def test_device_types_rbac_and_validation(
    client: TestClient, admin_h: dict[str, str], member_h: dict[str, str]
) -> None:
    assert_error(client.get(T), 401)
    assert_error(client.post(T, json={"name": "x"}, headers=member_h), 403)
    assert_error(client.patch(f"{T}/1", json={}, headers=member_h), 403)
    assert_error(client.delete(f"{T}/1", headers=member_h), 403)
    assert_error(client.post(T, json={"name": ""}, headers=admin_h), 422)
    assert_error(client.post(T, json={"name": "a\x00b"}, headers=admin_h), 422)


def test_device_type_in_use(
    client: TestClient, admin_h: dict[str, str], device: dict[str, Any]
) -> None:
    r = client.delete(f"{T}/{device['device_type_id']}", headers=admin_h)
    assert_error(r, 409)


def test_devices_crud_and_filters(
    client: TestClient,
    admin_h: dict[str, str],
    member_h: dict[str, str],
    make_device: Any,
    device_type: dict[str, Any],
) -> None:
    a = make_device(name="Keysight DSOX", location="Lab A")
    b = make_device(name="Rigol", location="Lab B", status="maintenance")
    make_device(name="Old", location="Lab B", status="retired")
    assert a["device_type"]["name"] == "Oscilloscope"

    def ids(**params: Any) -> list[int]:
        body = client.get(D, params=params, headers=member_h).json()
        return [d["id"] for d in body["items"]]

    assert ids(status="maintenance") == [b["id"]]
    assert ids(location="lab a") == [a["id"]]
    assert ids(q="keysight") == [a["id"]]
    assert ids(q="sn-0000") == ids()
    assert len(ids(type_id=device_type["id"])) == 3
    assert ids(type_id=9999) == []
    page = client.get(D, params={"limit": 2, "offset": 2}, headers=member_h).json()
    assert page["total"] == 3 and len(page["items"]) == 1 and page["offset"] == 2

    assert client.get(f"{D}/{a['id']}", headers=member_h).json()["serial"] == a["serial"]
    r = client.patch(
        f"{D}/{a['id']}", json={"status": "maintenance", "notes": "calibration"}, headers=admin_h
    )
    assert r.status_code == 200 and r.json()["status"] == "maintenance"
    assert_error(client.patch(f"{D}/{a['id']}", json={"serial": b["serial"]}, headers=admin_h), 409)
    assert_error(
        client.patch(f"{D}/{a['id']}", json={"device_type_id": 9999}, headers=admin_h), 422
    )
    assert (
        client.patch(
            f"{D}/{a['id']}",
            json={"serial": a["serial"], "device_type_id": device_type["id"]},
            headers=admin_h,
        ).status_code
        == 200
    )
    assert client.delete(f"{D}/{a['id']}", headers=admin_h).status_code == 204
    assert_error(client.get(f"{D}/{a['id']}", headers=member_h), 404)


def test_devices_errors(
    client: TestClient,
    admin_h: dict[str, str],
    member_h: dict[str, str],
    device: dict[str, Any],
    device_type: dict[str, Any],
) -> None:
    dup = {"name": "x", "device_type_id": device_type["id"], "serial": device["serial"]}
    err = assert_error(client.post(D, json=dup, headers=admin_h), 409)
    assert err["details"]["device_id"] == device["id"]
    assert_error(
        client.post(D, json={**dup, "serial": "new", "device_type_id": 4242}, headers=admin_h), 422
    )
    assert_error(
        client.post(D, json={**dup, "serial": "new", "status": "lost"}, headers=admin_h), 422
    )
    assert_error(client.get(D, params={"status": "lost"}, headers=member_h), 422)


def test_inventory_crud_and_filters(
    client: TestClient,
    admin_h: dict[str, str],
    member_h: dict[str, str],
    device_type: dict[str, Any],
) -> None:
    body = {
        "name": "BNC cable",
        "sku": "BNC-1M",
        "quantity": 10,
        "location": "Shelf 1",
        "device_type_id": device_type["id"],
    }
    r = client.post(I, json=body, headers=admin_h)
    assert r.status_code == 201, r.text
    item = r.json()
    client.post(
        I, json={"name": "Probe tip", "sku": "TIP-1", "location": "Shelf 2"}, headers=admin_h
    )
    assert_error(client.post(I, json=body, headers=admin_h), 409)
    assert_error(client.post(I, json={**body, "sku": "N", "quantity": -1}, headers=admin_h), 422)
    assert_error(
        client.post(I, json={**body, "sku": "N", "device_type_id": 4242}, headers=admin_h), 422
    )

    def skus(**params: Any) -> list[str]:
        return [i["sku"] for i in client.get(I, params=params, headers=member_h).json()["items"]]

    assert skus(q="bnc") == ["BNC-1M"]
    assert skus(location="shelf 2") == ["TIP-1"]
    assert skus(type_id=device_type["id"]) == ["BNC-1M"]
    assert client.get(f"{I}/{item['id']}", headers=member_h).json()["quantity"] == 10

    r = client.patch(
        f"{I}/{item['id']}", json={"quantity": 3, "device_type_id": None}, headers=admin_h
    )
    assert r.status_code == 200 and r.json()["quantity"] == 3 and r.json()["device_type_id"] is None
    assert_error(client.patch(f"{I}/{item['id']}", json={"sku": "TIP-1"}, headers=admin_h), 409)
    assert_error(client.patch(f"{I}/{item['id']}", json={"quantity": -5}, headers=admin_h), 422)
    assert_error(client.patch(f"{I}/{item['id']}", json={"name": None}, headers=admin_h), 422)

    # deleting the device type detaches items instead of failing
    r = client.patch(
        f"{I}/{item['id']}", json={"device_type_id": device_type["id"]}, headers=admin_h
    )
    assert client.delete(f"{T}/{device_type['id']}", headers=admin_h).status_code == 204
    assert client.get(f"{I}/{item['id']}", headers=member_h).json()["device_type_id"] is None

    assert client.delete(f"{I}/{item['id']}", headers=admin_h).status_code == 204
    assert_error(client.get(f"{I}/{item['id']}", headers=member_h), 404)


@pytest.mark.parametrize("collection", [D, T, I])
@pytest.mark.parametrize(
    ("method", "suffix", "who", "status"),
    [
        ("GET", "", None, 401),
        ("POST", "", "member", 403),
        ("PATCH", "/1", "member", 403),
        ("DELETE", "/1", "member", 403),
        ("GET", "/4242", "member", 404),
        ("PATCH", "/4242", "admin", 404),
        ("DELETE", "/4242", "admin", 404),
    ],
)
def test_rbac_and_404_on_every_collection(
    client: TestClient,
    admin_h: dict[str, str],
    member_h: dict[str, str],
    collection: str,
    method: str,
    suffix: str,
    who: str | None,
    status: int,
) -> None:
    headers = {"admin": admin_h, "member": member_h}.get(who or "", {})
    body: dict[str, Any] | None = {} if method in {"POST", "PATCH"} else None
    assert_error(client.request(method, collection + suffix, headers=headers, json=body), status)


def test_maximum_lengths_fit_the_columns(
    client: TestClient, admin_h: dict[str, str], member_h: dict[str, str]
) -> None:
    """Every schema max_length must fit its column (PostgreSQL enforces varchar(n))."""
    r = client.post(T, json={"name": "t" * 200, "description": "d" * 5000}, headers=admin_h)
    assert r.status_code == 201, r.text
    type_id = r.json()["id"]
    device = {
        "name": "n" * 200,
        "device_type_id": type_id,
        "serial": "s" * 100,
        "location": "l" * 200,
        "notes": "x" * 5000,
    }
    assert client.post(D, json=device, headers=admin_h).status_code == 201
    assert_error(client.post(D, json={**device, "serial": "s" * 101}, headers=admin_h), 422)
    item = {"name": "n" * 200, "sku": "k" * 100, "location": "l" * 200}
    assert client.post(I, json=item, headers=admin_h).status_code == 201
    user = {
        "email": "u" * 64 + "@" + "d" * 247 + ".example",
        "password": "p" * 256,
        "full_name": "f" * 200,
    }
    assert client.post("/api/v1/users", json=user, headers=admin_h).status_code == 201
    assert_error(client.post(T, json={"name": "t" * 201}, headers=admin_h), 422)


def test_malformed_body_is_400_envelope(client: TestClient, admin_h: dict[str, str]) -> None:
    r = client.post(
        T, content=b"\x16\xff\xfe", headers={**admin_h, "Content-Type": "application/json"}
    )
    assert r.status_code in (400, 422)
    assert_error(r, r.status_code)
