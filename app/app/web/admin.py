"""Admin pages: devices, device types, inventory, users, and the /infra/ dashboard."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from app.core.db import SessionDep, utcnow
from app.core.errors import AppError
from app.core.pagination import MAX_LIMIT, PageParams
from app.core.rootpath import root_path_of
from app.devices import service as devices_service
from app.devices.schemas import (
    DeviceCreate,
    DeviceStatus,
    DeviceTypeCreate,
    DeviceUpdate,
)
from app.inventory import service as inventory_service
from app.inventory.schemas import ItemCreate, ItemUpdate
from app.users import service as users_service
from app.users.schemas import Role, UserCreate, UserUpdate
from app.web import infra
from app.web.common import MESSAGES, PageRoute, fail
from app.web.deps import WebAdmin, csrf_protect, settings_of
from app.web.templating import render

router = APIRouter(
    route_class=PageRoute, include_in_schema=False, dependencies=[Depends(csrf_protect)]
)

# Quantity at or below which an inventory item is marked "low stock".
LOW_STOCK_AT = 2
LIST_LIMIT = MAX_LIMIT


def _redirect(request: Request, path: str) -> RedirectResponse:
    """303 to ``path`` (a path of this service) under the prefix the service is published at."""
    return RedirectResponse(root_path_of(request.scope) + path, status_code=303)


@router.get("/admin")
def admin_home(request: Request, user: WebAdmin) -> Response:
    return _redirect(request, "/admin/devices")


# --- devices -------------------------------------------------------------------------------


def _devices_page(
    request: Request,
    session: Session,
    *,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
    message: str | None = None,
) -> Response:
    devices, total = devices_service.list_devices(
        session=session, page=PageParams(limit=LIST_LIMIT)
    )
    types, _ = devices_service.list_types(session=session, page=PageParams(limit=LIST_LIMIT))
    return render(
        request,
        "admin/devices.html",
        {
            "devices": devices,
            "total": total,
            "types": types,
            "statuses": [s.value for s in DeviceStatus],
            "error": error,
            "form": form or {},
            "message": message,
        },
        status_code=status_code,
    )


@router.get("/admin/devices")
def admin_devices(
    request: Request, session: SessionDep, user: WebAdmin, msg: str | None = None
) -> Response:
    return _devices_page(request, session, message=MESSAGES.get(msg or ""))


@router.post("/admin/devices")
def admin_create_device(
    request: Request,
    session: SessionDep,
    user: WebAdmin,
    name: Annotated[str, Form()] = "",
    device_type_id: Annotated[str, Form()] = "",
    serial: Annotated[str, Form()] = "",
    location: Annotated[str, Form()] = "",
    status: Annotated[str, Form()] = "available",
    notes: Annotated[str, Form()] = "",
) -> Response:
    form = {
        "name": name,
        "device_type_id": device_type_id,
        "serial": serial,
        "location": location,
        "status": status,
        "notes": notes,
    }
    try:
        data = DeviceCreate.model_validate(
            {**form, "device_type_id": int(device_type_id or 0) or None}
        )
        devices_service.create(session=session, data=data)
    except (AppError, ValidationError, ValueError) as exc:
        text = fail(session, exc)
        code = exc.status_code if isinstance(exc, AppError) else 422
        return _devices_page(request, session, error=text, form=form, status_code=code)
    return _redirect(request, "/admin/devices?msg=created")


@router.post("/admin/devices/{device_id}")
def admin_update_device(
    request: Request,
    session: SessionDep,
    user: WebAdmin,
    device_id: int,
    status: Annotated[str, Form()] = "",
    location: Annotated[str, Form()] = "",
) -> Response:
    device = devices_service.get(session=session, device_id=device_id)
    try:
        data = DeviceUpdate.model_validate({"status": status, "location": location})
        devices_service.update(session=session, device=device, data=data)
    except (AppError, ValidationError) as exc:
        text = fail(session, exc)
        code = exc.status_code if isinstance(exc, AppError) else 422
        return _devices_page(request, session, error=text, status_code=code)
    return _redirect(request, "/admin/devices?msg=saved")


# --- device types --------------------------------------------------------------------------


def _types_page(
    request: Request,
    session: Session,
    *,
    error: str | None = None,
    status_code: int = 200,
    message: str | None = None,
) -> Response:
    types, total = devices_service.list_types(session=session, page=PageParams(limit=LIST_LIMIT))
    return render(
        request,
        "admin/types.html",
        {"types": types, "total": total, "error": error, "message": message},
        status_code=status_code,
    )


@router.get("/admin/device-types")
def admin_types(
    request: Request, session: SessionDep, user: WebAdmin, msg: str | None = None
) -> Response:
    return _types_page(request, session, message=MESSAGES.get(msg or ""))


@router.post("/admin/device-types")
def admin_create_type(
    request: Request,
    session: SessionDep,
    user: WebAdmin,
    name: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    try:
        data = DeviceTypeCreate(name=name, description=description)
        devices_service.create_type(session=session, data=data)
    except (AppError, ValidationError) as exc:
        text = fail(session, exc)
        code = exc.status_code if isinstance(exc, AppError) else 422
        return _types_page(request, session, error=text, status_code=code)
    return _redirect(request, "/admin/device-types?msg=created")


# --- inventory -----------------------------------------------------------------------------


def _inventory_page(
    request: Request,
    session: Session,
    *,
    error: str | None = None,
    status_code: int = 200,
    message: str | None = None,
) -> Response:
    items, total = inventory_service.list_items(session=session, page=PageParams(limit=LIST_LIMIT))
    types, _ = devices_service.list_types(session=session, page=PageParams(limit=LIST_LIMIT))
    return render(
        request,
        "admin/inventory.html",
        {
            "items": items,
            "total": total,
            "types": {t.id: t.name for t in types},
            "type_list": types,
            "low_stock_at": LOW_STOCK_AT,
            "low_count": sum(1 for i in items if i.quantity <= LOW_STOCK_AT),
            "error": error,
            "message": message,
        },
        status_code=status_code,
    )


def _quantity(value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise ValueError("quantity: a whole number is required") from None


@router.get("/admin/inventory")
def admin_inventory(
    request: Request, session: SessionDep, user: WebAdmin, msg: str | None = None
) -> Response:
    return _inventory_page(request, session, message=MESSAGES.get(msg or ""))


@router.post("/admin/inventory")
def admin_create_item(
    request: Request,
    session: SessionDep,
    user: WebAdmin,
    name: Annotated[str, Form()] = "",
    sku: Annotated[str, Form()] = "",
    quantity: Annotated[str, Form()] = "0",
    location: Annotated[str, Form()] = "",
    device_type_id: Annotated[str, Form()] = "",
) -> Response:
    try:
        data = ItemCreate.model_validate(
            {
                "name": name,
                "sku": sku,
                "quantity": _quantity(quantity or "0"),
                "location": location,
                "device_type_id": int(device_type_id) if device_type_id else None,
            }
        )
        inventory_service.create(session=session, data=data)
    except (AppError, ValidationError, ValueError) as exc:
        text = fail(session, exc)
        code = exc.status_code if isinstance(exc, AppError) else 422
        return _inventory_page(request, session, error=text, status_code=code)
    return _redirect(request, "/admin/inventory?msg=created")


@router.post("/admin/inventory/{item_id}")
def admin_update_item(
    request: Request,
    session: SessionDep,
    user: WebAdmin,
    item_id: int,
    quantity: Annotated[str, Form()] = "",
) -> Response:
    item = inventory_service.get(session=session, item_id=item_id)
    try:
        inventory_service.update(
            session=session,
            item=item,
            data=ItemUpdate.model_validate({"quantity": _quantity(quantity)}),
        )
    except (AppError, ValidationError, ValueError) as exc:
        text = fail(session, exc)
        code = exc.status_code if isinstance(exc, AppError) else 422
        return _inventory_page(request, session, error=text, status_code=code)
    return _redirect(request, "/admin/inventory?msg=saved")


# --- users ---------------------------------------------------------------------------------


def _users_page(
    request: Request,
    session: Session,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
    message: str | None = None,
) -> Response:
    users, total = users_service.list_users(session=session, page=PageParams(limit=LIST_LIMIT))
    return render(
        request,
        "admin/users.html",
        {
            "users": users,
            "total": total,
            "roles": [r.value for r in Role],
            "error": error,
            "form": form or {},
            "message": message,
        },
        status_code=status_code,
    )


@router.get("/admin/users")
def admin_users(
    request: Request, session: SessionDep, user: WebAdmin, msg: str | None = None
) -> Response:
    return _users_page(request, session, message=MESSAGES.get(msg or ""))


@router.post("/admin/users")
def admin_create_user(
    request: Request,
    session: SessionDep,
    user: WebAdmin,
    email: Annotated[str, Form()] = "",
    full_name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "member",
) -> Response:
    form = {"email": email, "full_name": full_name, "role": role}
    try:
        data = UserCreate.model_validate(
            {"email": email, "full_name": full_name, "password": password, "role": role}
        )
        users_service.create(session=session, data=data)
    except (AppError, ValidationError) as exc:
        text = fail(session, exc)
        code = exc.status_code if isinstance(exc, AppError) else 422
        return _users_page(request, session, error=text, form=form, status_code=code)
    return _redirect(request, "/admin/users?msg=created")


@router.post("/admin/users/{user_id}")
def admin_update_user(
    request: Request,
    session: SessionDep,
    user: WebAdmin,
    user_id: int,
    role: Annotated[str, Form()] = "",
    active: Annotated[str, Form()] = "",
) -> Response:
    target = users_service.get(session=session, user_id=user_id)
    fields: dict[str, Any] = {}
    if role:
        fields["role"] = role
    if active in {"true", "false"}:
        fields["is_active"] = active == "true"
    try:
        users_service.update(
            session=session, user=target, data=UserUpdate.model_validate(fields), actor=user
        )
    except (AppError, ValidationError) as exc:
        text = fail(session, exc)
        code = exc.status_code if isinstance(exc, AppError) else 422
        return _users_page(request, session, error=text, status_code=code)
    return _redirect(request, "/admin/users?msg=saved")


# --- /infra/ -------------------------------------------------------------------------------


@router.get("/infra")
def infra_redirect(request: Request, user: WebAdmin) -> Response:
    return _redirect(request, "/infra/")


@router.get("/infra/")
def infra_page(request: Request, user: WebAdmin) -> Response:
    settings = settings_of(request)
    status = infra.read_status(settings.status_file, now=utcnow())
    return render(
        request,
        "infra.html",
        {"status": status, "container_ok": infra.container_ok, "now": utcnow()},
    )
