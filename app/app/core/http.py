"""HTTP edges the framework leaves open: request size, media type, CORS rejections.

- ``BodyGuardMiddleware`` answers 413 when ``Content-Length`` exceeds ``MAX_BODY_BYTES``
  (nothing is read) and stops a streamed body (chunked, or lying about its length) as soon
  as the count passes the limit; it answers 415 for an API request body that is not JSON.
- ``EnvelopeCORSMiddleware`` answers a rejected preflight in the JSON error envelope.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import error_response
from app.core.rootpath import route_path_of

JSON_API_PREFIX = "/api/"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _too_large(limit: int) -> Response:
    return error_response(
        413,
        "payload_too_large",
        f"request body larger than {limit} bytes",
        details={"max_body_bytes": limit},
    )


class BodyGuardMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.limit = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                response = error_response(400, "bad_request", "invalid Content-Length header")
                await response(scope, receive, send)
                return
            if length > self.limit:
                await _too_large(self.limit)(scope, receive, send)
                return
        has_body = (declared is not None and declared != "0") or "transfer-encoding" in headers
        if (
            has_body
            and scope["method"] in _BODY_METHODS
            and route_path_of(scope).startswith(JSON_API_PREFIX)
            and not _is_json(headers.get("content-type", ""))
        ):
            response = error_response(
                415,
                "unsupported_media_type",
                "the request body must be application/json",
                details={"content_type": headers.get("content-type")},
            )
            await response(scope, receive, send)
            return

        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await _too_large(self.limit)(scope, receive, send)


class EnvelopeCORSMiddleware(CORSMiddleware):
    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        reason = bytes(response.body).decode("utf-8", "replace")
        headers = {k: v for k, v in response.headers.items() if k.lower().startswith("access-")}
        return error_response(
            response.status_code, "cors_rejected", reason, headers=headers or None
        )
