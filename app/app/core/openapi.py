"""OpenAPI links: what a created resource's id (or a token) can be used for next.

Clients and the schemathesis stateful phase follow them (create a booking, then read, move
and cancel it). Declared here in one table; each link names its target by operationId,
looked up in the generated schema so a renamed endpoint fails loudly at startup."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.core.config import API_V1_STR

V1 = API_V1_STR
_ID = "$response.body#/id"
_REFRESH = {"refresh_token": "$response.body#/refresh_token"}

# (source path, method, status) -> [(target path, method, path parameters, request body)]
LINKS: dict[tuple[str, str, str], list[tuple[str, str, dict[str, str], Any]]] = {
    (f"{V1}/device-types", "post", "201"): [
        (f"{V1}/device-types/{{type_id}}", m, {"type_id": _ID}, None)
        for m in ("get", "patch", "delete")
    ],
    (f"{V1}/devices", "post", "201"): [
        *(
            (f"{V1}/devices/{{device_id}}", m, {"device_id": _ID}, None)
            for m in ("get", "patch", "delete")
        ),
        (f"{V1}/devices/{{device_id}}/availability", "get", {"device_id": _ID}, None),
    ],
    (f"{V1}/inventory-items", "post", "201"): [
        (f"{V1}/inventory-items/{{item_id}}", m, {"item_id": _ID}, None)
        for m in ("get", "patch", "delete")
    ],
    (f"{V1}/users", "post", "201"): [
        (f"{V1}/users/{{user_id}}", m, {"user_id": _ID}, None) for m in ("get", "patch", "delete")
    ],
    (f"{V1}/bookings", "post", "201"): [
        (f"{V1}/bookings/{{booking_id}}", "get", {"booking_id": _ID}, None),
        (f"{V1}/bookings/{{booking_id}}", "patch", {"booking_id": _ID}, None),
        (f"{V1}/bookings/{{booking_id}}/cancel", "post", {"booking_id": _ID}, None),
    ],
    (f"{V1}/auth/login", "post", "200"): [
        (f"{V1}/auth/refresh", "post", {}, _REFRESH),
        (f"{V1}/auth/logout", "post", {}, _REFRESH),
    ],
    (f"{V1}/auth/refresh", "post", "200"): [
        (f"{V1}/auth/refresh", "post", {}, _REFRESH),
        (f"{V1}/auth/logout", "post", {}, _REFRESH),
    ],
}


def add_links(schema: dict[str, Any]) -> dict[str, Any]:
    paths = schema["paths"]
    for (path, method, status), targets in LINKS.items():
        response = paths[path][method]["responses"][status]
        links = response.setdefault("links", {})
        for target_path, target_method, parameters, body in targets:
            operation_id = paths[target_path][target_method]["operationId"]
            link: dict[str, Any] = {"operationId": operation_id}
            if parameters:
                link["parameters"] = parameters
            if body is not None:
                link["requestBody"] = body
            links[operation_id] = link
    return schema


def install_links(app: FastAPI) -> None:
    """Wrap ``app.openapi`` so the generated (and cached) schema carries the links."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_links(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
