"""The web UI through its front door (TestClient): sessions, CSRF, pages on the service layer."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from app.users.models import User
from app.web.deps import safe_next
from tests.conftest import UserFactory

PASSWORD = "password123"
_CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: Response) -> str:
    match = _CSRF_RE.search(page.text)
    assert match, f"no CSRF field on {page.url}"
    return match.group(1)


def sign_in(client: TestClient, user: User, password: str = PASSWORD) -> Response:
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"email": user.email, "password": password, "csrf_token": csrf_of(page)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    result: Response = r
    return result


def post_form(client: TestClient, page_url: str, action: str, data: dict[str, str]) -> Response:
    """Submit a form the way a browser does: token taken from the page that shows the form."""
    token = csrf_of(client.get(page_url))
    result: Response = client.post(
        action, data={**data, "csrf_token": token}, follow_redirects=False
    )
    return result


def slot(hours_from_now: int, length_hours: int = 1) -> tuple[str, str]:
    """A window counted in hours from 09:00 UTC the day after tomorrow (never over midnight
    for the offsets used here); a negative offset is that many hours before yesterday's
    same hour (in the past)."""
    base = (datetime.now(UTC) + timedelta(days=2)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    if hours_from_now < 0:
        base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
    start = base + timedelta(hours=hours_from_now)
    fmt = "%Y-%m-%dT%H:%M"
    return start.strftime(fmt), (start + timedelta(hours=length_hours)).strftime(fmt)


@pytest.fixture
def member_client(app: Any, member: User) -> TestClient:
    c = TestClient(app)
    sign_in(c, member)
    return c


@pytest.fixture
def admin_client(app: Any, admin: User) -> TestClient:
    c = TestClient(app)
    sign_in(c, admin)
    return c


# --- sessions ------------------------------------------------------------------------------


def test_pages_send_an_anonymous_visitor_to_sign_in(client: TestClient) -> None:
    for path in ("/", "/devices", "/bookings", "/account", "/admin/users", "/infra/"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/login"), path
    r = client.get("/devices?q=scope", follow_redirects=False)
    assert r.headers["location"] == "/login?next=/devices%3Fq%3Dscope"


def test_htmx_request_without_session_is_told_to_load_sign_in(client: TestClient) -> None:
    r = client.get("/devices", headers={"HX-Request": "true"}, follow_redirects=False)
    assert r.status_code == 204
    assert r.headers["HX-Redirect"].startswith("/login?next=")


def test_sign_in_sets_an_httponly_samesite_lax_cookie_not_secure_on_plain_http(
    client: TestClient, member: User
) -> None:
    r = sign_in(client, member)
    assert r.headers["location"] == "/devices"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("vmstack_session="))
    attrs = cookie.lower()
    assert "httponly" in attrs
    assert "samesite=lax" in attrs
    assert "secure" not in attrs
    assert client.get("/devices").status_code == 200


def test_session_cookie_is_secure_when_the_request_came_over_tls(app: Any, member: User) -> None:
    c = TestClient(app, base_url="https://testserver")
    first = c.get("/login")
    csrf = next(h for h in first.headers.get_list("set-cookie") if h.startswith("vmstack_csrf="))
    assert "secure" in csrf.lower()
    assert "samesite=strict" in csrf.lower()
    r = sign_in(c, member)
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("vmstack_session="))
    assert "secure" in cookie.lower()


def test_sign_in_returns_to_the_page_asked_for_but_never_off_site(
    client: TestClient, member: User
) -> None:
    page = client.get("/login?next=/bookings")
    r = client.post(
        "/login",
        data={
            "email": member.email,
            "password": PASSWORD,
            "csrf_token": csrf_of(page),
            "next": "/bookings",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/bookings"
    client.cookies.clear()
    page = client.get("/login")
    r = client.post(
        "/login",
        data={
            "email": member.email,
            "password": PASSWORD,
            "csrf_token": csrf_of(page),
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/devices"


@pytest.mark.parametrize(
    "target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "/\t/evil.example"]
)
def test_safe_next_keeps_redirects_on_this_site(target: str) -> None:
    assert safe_next(target) == "/devices"
    assert safe_next("/bookings?x=1") == "/bookings?x=1"


def test_wrong_password_is_refused_on_the_form(client: TestClient, member: User) -> None:
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"email": member.email, "password": "wrong-password", "csrf_token": csrf_of(page)},
    )
    assert r.status_code == 401
    assert "Wrong e-mail or password." in r.text
    assert "vmstack_session" not in client.cookies


def test_sign_in_attempts_are_rate_limited(client: TestClient, member: User) -> None:
    token = csrf_of(client.get("/login"))
    codes = [
        client.post(
            "/login", data={"email": member.email, "password": "nope", "csrf_token": token}
        ).status_code
        for _ in range(6)
    ]
    assert codes[:5] == [401] * 5
    assert codes[5] == 429


def test_sign_out_revokes_the_session_row_not_only_the_cookie(
    client: TestClient, member: User
) -> None:
    sign_in(client, member)
    stolen = client.cookies.get("vmstack_session")
    r = post_form(client, "/devices", "/logout", {})
    assert r.status_code == 303
    assert r.headers["location"] == "/login?msg=signed-out"
    replay = TestClient(client.app, cookies={"vmstack_session": stolen or ""})
    assert replay.get("/devices", follow_redirects=False).status_code == 303


def test_a_deactivated_users_session_ends(
    admin_client: TestClient, app: Any, make_user: UserFactory
) -> None:
    other = make_user(email="leaver@example.com")
    leaver = TestClient(app)
    sign_in(leaver, other)
    assert leaver.get("/devices").status_code == 200
    r = post_form(admin_client, "/admin/users", f"/admin/users/{other.id}", {"active": "false"})
    assert r.status_code == 303
    assert leaver.get("/devices", follow_redirects=False).status_code == 303


def test_a_forged_or_foreign_cookie_is_no_session(app: Any, member: User) -> None:
    c = TestClient(app, cookies={"vmstack_session": "not-a-jwt"})
    assert c.get("/devices", follow_redirects=False).status_code == 303


# --- CSRF and headers ----------------------------------------------------------------------


def test_a_form_post_without_the_csrf_token_is_refused(
    member_client: TestClient, make_device: Callable[..., dict[str, Any]]
) -> None:
    device = make_device()
    start, end = slot(2)
    r = member_client.post(f"/devices/{device['id']}/bookings", data={"start": start, "end": end})
    assert r.status_code == 403
    assert "security token" in r.text
    assert "No current or upcoming" not in r.text
    assert "You have no current or upcoming bookings" in member_client.get("/bookings").text


def test_a_token_from_another_browser_is_refused(
    app: Any, member_client: TestClient, admin: User, make_device: Callable[..., dict[str, Any]]
) -> None:
    other = TestClient(app)
    sign_in(other, admin)
    foreign = csrf_of(other.get("/devices"))
    device = make_device()
    start, end = slot(2)
    r = member_client.post(
        f"/devices/{device['id']}/bookings",
        data={"start": start, "end": end, "csrf_token": foreign},
    )
    assert r.status_code == 403


def test_htmx_sends_the_token_as_a_header(
    member_client: TestClient, make_device: Callable[..., dict[str, Any]]
) -> None:
    device = make_device()
    token = csrf_of(member_client.get("/devices"))
    start, end = slot(3)
    r = member_client.post(
        f"/devices/{device['id']}/bookings",
        data={"start": start, "end": end},
        headers={"X-CSRF-Token": token, "HX-Request": "true", "HX-Target": "booking-panel"},
    )
    assert r.status_code == 200  # htmx followed the 303 to the device page
    assert "Booked." in r.text


def test_pages_carry_a_csp_without_unsafe_inline_and_no_inline_code(
    admin_client: TestClient, make_device: Callable[..., dict[str, Any]]
) -> None:
    device = make_device()
    for path in (
        "/login",
        "/devices",
        f"/devices/{device['id']}",
        "/bookings",
        "/account",
        "/admin/devices",
        "/admin/device-types",
        "/admin/inventory",
        "/admin/users",
        "/infra/",
        "/api/docs",
        "/api/redoc",
    ):
        r = admin_client.get(path)
        assert r.status_code == 200, path
        csp = r.headers["content-security-policy"]
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, path
        assert "script-src 'self'" in csp, path
        assert "frame-ancestors 'none'" in csp, path
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", r.text), f"inline script: {path}"
        assert " style=" not in r.text and "<style" not in r.text, f"inline style: {path}"
        assert not re.search(r"(src|href)=\"https?://", r.text), f"external asset: {path}"


def test_every_input_has_a_label(
    admin_client: TestClient, make_device: Callable[..., dict[str, Any]]
) -> None:
    device = make_device()
    for path in (
        "/devices",
        f"/devices/{device['id']}",
        "/account",
        "/admin/devices",
        "/admin/device-types",
        "/admin/inventory",
        "/admin/users",
    ):
        html = admin_client.get(path).text
        ids = re.findall(
            r"<(?:input|select)(?![^>]*type=\"hidden\")(?![^>]*\bhidden\b)[^>]*>", html
        )
        for tag in ids:
            m = re.search(r'id="([^"]+)"', tag)
            assert m, f"{path}: control without id: {tag}"
            assert f'for="{m.group(1)}"' in html, f"{path}: no label for {m.group(1)}"


def test_static_assets_are_cached_by_fingerprint(client: TestClient) -> None:
    html = client.get("/login").text
    css = re.search(r'href="(/static/css/app\.css\?v=[0-9a-f]{12})"', html)
    js = re.search(r'src="(/static/vendor/htmx-2\.0\.11/htmx\.min\.js\?v=[0-9a-f]{12})"', html)
    assert css and js
    for url in (css.group(1), js.group(1)):
        r = client.get(url)
        assert r.status_code == 200
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    plain = client.get("/static/css/app.css")
    assert plain.headers["cache-control"] == "public, max-age=3600"
    assert client.get("/static/css/app.css?v=000000000000").headers["cache-control"] == (
        "public, max-age=3600"
    )
    assert client.get("/static/../app/main.py").status_code == 404


def test_api_docs_are_served_from_vendored_files(client: TestClient) -> None:
    html = client.get("/api/docs").text
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        assert client.get(asset).status_code == 200, asset
    assert "swagger-ui-bundle.js" in html
    redoc = client.get("/api/redoc")
    nonce = re.search(r'property="csp-nonce" content="([^"]+)"', redoc.text)
    assert nonce
    assert f"'nonce-{nonce.group(1)}'" in redoc.headers["content-security-policy"]
    assert client.get("/api/openapi.json").status_code == 200
    paths = client.get("/api/openapi.json").json()["paths"]
    assert "/login" not in paths and "/devices" not in paths


# --- devices, bookings ---------------------------------------------------------------------


def test_device_search_and_filters(
    member_client: TestClient,
    make_device: Callable[..., dict[str, Any]],
    client: TestClient,
    admin_h: dict[str, str],
) -> None:
    make_device(name="Rigol scope", location="Lab A")
    make_device(name="Keysight scope", location="Lab B")
    make_device(name="Bench PSU", location="Lab B", status="maintenance")
    other_type = client.post(
        "/api/v1/device-types", json={"name": "Power supply"}, headers=admin_h
    ).json()
    make_device(name="Korad PSU", location="Lab A", device_type_id=other_type["id"])

    def names(query: str) -> set[str]:
        html = member_client.get(f"/devices{query}").text
        return set(re.findall(r'<a href="/devices/\d+">([^<]+)</a>', html))

    assert names("") == {"Rigol scope", "Keysight scope", "Bench PSU", "Korad PSU"}
    assert names("?q=scope") == {"Rigol scope", "Keysight scope"}
    assert names("?location=lab+b") == {"Keysight scope", "Bench PSU"}
    assert names("?status=maintenance") == {"Bench PSU"}
    assert names(f"?type={other_type['id']}") == {"Korad PSU"}
    assert names("?status=bogus") == {"Rigol scope", "Keysight scope", "Bench PSU", "Korad PSU"}
    partial = member_client.get("/devices?q=rigol", headers={"HX-Target": "device-results"})
    assert partial.text.lstrip().startswith('<section id="device-results"')
    assert "<html" not in partial.text


def test_device_list_pages(
    member_client: TestClient, make_device: Callable[..., dict[str, Any]]
) -> None:
    for _ in range(55):
        make_device()
    first = member_client.get("/devices").text
    assert "55 devices · page 1 of 2" in first
    assert 'rel="next"' in first
    second = member_client.get("/devices?page=2").text
    assert len(re.findall(r'<a href="/devices/\d+">', second)) == 5


def test_booking_then_a_second_user_sees_who_holds_the_slot(
    app: Any,
    member_client: TestClient,
    make_user: UserFactory,
    make_device: Callable[..., dict[str, Any]],
) -> None:
    device = make_device(name="Scope X")
    start, end = slot(5, 2)
    r = post_form(
        member_client,
        f"/devices/{device['id']}",
        f"/devices/{device['id']}/bookings",
        {"start": start, "end": end, "purpose": "EMC test"},
    )
    assert r.status_code == 303
    page = member_client.get(r.headers["location"])
    assert "Booked." in page.text
    assert "member user (you)" in page.text
    assert f"{start[11:]}\u2013{end[11:]}" in page.text

    second = TestClient(app)
    sign_in(second, make_user(email="second@example.com"))
    late_start, late_end = slot(6, 2)
    r = post_form(
        second,
        f"/devices/{device['id']}",
        f"/devices/{device['id']}/bookings",
        {"start": late_start, "end": late_end},
    )
    assert r.status_code == 409
    assert "That slot is held by <strong>member user</strong>" in r.text
    assert f"from {start.replace('T', ' ')} to {end.replace('T', ' ')} UTC" in r.text
    # The form keeps what the user typed.
    assert f'value="{late_start}"' in r.text
    # Nothing was booked for the second user.
    assert "You have no current or upcoming bookings" in second.get("/bookings").text


def test_booking_rules_and_bad_input_are_shown_on_the_form(
    member_client: TestClient, make_device: Callable[..., dict[str, Any]]
) -> None:
    device = make_device()
    url = f"/devices/{device['id']}"
    past_start, past_end = slot(-5)
    r = post_form(member_client, url, f"{url}/bookings", {"start": past_start, "end": past_end})
    assert r.status_code == 422
    assert "past" in r.text
    r = post_form(member_client, url, f"{url}/bookings", {"start": "tomorrow", "end": "later"})
    assert r.status_code == 422
    assert "is not a date and time" in r.text
    start, _ = slot(4)
    r = post_form(member_client, url, f"{url}/bookings", {"start": start, "end": start})
    assert r.status_code == 422


def test_a_device_under_maintenance_cannot_be_booked(
    member_client: TestClient, make_device: Callable[..., dict[str, Any]]
) -> None:
    device = make_device(status="maintenance")
    url = f"/devices/{device['id']}"
    assert "cannot be booked" in member_client.get(url).text
    start, end = slot(3)
    r = post_form(member_client, url, f"{url}/bookings", {"start": start, "end": end})
    assert r.status_code == 409


def test_week_view_shows_each_day_and_navigates(
    member_client: TestClient, make_device: Callable[..., dict[str, Any]]
) -> None:
    device = make_device()
    r = member_client.get(f"/devices/{device['id']}?week=2030-01-09")
    assert "Week of Mon 07 Jan 2030" in r.text
    assert r.text.count('<li class="day">') == 7
    assert "?week=2029-12-31" in r.text and "?week=2030-01-14" in r.text
    assert "Week of" in member_client.get(f"/devices/{device['id']}?week=garbage").text
    assert member_client.get("/devices/999999").status_code == 404


def test_a_booking_over_midnight_shows_on_both_days(
    member_client: TestClient, make_device: Callable[..., dict[str, Any]]
) -> None:
    device = make_device()
    # A Wednesday 22:00 at least two days ahead: Thursday is in the same week.
    day = datetime.now(UTC) + timedelta(days=2)
    day += timedelta(days=(2 - day.weekday()) % 7)
    start = day.replace(hour=22, minute=0, second=0, microsecond=0)
    end = start + timedelta(hours=4)
    fmt = "%Y-%m-%dT%H:%M"
    url = f"/devices/{device['id']}"
    r = post_form(
        member_client,
        url,
        f"{url}/bookings",
        {"start": start.strftime(fmt), "end": end.strftime(fmt)},
    )
    assert r.status_code == 303
    page = member_client.get(r.headers["location"]).text
    assert "22:00\u201324:00\u2026" in page
    assert "\u202600:00\u201302:00" in page


def test_extend_and_cancel_from_my_bookings(
    app: Any,
    member_client: TestClient,
    make_user: UserFactory,
    make_device: Callable[..., dict[str, Any]],
) -> None:
    device = make_device()
    url = f"/devices/{device['id']}"
    start, end = slot(10)
    assert (
        post_form(member_client, url, f"{url}/bookings", {"start": start, "end": end}).status_code
        == 303
    )
    # Someone else holds the hour after.
    other = TestClient(app)
    sign_in(other, make_user(email="next@example.com"))
    next_start, next_end = slot(12)
    assert (
        post_form(other, url, f"{url}/bookings", {"start": next_start, "end": next_end}).status_code
        == 303
    )

    mine = member_client.get("/bookings").text
    booking_id = int(re.search(r'id="booking-(\d+)"', mine).group(1))  # type: ignore[union-attr]
    _, one_more = slot(11)
    r = post_form(member_client, "/bookings", f"/bookings/{booking_id}/extend", {"end": one_more})
    assert r.status_code == 303
    assert r.headers["location"] == "/bookings?msg=extended"
    assert one_more.replace("T", " ") in member_client.get("/bookings").text

    _, too_far = slot(12, 1)
    r = post_form(member_client, "/bookings", f"/bookings/{booking_id}/extend", {"end": too_far})
    assert r.status_code == 409
    assert "That slot is held by <strong>member user</strong>" in r.text

    r = post_form(member_client, "/bookings", f"/bookings/{booking_id}/extend", {"end": start})
    assert r.status_code == 409
    assert "later than the current end" in r.text

    r = post_form(
        member_client, "/bookings", f"/bookings/{booking_id}/cancel", {"next": "/bookings"}
    )
    assert r.headers["location"] == "/bookings?msg=cancelled"
    assert "You have no current or upcoming bookings" in member_client.get("/bookings").text
    r = post_form(member_client, "/bookings", f"/bookings/{booking_id}/cancel", {})
    assert r.status_code == 409


def test_a_member_cannot_touch_another_members_booking(
    app: Any,
    member_client: TestClient,
    make_user: UserFactory,
    make_device: Callable[..., dict[str, Any]],
) -> None:
    device = make_device()
    url = f"/devices/{device['id']}"
    other = TestClient(app)
    sign_in(other, make_user(email="owner@example.com"))
    start, end = slot(8)
    post_form(other, url, f"{url}/bookings", {"start": start, "end": end})
    booking_id = int(re.search(r'id="booking-(\d+)"', other.get("/bookings").text).group(1))  # type: ignore[union-attr]
    r = post_form(member_client, "/bookings", f"/bookings/{booking_id}/cancel", {})
    assert r.status_code == 403
    assert "belongs to another user" in r.text


# --- account -------------------------------------------------------------------------------


def test_change_password_keeps_this_session_and_ends_the_others(app: Any, member: User) -> None:
    here, elsewhere = TestClient(app), TestClient(app)
    sign_in(here, member)
    sign_in(elsewhere, member)
    r = post_form(
        here,
        "/account",
        "/account/password",
        {
            "current_password": "wrong-one",
            "new_password": "n3w-passw0rd",
            "confirm_password": "n3w-passw0rd",
        },
    )
    assert r.status_code == 403
    assert "current password is wrong" in r.text
    r = post_form(
        here,
        "/account",
        "/account/password",
        {"current_password": PASSWORD, "new_password": "short", "confirm_password": "short"},
    )
    assert r.status_code == 422
    r = post_form(
        here,
        "/account",
        "/account/password",
        {"current_password": PASSWORD, "new_password": "n3w-passw0rd", "confirm_password": "other"},
    )
    assert r.status_code == 422
    assert "confirmation differ" in r.text
    r = post_form(
        here,
        "/account",
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": "n3w-passw0rd",
            "confirm_password": "n3w-passw0rd",
        },
    )
    assert r.status_code == 303
    assert "Password changed" in here.get(r.headers["location"]).text
    assert elsewhere.get("/devices", follow_redirects=False).status_code == 303
    fresh = TestClient(app)
    sign_in(fresh, member, "n3w-passw0rd")


# --- admin ---------------------------------------------------------------------------------


def test_a_member_is_refused_every_admin_page(member_client: TestClient) -> None:
    for path in (
        "/admin",
        "/admin/devices",
        "/admin/device-types",
        "/admin/inventory",
        "/admin/users",
        "/infra/",
        "/infra",
    ):
        r = member_client.get(path, follow_redirects=False)
        assert r.status_code == 403, path
        assert "for administrators" in r.text
    r = post_form(
        member_client,
        "/devices",
        "/admin/users",
        {"email": "x@example.com", "password": "password123", "role": "admin"},
    )
    assert r.status_code == 403
    assert 'href="/admin/devices"' not in member_client.get("/devices").text


def test_admin_manages_types_devices_inventory_and_users(
    admin_client: TestClient, make_user: UserFactory
) -> None:
    r = post_form(
        admin_client, "/admin/device-types", "/admin/device-types", {"name": "Logic analyser"}
    )
    assert r.status_code == 303
    r = post_form(
        admin_client, "/admin/device-types", "/admin/device-types", {"name": "Logic analyser"}
    )
    assert r.status_code == 409
    assert "already exists" in r.text
    type_id = re.search(
        r'/devices\?type=(\d+)">Logic analyser', admin_client.get("/admin/device-types").text
    ).group(1)  # type: ignore[union-attr]

    device = {"name": "Saleae", "device_type_id": type_id, "serial": "SAL-1", "location": "Lab C"}
    assert post_form(admin_client, "/admin/devices", "/admin/devices", device).status_code == 303
    r = post_form(admin_client, "/admin/devices", "/admin/devices", device)
    assert r.status_code == 409
    assert 'value="Saleae"' in r.text
    r = post_form(
        admin_client, "/admin/devices", "/admin/devices", {**device, "device_type_id": ""}
    )
    assert r.status_code == 422
    device_id = re.search(
        r'<a href="/devices/(\d+)">Saleae', admin_client.get("/admin/devices").text
    ).group(1)  # type: ignore[union-attr]
    r = post_form(
        admin_client,
        "/admin/devices",
        f"/admin/devices/{device_id}",
        {"status": "maintenance", "location": "Lab D"},
    )
    assert r.status_code == 303
    assert "maintenance" in admin_client.get(f"/devices/{device_id}").text
    r = post_form(
        admin_client,
        "/admin/devices",
        f"/admin/devices/{device_id}",
        {"status": "broken", "location": "x"},
    )
    assert r.status_code == 422

    item = {
        "name": "Probe tips",
        "sku": "PT-1",
        "quantity": "1",
        "location": "Drawer 3",
        "device_type_id": type_id,
    }
    assert post_form(admin_client, "/admin/inventory", "/admin/inventory", item).status_code == 303
    assert (
        post_form(
            admin_client,
            "/admin/inventory",
            "/admin/inventory",
            {**item, "sku": "PT-2", "quantity": "40", "device_type_id": ""},
        ).status_code
        == 303
    )
    page = admin_client.get("/admin/inventory").text
    assert "2 items · 1 low on stock" in page
    assert page.count("low stock</span>") == 1
    assert (
        post_form(
            admin_client,
            "/admin/inventory",
            "/admin/inventory",
            {**item, "quantity": "-1", "sku": "PT-3"},
        ).status_code
        == 422
    )
    item_id = re.search(r'id="q-(\d+)"[^>]*value="1"', page).group(1)  # type: ignore[union-attr]
    assert (
        post_form(
            admin_client, "/admin/inventory", f"/admin/inventory/{item_id}", {"quantity": "25"}
        ).status_code
        == 303
    )
    assert "0 low on stock" in admin_client.get("/admin/inventory").text
    assert (
        post_form(
            admin_client, "/admin/inventory", f"/admin/inventory/{item_id}", {"quantity": "x"}
        ).status_code
        == 422
    )

    new_user = {
        "email": "new@example.com",
        "full_name": "New Person",
        "password": "password123",
        "role": "member",
    }
    assert post_form(admin_client, "/admin/users", "/admin/users", new_user).status_code == 303
    r = post_form(admin_client, "/admin/users", "/admin/users", new_user)
    assert r.status_code == 409
    assert (
        post_form(
            admin_client, "/admin/users", "/admin/users", {**new_user, "email": "bad"}
        ).status_code
        == 422
    )
    user_id = re.search(
        r'new@example\.com</td>.*?action="/admin/users/(\d+)"',
        admin_client.get("/admin/users").text,
        re.S,
    ).group(1)  # type: ignore[union-attr]
    assert (
        post_form(
            admin_client, "/admin/users", f"/admin/users/{user_id}", {"role": "admin"}
        ).status_code
        == 303
    )
    assert (
        post_form(
            admin_client, "/admin/users", f"/admin/users/{user_id}", {"active": "false"}
        ).status_code
        == 303
    )
    assert "Activate new@example.com" in admin_client.get("/admin/users").text


def test_an_admin_cannot_demote_themselves_from_the_page(
    admin_client: TestClient, admin: User
) -> None:
    r = post_form(admin_client, "/admin/users", f"/admin/users/{admin.id}", {"role": "member"})
    assert r.status_code == 409
    assert "admin" in admin_client.get("/admin/users").text
    assert admin_client.get("/admin/users").status_code == 200


def test_empty_or_odd_filter_values_mean_no_filter(
    member_client: TestClient, make_device: Callable[..., dict[str, Any]]
) -> None:
    make_device(name="Only one")
    for query in ("?type=&status=&location=&q=", "?type=abc", "?page=0", "?page=x", "?type=0"):
        r = member_client.get(f"/devices{query}")
        assert r.status_code == 200, query
        assert "Only one" in r.text, query
