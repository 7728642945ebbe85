"""The lab's web UI: server-rendered pages (Jinja2 + htmx) on the same service layer as the
API, the /infra/ dashboard, the offline API docs and the vendored static files."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from starlette.datastructures import MutableHeaders
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.rootpath import root_path_of
from app.web import admin, docs, pages
from app.web.common import error_page
from app.web.deps import LoginRequired, PageForbidden
from app.web.templating import STATIC_DIR, STATIC_PREFIX, CachedStaticFiles

CSP = docs.content_security_policy()


class SecurityHeadersMiddleware:
    """A Content-Security-Policy without 'unsafe-inline' on every answer (a route may set a
    stricter or nonce-carrying one itself). The other security headers come from nginx."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "content-security-policy" not in headers:
                    headers["Content-Security-Policy"] = CSP
                if "x-content-type-options" not in headers:
                    headers["X-Content-Type-Options"] = "nosniff"
            await send(message)

        await self.app(scope, receive, send_wrapper)


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)  # noqa: S101
    target = f"{root_path_of(request.scope)}/login?next={quote(exc.next_url, safe='/')}"
    if request.headers.get("hx-request"):
        # htmx follows a redirect inside the swap; tell it to load the sign-in page instead.
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


async def _page_forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageForbidden)  # noqa: S101
    return error_page(request, 403, exc.message)


def install_web(app: FastAPI) -> None:
    app.mount(STATIC_PREFIX, CachedStaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(docs.router)
    app.include_router(pages.router)
    app.include_router(admin.router)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(PageForbidden, _page_forbidden)
    app.add_middleware(SecurityHeadersMiddleware)
