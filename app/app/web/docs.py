"""/api/docs (Swagger UI) and /api/redoc from the vendored files: no CDN, no inline script."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from starlette.responses import Response

from app.core.rootpath import root_path_of
from app.web.templating import render

router = APIRouter(include_in_schema=False)

SWAGGER_DIR = "vendor/swagger-ui-dist-5.35.0"
REDOC_DIR = "vendor/redoc-3.0.1"


def _openapi_url(request: Request) -> str:
    """The schema's URL as the browser must ask for it (under ROOT_PATH). The schema itself
    names the prefix in ``servers``, so "Try it out" calls go under it too."""
    return root_path_of(request.scope) + str(request.app.openapi_url)


@router.get("/api/docs")
def swagger_ui(request: Request) -> Response:
    return render(
        request,
        "docs_swagger.html",
        {"openapi_url": _openapi_url(request), "swagger_dir": SWAGGER_DIR},
    )


@router.get("/api/redoc")
def redoc(request: Request) -> Response:
    # ReDoc's styled-components inject <style> elements: they carry this response's nonce
    # (read from its <meta property="csp-nonce">), so the policy still has no 'unsafe-inline'.
    nonce = secrets.token_urlsafe(18)
    return render(
        request,
        "docs_redoc.html",
        {"openapi_url": _openapi_url(request), "redoc_dir": REDOC_DIR, "nonce": nonce},
        headers={
            "Content-Security-Policy": content_security_policy(style_nonce=nonce, data_fonts=True)
        },
    )


def content_security_policy(*, style_nonce: str | None = None, data_fonts: bool = False) -> str:
    style = "style-src 'self'" + (f" 'nonce-{style_nonce}'" if style_nonce else "")
    font = "font-src 'self'" + (" data:" if data_fonts else "")
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            style,
            "img-src 'self' data:",
            font,
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )
