"""The lab's everyday flows in a real browser (Debian's chromium)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Api, shot, sign_in, slot

NewPage = Callable[..., Page]


def book(page: Page, start: str, end: str, purpose: str = "") -> None:
    page.get_by_label("Start (UTC)").fill(start)
    page.get_by_label("End (UTC)").fill(end)
    if purpose:
        page.get_by_label("Purpose (optional)").fill(purpose)
    page.get_by_role("button", name="Book").click()


def test_sign_in_search_and_book_a_slot(api: Api, new_page: NewPage) -> None:
    kind = api.device_type("Oscilloscope")
    wanted = api.device("Tektronix MDO", kind["id"])
    api.device("Rigol DS", kind["id"])
    email, password = api.member("Alice")
    page = new_page()
    sign_in(page, email, password)
    expect(page.get_by_role("heading", name="Devices")).to_be_visible()

    # Live search (htmx swaps the results while typing).
    page.get_by_label("Search name or serial").fill(f"Tektronix MDO {api.run}")
    results = page.locator("#device-results")
    expect(results.get_by_role("link", name=wanted["name"])).to_be_visible()
    expect(results.get_by_role("link", name=f"Rigol DS {api.run}")).to_have_count(0)
    # ... and puts the search in the address bar (a shareable, reloadable URL).
    expect(page).to_have_url(re.compile(rf"/devices\?q=Tektronix(\+|%20)MDO(\+|%20){api.run}"))

    results.get_by_role("link", name=wanted["name"]).click()
    expect(page.get_by_role("heading", name=wanted["name"])).to_be_visible()
    start, end = slot(2, 10, 2)
    book(page, start, end, "Signal integrity")
    expect(page.get_by_role("status")).to_have_text("Booked.")
    mine = page.locator(".slot.mine")
    expect(mine).to_contain_text(f"Alice {api.run} (you)")
    expect(mine).to_contain_text("10:00\u201312:00")
    shot(page, "booking")


def test_a_second_user_sees_who_holds_the_slot(api: Api, new_page: NewPage) -> None:
    kind = api.device_type("Spectrum analyser")
    device = api.device("Anritsu MS", kind["id"])
    first_email, first_password = api.member("Bob")
    second_email, second_password = api.member("Carol")
    start, end = slot(3, 14, 2)

    first = new_page()
    sign_in(first, first_email, first_password)
    first.goto(f"/devices/{device['id']}")
    book(first, start, end)
    expect(first.get_by_role("status")).to_have_text("Booked.")

    second = new_page()
    sign_in(second, second_email, second_password)
    second.goto(f"/devices/{device['id']}")
    later_start, later_end = slot(3, 15, 2)
    book(second, later_start, later_end)
    alert = second.locator("#booking-error")
    expect(alert).to_contain_text(f"That slot is held by Bob {api.run}")
    expect(alert).to_contain_text(f"from {start.replace('T', ' ')} to {end.replace('T', ' ')} UTC")
    # The week view shows who holds the slot, too.
    expect(second.locator(".slot").first).to_contain_text(f"Bob {api.run}")
    expect(second.get_by_label("Start (UTC)")).to_have_value(later_start)
    shot(second, "conflict")


def test_cancel_a_booking(api: Api, new_page: NewPage) -> None:
    kind = api.device_type("Signal generator")
    device = api.device("Siglent SDG", kind["id"])
    email, password = api.member("Dave")
    page = new_page()
    sign_in(page, email, password)
    page.goto(f"/devices/{device['id']}")
    start, end = slot(4, 9)
    book(page, start, end)
    expect(page.get_by_role("status")).to_have_text("Booked.")

    page.get_by_role("link", name="My bookings").click()
    row = page.locator("tr", has_text=device["name"])
    expect(row).to_have_count(1)
    row.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("status")).to_have_text("Booking cancelled.")
    expect(page.locator("tr", has_text=device["name"])).to_have_count(0)
    page.goto(f"/devices/{device['id']}?week={start[:10]}")
    expect(page.locator(".slot")).to_have_count(0)


def test_sign_out_ends_the_session(api: Api, new_page: NewPage) -> None:
    email, password = api.member("Erin")
    page = new_page()
    sign_in(page, email, password)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto("/bookings")
    expect(page).to_have_url(re.compile(r"/login\?next=/bookings$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_member_is_refused_the_admin_pages(api: Api, new_page: NewPage) -> None:
    email, password = api.member("Frank")
    page = new_page()
    sign_in(page, email, password)
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)
    for path in ("/admin/devices", "/admin/users", "/admin/inventory", "/infra/"):
        response = page.goto(path)
        assert response is not None and response.status == 403, path
        expect(page.get_by_role("alert")).to_contain_text("for administrators")
    shot(page, "member-refused")


def test_a_wrong_password_is_shown_on_the_form(api: Api, new_page: NewPage) -> None:
    email, _ = api.member("Gina")
    page = new_page()
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong e-mail or password.")


def test_readable_at_phone_width(api: Api, new_page: NewPage) -> None:
    kind = api.device_type("Multimeter")
    device = api.device("Fluke 87V with a rather long device name", kind["id"])
    email, password = api.member("Hana")
    page = new_page(width=375, height=812)
    sign_in(page, email, password)
    for path, name in (("/devices", "phone-devices"), (f"/devices/{device['id']}", "phone-device")):
        page.goto(path)
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= 375, f"{path} is {overflow}px wide at a 375px viewport"
        shot(page, name)


def status_document(version: str, collected: datetime) -> dict[str, Any]:
    when = collected.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "schema": 1,
        "collected_at": when,
        "interval_seconds": 60,
        "host": "ui-test-host",
        "project": "vmstack",
        "services": [
            {
                "name": "app",
                "version": version,
                "slot": "blue",
                "image": f"vmstack/app:{version}",
                "image_id": "sha256:0123",
                "since": when,
            }
        ],
        "releases": [
            {
                "service": "app",
                "version": version,
                "slot": "blue",
                "image_id": "sha256:0123",
                "at": when,
                "result": "released",
            }
        ],
        "containers": [
            {
                "name": "vmstack-db-1",
                "service": "db",
                "state": "running",
                "health": "healthy",
                "started_at": when,
            },
            {
                "name": "vmstack-app-blue-1",
                "service": "app-blue",
                "state": "running",
                "health": "healthy",
                "started_at": when,
            },
        ],
        "backup": {
            "last_file": "db-test.sql.age",
            "at": when,
            "size_bytes": 2048,
            "verified": True,
            "age_seconds": 60,
            "max_age_seconds": 93600,
        },
        "tls": {
            "subject": "CN=ui.test",
            "issuer": "CN=ui.test",
            "not_after": "2027-01-01T00:00:00Z",
            "days_left": 300,
        },
        "disk": {
            "project_dir_bytes": 1048576,
            "docker_bytes": 1073741824,
            "fs_total_bytes": 10737418240,
            "fs_free_bytes": 5368709120,
        },
        "problems": [],
    }


@pytest.fixture
def status_file() -> Path:
    path = os.environ.get("VMSTACK_UI_STATUS_FILE")
    if not path:
        raise pytest.UsageError("VMSTACK_UI_STATUS_FILE is not set: run scripts/test-ui.sh")
    return Path(path)


def write_status(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc), encoding="utf-8")
    tmp.replace(path)


def test_an_admin_sees_the_host_status_and_a_stale_file_as_stale(
    new_page: NewPage, status_file: Path
) -> None:
    page = new_page()
    sign_in(page, os.environ["VMSTACK_UI_ADMIN_EMAIL"], os.environ["VMSTACK_UI_ADMIN_PASSWORD"])
    write_status(status_file, status_document("4.5.6-ui", datetime.now(UTC)))
    page.get_by_role("link", name="Infra").click()
    expect(page.locator("#infra-state")).to_contain_text("Current")
    expect(page.locator("td.version").first).to_have_text("4.5.6-ui")
    expect(page.get_by_text("vmstack-app-blue-1")).to_be_visible()
    expect(page.get_by_text("300 days left")).to_be_visible()
    shot(page, "infra")

    write_status(
        status_file, status_document("4.5.6-ui", datetime.now(UTC) - timedelta(minutes=10))
    )
    page.reload()
    expect(page.locator("#infra-state")).to_contain_text("STALE")
    expect(page.locator("#infra-state")).not_to_contain_text("Current")
    shot(page, "infra-stale")

    status_file.unlink()
    page.reload()
    expect(page.locator("#infra-state")).to_contain_text("No status file")


def test_api_docs_work_offline_under_the_csp(new_page: NewPage) -> None:
    page = new_page()
    page.goto("/api/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("vmstack lab scheduler")
    shot(page, "api-docs")
    page.goto("/api/redoc")
    expect(page.get_by_role("heading", name="vmstack lab scheduler").first).to_be_visible()
