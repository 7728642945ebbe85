"""ROOT_PATH: the service published under a path prefix by nginx, another service at /.

The requests arrive as nginx sends them with the documented location
(``location /api/ { proxy_pass http://app; }``: the path passes on unchanged, with Host,
X-Forwarded-For and X-Forwarded-Proto), through uvicorn's proxy-headers handling as
``python -m app serve`` runs it. The prefix is /api on purpose: the service's own paths
(/api/v1, /api/docs) start with it too, the case where a mistake would go unnoticed.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any, cast
from urllib.parse import urlsplit

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from pydantic import ValidationError

from app.core.config import Settings
from app.core.rootpath import RootPathMiddleware
from app.main import create_app
from app.users.models import User
from tests.conftest import UserFactory, assert_error, bearer, make_settings

PREFIX = "/api"
API = f"{PREFIX}/api/v1"  # the JSON API as the public sees it
NGINX = "172.30.80.2"  # the edge address FORWARDED_ALLOW_IPS names
PUBLIC = "https://lab.example.com"
PASSWORD = "password123"
_CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
# Attributes that hold a URL the browser (or htmx) will request.
URL_ATTRS = frozenset(
    {
        "href",
        "src",
        "action",
        "formaction",
        "hx-get",
        "hx-post",
        "hx-put",
        "hx-patch",
        "hx-delete",
        "data-openapi-url",
        "data-bundle",
    }
)


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def settings(db_url: str) -> Settings:
    """Every fixture of conftest (app, make_user, admin, member) on the prefixed service."""
    return make_settings(db_url, root_path=PREFIX)


def through_nginx(app: FastAPI, client_ip: str = "198.51.100.7") -> TestClient:
    """A browser's requests as they reach the service from nginx: full path, nginx's peer
    address, forwarded client address and scheme; wrapped as ``serve`` has uvicorn wrap it."""
    config = uvicorn.Config(
        app, proxy_headers=True, forwarded_allow_ips=NGINX, log_config=None, lifespan="off"
    )
    config.load()
    return TestClient(
        cast(Any, config.loaded_app),
        base_url=PUBLIC,
        client=(NGINX, 40000),
        headers={"X-Forwarded-For": client_ip, "X-Forwarded-Proto": "https"},
    )


@pytest.fixture
def edge(app: FastAPI) -> TestClient:
    return through_nginx(app)


@pytest.fixture
def direct(app: FastAPI) -> TestClient:
    """The service's own port, as the container healthcheck and the deploy gates reach it."""
    return TestClient(app, base_url="http://127.0.0.1:8000")


# --- helpers -------------------------------------------------------------------------------


class _Urls(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, str, str, dict[str, str]]] = []  # (tag, attr, url, attrs)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        for name, value in values.items():
            if name in URL_ATTRS:
                self.found.append((tag, name, value, values))


def urls_of(html: str) -> list[tuple[str, str, str, dict[str, str]]]:
    parser = _Urls()
    parser.feed(html)
    return parser.found


def assert_prefixed(url: str, where: str) -> None:
    """A URL of this service, as written for the browser: under the prefix (or a fragment)."""
    if url.startswith("#"):
        return
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        assert f"{parts.scheme}://{parts.netloc}" == PUBLIC, f"{where}: {url} leaves the site"
    path = parts.path
    assert path == PREFIX or path.startswith(PREFIX + "/"), f"{where}: {url} is not under {PREFIX}"


def csrf_of(page: Response) -> str:
    match = _CSRF_RE.search(page.text)
    assert match, f"no CSRF field on {page.url}"
    return match.group(1)


def sign_in(client: TestClient, user: User, next_: str | None = None) -> Response:
    page = client.get(f"{PREFIX}/login")
    assert page.status_code == 200
    data = {"email": user.email, "password": PASSWORD, "csrf_token": csrf_of(page)}
    if next_ is not None:
        data["next"] = next_
    r: Response = client.post(f"{PREFIX}/login", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert_prefixed(r.headers["location"], "POST /login")
    return r


def submit(client: TestClient, page_url: str, action: str, data: dict[str, str]) -> Response:
    """A form posted from ``page_url`` to ``action`` (both as the page wrote them)."""
    token = csrf_of(client.get(page_url))
    r: Response = client.post(action, data={**data, "csrf_token": token}, follow_redirects=False)
    if r.status_code in (301, 302, 303, 307, 308):
        assert_prefixed(r.headers["location"], f"POST {action}")
    return r


def _crawl_key(url: str) -> tuple[str, tuple[str, ...]]:
    parts = urlsplit(url)
    keys = tuple(sorted({q.split("=", 1)[0] for q in parts.query.split("&") if q}))
    return re.sub(r"/\d+", "/N", parts.path), keys


def _to_follow(tag: str, attr: str, url: str, attrs: dict[str, str]) -> dict[str, str] | None:
    """The headers to GET ``url`` with as a browser would, or None when it is not a GET."""
    if url.startswith("#"):
        return None
    if attr == "hx-get":
        hx = {"HX-Request": "true"}
        if attrs.get("hx-target", "").startswith("#"):
            hx["HX-Target"] = attrs["hx-target"][1:]
        return hx
    followed = (
        attr == "data-openapi-url"
        or (attr == "href" and tag == "a")
        or (attr == "action" and attrs.get("method", "get").lower() == "get")
    )
    return {} if followed else None


def crawl(client: TestClient, start: list[str], limit: int = 150) -> dict[str, int]:
    """Follow every link, htmx GET and GET form of every page from ``start`` (one URL per
    route and query shape), checking every URL each page writes and every redirect. Returns
    the status of each URL fetched."""
    seen: set[tuple[str, tuple[str, ...]]] = set()
    fetched: dict[str, int] = {}
    queue: deque[tuple[str, dict[str, str]]] = deque((u, {}) for u in start)
    while queue and len(fetched) < limit:
        url, headers = queue.popleft()
        key = _crawl_key(url)
        if key in seen and not headers:
            continue
        seen.add(key)
        r = client.get(url, headers=headers, follow_redirects=False)
        fetched[url] = r.status_code
        if r.status_code in (301, 302, 303, 307, 308):
            location = r.headers["location"]
            assert_prefixed(location, f"redirect from {url}")
            parts = urlsplit(location)
            queue.append((parts.path + (f"?{parts.query}" if parts.query else ""), {}))
            continue
        if "hx-redirect" in r.headers:
            assert_prefixed(r.headers["hx-redirect"], f"HX-Redirect from {url}")
        assert r.status_code < 500, url
        if not r.headers.get("content-type", "").startswith("text/html"):
            continue
        for tag, attr, found, attrs in urls_of(r.text):
            assert_prefixed(found, f"{url} <{tag} {attr}>")
            if f"{PREFIX}/static/" in found:
                fetched.setdefault(found, client.get(found).status_code)
                continue
            follow = _to_follow(tag, attr, found, attrs)
            if follow is not None:
                queue.append((found, follow))
    return fetched


# --- the setting ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("", ""),
        ("/", ""),
        ("/api", "/api"),
        ("/api/", "/api"),
        ("api", "/api"),
        ("/a/b-c", "/a/b-c"),
    ],
)
def test_root_path_is_normalised(given: str, expected: str) -> None:
    assert Settings(_env_file=None, root_path=given).root_path == expected


@pytest.mark.parametrize("bad", ["/a b", "/a//b", "/a/../b", "/a?x=1", "/a#x", "/ä", "/./a"])
def test_a_root_path_that_is_not_a_plain_path_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError, match="ROOT_PATH"):
        Settings(_env_file=None, root_path=bad)


def test_root_path_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROOT_PATH", "/api/")
    assert Settings(_env_file=None).root_path == "/api"
    monkeypatch.delenv("ROOT_PATH")
    assert Settings(_env_file=None).root_path == ""


# --- health: at the service's own port without the prefix, through nginx with it ------------


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/version", "/metrics"])
def test_operations_endpoints_answer_on_the_port_and_under_the_prefix(
    direct: TestClient, edge: TestClient, path: str
) -> None:
    assert direct.get(path).status_code == 200
    assert edge.get(PREFIX + path).status_code == 200
    assert direct.get(PREFIX + path).status_code == 200  # nginx's exact request, on the port


def test_readyz_body_is_the_same_either_way(direct: TestClient, edge: TestClient) -> None:
    assert (
        direct.get("/readyz").json() == edge.get(f"{PREFIX}/readyz").json() == {"status": "ready"}
    )
    assert direct.get("/version").json()["release"] == "test-release"


def test_the_app_sees_the_scheme_nginx_forwarded(edge: TestClient) -> None:
    first = edge.get(f"{PREFIX}/login")
    csrf = next(h for h in first.headers.get_list("set-cookie") if h.startswith("vmstack_csrf="))
    assert "secure" in csrf.lower()  # X-Forwarded-Proto: https, from the trusted edge


def test_the_prefix_alone_leads_to_the_start_page(edge: TestClient) -> None:
    r = edge.get(PREFIX, follow_redirects=False)
    assert r.status_code in (307, 308)
    assert_prefixed(r.headers["location"], "GET /api")
    assert urlsplit(r.headers["location"]).path == f"{PREFIX}/"
    r = edge.get(f"{PREFIX}/", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"{PREFIX}/login"


def test_a_path_outside_the_prefix_is_not_the_ui_under_it(direct: TestClient) -> None:
    # On the port, unprefixed paths are served as if prefixed (the healthcheck); what the
    # service writes still points under the prefix, where nginx sends it back.
    r = direct.get("/devices", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"{PREFIX}/login?next=/devices"


# --- (c) the JSON API and its documents under the prefix -----------------------------------


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def assert_json_urls_prefixed(r: Response, where: str) -> None:
    """No URL of the service in a JSON body or Location header outside the prefix."""
    if "location" in r.headers:
        assert_prefixed(r.headers["location"], where)
    if r.headers.get("content-type", "").startswith("application/json"):
        for s in _strings(r.json()):
            if s.startswith("/") or s.startswith("http"):
                assert_prefixed(s, f"{where} body")


def test_the_json_api_answers_under_the_prefix(
    edge: TestClient, admin: User, settings: Settings
) -> None:
    h = bearer(admin, settings)
    r = edge.post(f"{API}/device-types", json={"name": "Scope"}, headers=h)
    assert r.status_code == 201, r.text
    assert_json_urls_prefixed(r, "POST device-types")
    type_id = r.json()["id"]
    r = edge.post(
        f"{API}/devices",
        json={"name": "Scope 1", "device_type_id": type_id, "serial": "SN-1", "location": "A"},
        headers=h,
    )
    assert r.status_code == 201, r.text
    assert_json_urls_prefixed(r, "POST devices")
    r = edge.get(f"{API}/devices?limit=1", headers=h)
    assert r.status_code == 200
    assert set(r.json()) == {"items", "total", "limit", "offset"}
    assert_json_urls_prefixed(r, "GET devices")
    r = edge.post(f"{API}/auth/login", json={"email": admin.email, "password": PASSWORD}, headers=h)
    assert r.status_code == 200
    assert_json_urls_prefixed(r, "POST auth/login")
    for bad in (edge.get(f"{API}/devices/999999", headers=h), edge.get(f"{API}/nowhere")):
        assert_error(bad, 404)
        assert_json_urls_prefixed(bad, "404")
    # Without its prefix the same request is not the API (the API lives below /api too).
    assert_error(edge.get("/api/v1/devices", headers=h), 404)


def test_openapi_names_the_prefix_as_its_server(edge: TestClient) -> None:
    r = edge.get(f"{PREFIX}/api/openapi.json")
    assert r.status_code == 200
    schema = r.json()
    assert schema["servers"] == [{"url": PREFIX}]
    assert "/api/v1/devices" in schema["paths"]  # relative to the server: /api/api/v1/devices


@pytest.mark.parametrize("page", ["docs", "redoc"])
def test_api_docs_load_their_schema_and_assets_under_the_prefix(
    edge: TestClient, page: str
) -> None:
    r = edge.get(f"{PREFIX}/api/{page}")
    assert r.status_code == 200
    found = urls_of(r.text)
    assert found
    for tag, attr, url, _ in found:
        assert_prefixed(url, f"/api/{page} <{tag} {attr}>")
        assert edge.get(url).status_code == 200, url
    assert (
        next(u for _, a, u, _ in found if a == "data-openapi-url") == f"{PREFIX}/api/openapi.json"
    )


def test_static_assets_are_served_under_the_prefix(edge: TestClient) -> None:
    page = edge.get(f"{PREFIX}/login")
    assets = [u for _, a, u, _ in urls_of(page.text) if a in {"src", "href"} and "/static/" in u]
    assert len(assets) >= 2
    for url in assets:
        assert url.startswith(f"{PREFIX}/static/")
        r = edge.get(url)
        assert r.status_code == 200, url
        assert "immutable" in r.headers["cache-control"]


# --- (b) the UI: sign-in, cookies, redirects, and a crawl of every page --------------------


def test_anonymous_pages_send_to_sign_in_under_the_prefix(edge: TestClient) -> None:
    for path in ("/", "/devices", "/bookings", "/account", "/admin", "/admin/users", "/infra/"):
        r = edge.get(PREFIX + path, follow_redirects=False)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith(f"{PREFIX}/login"), path
    r = edge.get(f"{PREFIX}/devices?q=scope", follow_redirects=False)
    assert r.headers["location"] == f"{PREFIX}/login?next=/devices%3Fq%3Dscope"
    r = edge.get(f"{PREFIX}/devices", headers={"HX-Request": "true"}, follow_redirects=False)
    assert r.status_code == 204
    assert r.headers["HX-Redirect"] == f"{PREFIX}/login?next=/devices"


def test_sign_in_cookies_are_scoped_to_the_prefix(edge: TestClient, member: User) -> None:
    page = edge.get(f"{PREFIX}/login")
    csrf = next(h for h in page.headers.get_list("set-cookie") if h.startswith("vmstack_csrf="))
    assert f"Path={PREFIX};" in csrf + ";"
    r = sign_in(edge, member, next_="/bookings")
    assert r.headers["location"] == f"{PREFIX}/bookings"
    cookies = r.headers.get_list("set-cookie")
    session = [c for c in cookies if c.startswith("vmstack_session=")]
    live = [c for c in session if "max-age=0" not in c.lower()]
    assert len(live) == 1
    assert f"Path={PREFIX}" in live[0]
    assert "secure" in live[0].lower()
    # The one of Path=/ a deployment at / may have left is expired in the same answer.
    assert any("Path=/;" in c + ";" and 'vmstack_session=""' in c for c in session), session
    assert edge.get(f"{PREFIX}/bookings").status_code == 200
    # The cookie goes to this service only: not to what nginx serves at /.
    jar = {c.name: c.path for c in edge.cookies.jar}
    assert jar == {"vmstack_csrf": PREFIX, "vmstack_session": PREFIX}


def test_a_session_cookie_left_at_path_root_does_not_win(app: FastAPI, member: User) -> None:
    edge = through_nginx(app)
    edge.cookies.set("vmstack_session", "stale-from-before", domain="lab.example.com", path="/")
    sign_in(edge, member)
    assert edge.get(f"{PREFIX}/devices", follow_redirects=False).status_code == 200
    assert {c.path for c in edge.cookies.jar if c.name == "vmstack_session"} == {PREFIX}


def test_sign_out_redirects_and_clears_under_the_prefix(edge: TestClient, member: User) -> None:
    sign_in(edge, member)
    r = submit(edge, f"{PREFIX}/devices", f"{PREFIX}/logout", {})
    assert r.status_code == 303
    assert r.headers["location"] == f"{PREFIX}/login?msg=signed-out"
    cleared = [c for c in r.headers.get_list("set-cookie") if c.startswith("vmstack_session=")]
    assert any(f"Path={PREFIX}" in c for c in cleared)
    assert edge.get(f"{PREFIX}/devices", follow_redirects=False).status_code == 303


@pytest.fixture
def lab(edge: TestClient, admin: User, settings: Settings) -> dict[str, Any]:
    """A device type, 51 devices (the list pages), an inventory item, through the API."""
    h = bearer(admin, settings)
    type_id = edge.post(f"{API}/device-types", json={"name": "Scope"}, headers=h).json()["id"]
    devices = []
    for n in range(51):
        r = edge.post(
            f"{API}/devices",
            json={
                "name": f"Scope {n}",
                "device_type_id": type_id,
                "serial": f"SN-{n:05d}",
                "location": "Lab A",
            },
            headers=h,
        )
        assert r.status_code == 201, r.text
        devices.append(r.json())
    r = edge.post(
        f"{API}/inventory-items",
        json={"name": "Probe", "sku": "PR-1", "quantity": 1, "device_type_id": type_id},
        headers=h,
    )
    assert r.status_code == 201, r.text
    return {"type_id": type_id, "devices": devices}


def _book(edge: TestClient, device_id: int, day_offset: int = 2) -> Response:
    from datetime import UTC, datetime, timedelta

    start = (datetime.now(UTC) + timedelta(days=day_offset)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    fmt = "%Y-%m-%dT%H:%M"
    return submit(
        edge,
        f"{PREFIX}/devices/{device_id}",
        f"{PREFIX}/devices/{device_id}/bookings",
        {
            "start": start.strftime(fmt),
            "end": (start + timedelta(hours=1)).strftime(fmt),
            "purpose": "prefix",
        },
    )


def test_every_url_of_every_page_a_member_sees_is_under_the_prefix(
    app: FastAPI, lab: dict[str, Any], member: User
) -> None:
    edge = through_nginx(app, "198.51.100.21")
    sign_in(edge, member)
    device_id = lab["devices"][0]["id"]
    assert _book(edge, device_id).status_code == 303
    fetched = crawl(edge, [f"{PREFIX}/"])
    pages = {u for u in fetched if "/static/" not in u}
    # the crawl reached the member's pages, the pager, the week view and the htmx results
    for expected in ("/devices", "/bookings", "/account", "/api/docs", "/api/openapi.json"):
        assert any(urlsplit(u).path == PREFIX + expected for u in pages), (expected, pages)
    assert any("page=2" in u for u in pages), pages
    assert any("week=" in u for u in pages), pages
    assert fetched[f"{PREFIX}/devices/{device_id}"] == 200  # the booking panel, hx-post
    assert any("/static/" in u for u in fetched)
    assert all(code in (200, 303, 307) for code in fetched.values()), fetched
    # error pages: their links are under the prefix too
    for path, status in ((f"/devices/{10**6}", 404), ("/admin/users", 403)):
        r = edge.get(PREFIX + path)
        assert r.status_code == status
        found = urls_of(r.text)
        assert (PREFIX + "/") in {u for _, _, u, _ in found}
        for tag, attr, url, _ in found:
            assert_prefixed(url, f"{status} page <{tag} {attr}>")


def test_every_url_of_every_page_an_admin_sees_is_under_the_prefix(
    app: FastAPI, lab: dict[str, Any], admin: User
) -> None:
    edge = through_nginx(app, "198.51.100.22")
    sign_in(edge, admin)
    fetched = crawl(edge, [f"{PREFIX}/", f"{PREFIX}/admin", f"{PREFIX}/infra"])
    paths = {urlsplit(u).path for u in fetched}
    for expected in (
        "/admin/devices",
        "/admin/device-types",
        "/admin/inventory",
        "/admin/users",
        "/infra/",
    ):
        assert PREFIX + expected in paths, (expected, paths)


def test_every_form_post_redirects_under_the_prefix(
    app: FastAPI, lab: dict[str, Any], admin: User, make_user: UserFactory
) -> None:
    edge = through_nginx(app, "198.51.100.23")
    sign_in(edge, admin)
    device_id = lab["devices"][1]["id"]
    type_id = lab["type_id"]
    a = f"{PREFIX}/admin"

    r = _book(edge, device_id)
    assert r.status_code == 303
    assert r.headers["location"].startswith(f"{PREFIX}/devices/{device_id}?week=")
    booking_page = edge.get(f"{PREFIX}/bookings")
    forms = [u for _, attr, u, _ in urls_of(booking_page.text) if attr == "action"]
    extend = next(u for u in forms if u.endswith("/extend"))
    cancel = next(u for u in forms if u.endswith("/cancel"))
    assert extend.startswith(f"{PREFIX}/bookings/")
    end = re.search(r'name="end"[^>]*value="([^"]+)"', booking_page.text)
    assert end
    r = submit(edge, f"{PREFIX}/bookings", extend, {"end": end.group(1)})
    assert r.headers["location"] == f"{PREFIX}/bookings?msg=extended"
    r = submit(edge, f"{PREFIX}/bookings", cancel, {"next": "/bookings"})
    assert r.headers["location"] == f"{PREFIX}/bookings?msg=cancelled"

    # htmx posts the booking form itself: the redirect it follows is under the prefix too
    panel = edge.get(f"{PREFIX}/devices/{device_id}")
    hx_post = next(u for _, attr, u, _ in urls_of(panel.text) if attr == "hx-post")
    assert hx_post == f"{PREFIX}/devices/{device_id}/bookings"
    r = edge.post(
        hx_post,
        data={"start": "not a time", "end": "", "purpose": ""},
        headers={
            "HX-Request": "true",
            "HX-Target": "booking-panel",
            "X-CSRF-Token": csrf_of(panel),
        },
        follow_redirects=False,
    )
    assert r.status_code == 422
    for tag, attr, url, _ in urls_of(r.text):
        assert_prefixed(url, f"htmx booking panel <{tag} {attr}>")

    cases = [
        (f"{a}/device-types", f"{a}/device-types", {"name": "Probe", "description": ""}),
        (
            f"{a}/devices",
            f"{a}/devices",
            {"name": "New", "device_type_id": str(type_id), "serial": "SN-NEW"},
        ),
        (f"{a}/devices", f"{a}/devices/{device_id}", {"status": "maintenance", "location": "B"}),
        (f"{a}/inventory", f"{a}/inventory", {"name": "Cable", "sku": "C-1", "quantity": "3"}),
        (
            f"{a}/users",
            f"{a}/users",
            {"email": "new@example.com", "password": "password123", "role": "member"},
        ),
    ]
    for page, action, data in cases:
        r = submit(edge, page, action, data)
        assert r.status_code == 303, (action, r.text)
        assert r.headers["location"].startswith(page + "?msg="), r.headers["location"]

    other = make_user(email="pw@example.com")
    user_client = through_nginx(app, "198.51.100.24")
    sign_in(user_client, other)
    r = submit(
        user_client,
        f"{PREFIX}/account",
        f"{PREFIX}/account/password",
        {
            "current_password": PASSWORD,
            "new_password": "another-password-1",
            "confirm_password": "another-password-1",
        },
    )
    assert r.headers["location"] == f"{PREFIX}/account?msg=password-changed"
    assert user_client.get(f"{PREFIX}/account").status_code == 200


def test_a_wrong_csrf_token_is_refused_under_the_prefix(edge: TestClient, member: User) -> None:
    sign_in(edge, member)
    r = edge.post(f"{PREFIX}/logout", data={"csrf_token": "nope"}, follow_redirects=False)
    assert r.status_code == 403


def test_access_log_keeps_the_health_checks_quiet_under_the_prefix(
    edge: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    with caplog.at_level(logging.DEBUG, logger="app.access"):
        edge.get(f"{PREFIX}/healthz")
        edge.get(f"{PREFIX}/login")
    levels = {r.__dict__["path"]: r.levelno for r in caplog.records if r.name == "app.access"}
    assert levels == {f"{PREFIX}/healthz": logging.DEBUG, f"{PREFIX}/login": logging.INFO}


# --- (d) without the setting: as before --------------------------------------------------


def test_without_root_path_nothing_is_prefixed(db_url: str) -> None:
    plain = create_app(make_settings(db_url), run_startup=False)
    assert plain.state.settings.root_path == ""
    assert RootPathMiddleware not in {cast(Any, m).cls for m in plain.user_middleware}
    client = TestClient(plain)
    page = client.get("/login")
    assert 'href="/static/css/app.css?v=' in page.text
    assert 'action="/login"' in page.text
    csrf = next(h for h in page.headers.get_list("set-cookie") if h.startswith("vmstack_csrf="))
    assert "Path=/;" in csrf + ";"
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    assert "servers" not in client.get("/api/openapi.json").json()
    assert 'data-openapi-url="/api/openapi.json"' in client.get("/api/docs").text
    assert client.get("/api/v1/devices").status_code == 401
    plain.state.db.dispose()


def test_the_middleware_leaves_lifespan_alone(app: FastAPI) -> None:
    with TestClient(app) as c:  # runs the lifespan through RootPathMiddleware
        assert c.get("/healthz").status_code == 200
