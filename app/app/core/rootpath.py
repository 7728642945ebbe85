"""Serving under a path prefix (``ROOT_PATH``): a reverse proxy publishes the service at,
say, ``/api/`` while another service answers ``/``.

The proxy passes the path on unchanged (nginx: ``location /api/ { proxy_pass
http://upstream; }``, no URI after the upstream). :class:`RootPathMiddleware` then sets the
ASGI ``root_path`` to the prefix, so routing sees the path below it (Starlette's
``get_route_path``), and every URL the service writes (pages, redirects, cookies, the
OpenAPI ``servers``) is built with :func:`root_path_of`. A request that reaches the
service's own port without the prefix (the container healthcheck, the deploy gates: ``GET
/healthz``) is served as if it had come with it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class RootPathMiddleware:
    def __init__(self, app: ASGIApp, root_path: str) -> None:
        self.app = app
        self.root_path = root_path.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        prefix = self.root_path
        path: str = scope["path"]
        scope = dict(scope)
        if path != prefix and not path.startswith(prefix + "/"):
            # Straight to the service's port, without the prefix: as if it had come with it.
            scope["path"] = prefix + path
            raw_path = scope.get("raw_path")
            if isinstance(raw_path, bytes):
                scope["raw_path"] = prefix.encode("ascii") + raw_path
        scope["root_path"] = prefix
        await self.app(scope, receive, send)


def root_path_of(scope: Scope) -> str:
    """The prefix the service is published under ("" at the root), without a trailing "/".

    Inside a mounted sub-application Starlette extends ``root_path`` by the mount's path and
    keeps the application's own in ``app_root_path``."""
    value = scope.get("app_root_path", scope.get("root_path", ""))
    return str(value).rstrip("/")


def below_root(path: str, root: str) -> str:
    """``path`` without the prefix ``root`` (unchanged when it does not start with it)."""
    if root and (path == root or path.startswith(root + "/")):
        return path[len(root) :] or "/"
    return path


def route_path_of(scope: Scope) -> str:
    """The request's path below the prefix: what the routes are written against."""
    return below_root(str(scope["path"]), str(scope.get("root_path", "")).rstrip("/"))
