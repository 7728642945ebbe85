"""Browser tests: Debian's /usr/bin/chromium driven by Playwright against a running app.

Run by scripts/test-ui.sh (local app on SQLite) and by molecule/default/tests/test_ui.py
(through nginx). Environment:
  VMSTACK_UI_URL             base URL of the app (http://127.0.0.1:PORT)
  VMSTACK_UI_ADMIN_EMAIL     an admin's e-mail ...
  VMSTACK_UI_ADMIN_PASSWORD  ... and password (never printed)
  VMSTACK_UI_STATUS_FILE     the app's STATUS_FILE (the /infra/ tests write it)
  VMSTACK_UI_SCREENSHOTS     directory for screenshots (default .cache/ui)
  VMSTACK_UI_CHROMIUM        the browser (default /usr/bin/chromium)
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

BASE_URL = os.environ.get("VMSTACK_UI_URL", "")
CHROMIUM = os.environ.get("VMSTACK_UI_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(os.environ.get("VMSTACK_UI_SCREENSHOTS", ".cache/ui"))
TIMEOUT_MS = 15_000


def pytest_configure(config: pytest.Config) -> None:
    if not BASE_URL:
        raise pytest.UsageError("VMSTACK_UI_URL is not set: run scripts/test-ui.sh")
    if not Path(CHROMIUM).is_file():
        raise pytest.UsageError(f"{CHROMIUM} is missing: run make setup (Debian's chromium)")


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=["--no-sandbox", "--ignore-certificate-errors", "--disable-dev-shm-usage"],
    )
    yield browser
    browser.close()


class Api:
    """Seeds data through the public API as the admin."""

    def __init__(self) -> None:
        self.client = httpx.Client(base_url=BASE_URL, verify=False, timeout=20)  # noqa: S501
        r = self.client.post(
            "/api/v1/auth/login",
            json={
                "email": os.environ["VMSTACK_UI_ADMIN_EMAIL"],
                "password": os.environ["VMSTACK_UI_ADMIN_PASSWORD"],
            },
        )
        r.raise_for_status()
        self.client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        self.run = secrets.token_hex(3)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.client.post(path, json=body)
        assert r.status_code == 201, r.text
        data: dict[str, Any] = r.json()
        return data

    def device_type(self, name: str) -> dict[str, Any]:
        return self.post("/api/v1/device-types", {"name": f"{name} {self.run}"})

    def device(self, name: str, type_id: int, location: str = "Lab UI") -> dict[str, Any]:
        return self.post(
            "/api/v1/devices",
            {
                "name": f"{name} {self.run}",
                "device_type_id": type_id,
                "serial": f"UI-{self.run}-{secrets.token_hex(3)}",
                "location": location,
            },
        )

    def member(self, name: str) -> tuple[str, str]:
        email = f"{name.lower()}-{self.run}@example.com"
        password = secrets.token_urlsafe(12)
        self.post(
            "/api/v1/users",
            {"email": email, "password": password, "full_name": f"{name} {self.run}"},
        )
        return email, password


@pytest.fixture(scope="session")
def api() -> Iterator[Api]:
    seeded = Api()
    yield seeded
    seeded.client.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """Pages in fresh browser contexts (one per user); every CSP violation or page error
    fails the test."""
    contexts = []
    problems: list[str] = []

    def factory(width: int = 1280, height: int = 900) -> Page:
        context = browser.new_context(
            base_url=BASE_URL,
            viewport={"width": width, "height": height},
            ignore_https_errors=True,
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()

        def on_console(msg: ConsoleMessage) -> None:
            if msg.type == "error":
                problems.append(f"{page.url}: {msg.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: problems.append(f"{page.url}: {exc}"))
        return page

    yield factory
    for context in contexts:
        context.close()
    # 4xx answers the tests ask for on purpose are logged by the browser as failed loads;
    # ReDoc's attribution logo from its CDN is expected to be blocked (nothing leaves the host).
    real = [
        p
        for p in problems
        if "Failed to load resource" not in p and "https://cdn.redoc.ly/" not in p
    ]
    assert not real, "browser errors (CSP violations, script errors):\n" + "\n".join(real)


def shot(page: Page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Page, email: str, password: str) -> None:
    """Sign in with the keyboard only: the e-mail field has focus, Tab, Enter."""
    page.goto("/login")
    # autofocus lands a moment after "load": typing earlier loses the first keys
    expect(page.locator("input[name=email]")).to_be_focused()
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    try:
        page.wait_for_url("**/devices", timeout=15_000)
    except PlaywrightTimeoutError as error:
        alert = page.locator("[role=alert], [role=status]").all_inner_texts()
        raise AssertionError(f"sign-in as {email} stayed on {page.url}: {alert}") from error


def slot(days: int, hour: int, hours: int = 1) -> tuple[str, str]:
    start = (datetime.now(UTC) + timedelta(days=days)).replace(
        hour=hour, minute=0, second=0, microsecond=0
    )
    fmt = "%Y-%m-%dT%H:%M"
    return start.strftime(fmt), (start + timedelta(hours=hours)).strftime(fmt)
