"""The UI of a converged host, through its nginx (run by molecule/default/tests/test_ui.py
inside the instance's network namespace). Extra environment:
  VMSTACK_UI_EXPECT_VERSION  the live release version the host's release file names
"""

from __future__ import annotations

import os
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.conftest import Api, shot, sign_in, slot


def test_the_admin_signs_in_and_books_a_device(api: Api, new_page: Callable[..., Page]) -> None:
    kind = api.device_type("Deployed scope")
    device = api.device("Deployed MSO", kind["id"])
    page = new_page()
    sign_in(page, os.environ["VMSTACK_UI_ADMIN_EMAIL"], os.environ["VMSTACK_UI_ADMIN_PASSWORD"])
    page.get_by_label("Search name or serial").fill(device["name"])
    page.locator("#device-results").get_by_role("link", name=device["name"]).click()
    start, end = slot(5, 11, 2)
    page.get_by_label("Start (UTC)").fill(start)
    page.get_by_label("End (UTC)").fill(end)
    page.get_by_role("button", name="Book").click()
    expect(page.get_by_role("status")).to_have_text("Booked.")
    expect(page.locator(".slot.mine")).to_contain_text("11:00\u201313:00")
    shot(page, "deployed-booking")


def test_infra_shows_the_live_release_version(new_page: Callable[..., Page]) -> None:
    expected = os.environ["VMSTACK_UI_EXPECT_VERSION"]
    page = new_page()
    sign_in(page, os.environ["VMSTACK_UI_ADMIN_EMAIL"], os.environ["VMSTACK_UI_ADMIN_PASSWORD"])
    page.goto("/infra/")
    expect(page.locator("#infra-state")).to_contain_text("Current")
    app_row = page.locator("tr", has=page.locator("td[data-label='Service']", has_text="app"))
    expect(app_row.locator("td.version").first).to_have_text(expected)
    shot(page, "deployed-infra")
