from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.auth.dependencies import AdminUser, CurrentUser
from app.bookings import service as bookings_service
from app.core.config import API_V1_STR
from app.core.db import SessionDep
from app.core.errors import ERROR_RESPONSES
from app.core.pagination import Page, PageDep
from app.core.schemas import MAX_DB_INT, NO_NUL, IdPath, UtcDatetime
from app.devices import service
from app.devices.models import Device, DeviceType
from app.devices.schemas import (
    Availability,
    DeviceCreate,
    DeviceRead,
    DeviceStatus,
    DeviceTypeCreate,
    DeviceTypeRead,
    DeviceTypeUpdate,
    DeviceUpdate,
)

router = APIRouter(prefix=API_V1_STR, tags=["devices"], responses=ERROR_RESPONSES)

SearchQuery = Annotated[
    str | None, Query(max_length=200, pattern=NO_NUL, description="Case-insensitive search")
]


# --- device types -------------------------------------------------------------------------


@router.get("/device-types", response_model=Page[DeviceTypeRead])
def list_device_types(
    _: CurrentUser, session: SessionDep, page: PageDep, q: SearchQuery = None
) -> Page[DeviceTypeRead]:
    result = service.list_types(session=session, page=page, q=q)
    return Page[DeviceTypeRead].of(result, page, DeviceTypeRead.model_validate)


@router.post("/device-types", response_model=DeviceTypeRead, status_code=status.HTTP_201_CREATED)
def create_device_type(body: DeviceTypeCreate, _: AdminUser, session: SessionDep) -> DeviceType:
    return service.create_type(session=session, data=body)


@router.get("/device-types/{type_id}", response_model=DeviceTypeRead)
def get_device_type(type_id: IdPath, _: CurrentUser, session: SessionDep) -> DeviceType:
    return service.get_type(session=session, type_id=type_id)


@router.patch("/device-types/{type_id}", response_model=DeviceTypeRead)
def update_device_type(
    type_id: IdPath, body: DeviceTypeUpdate, _: AdminUser, session: SessionDep
) -> DeviceType:
    obj = service.get_type(session=session, type_id=type_id)
    return service.update_type(session=session, obj=obj, data=body)


@router.delete("/device-types/{type_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_device_type(type_id: IdPath, _: AdminUser, session: SessionDep) -> Response:
    service.delete_type(session=session, obj=service.get_type(session=session, type_id=type_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- devices ------------------------------------------------------------------------------


@router.get("/devices", response_model=Page[DeviceRead])
def list_devices(
    _: CurrentUser,
    session: SessionDep,
    page: PageDep,
    status: DeviceStatus | None = None,
    type_id: Annotated[int | None, Query(ge=1, le=MAX_DB_INT)] = None,
    location: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
    q: SearchQuery = None,
) -> Page[DeviceRead]:
    result = service.list_devices(
        session=session, page=page, status=status, type_id=type_id, location=location, q=q
    )
    return Page[DeviceRead].of(result, page, DeviceRead.model_validate)


@router.post("/devices", response_model=DeviceRead, status_code=status.HTTP_201_CREATED)
def create_device(body: DeviceCreate, _: AdminUser, session: SessionDep) -> Device:
    return service.create(session=session, data=body)


@router.get("/devices/{device_id}", response_model=DeviceRead)
def get_device(device_id: IdPath, _: CurrentUser, session: SessionDep) -> Device:
    return service.get(session=session, device_id=device_id)


@router.patch("/devices/{device_id}", response_model=DeviceRead)
def update_device(
    device_id: IdPath, body: DeviceUpdate, _: AdminUser, session: SessionDep
) -> Device:
    device = service.get(session=session, device_id=device_id)
    return service.update(session=session, device=device, data=body)


@router.delete("/devices/{device_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_device(device_id: IdPath, _: AdminUser, session: SessionDep) -> Response:
    service.delete(session=session, device=service.get(session=session, device_id=device_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/devices/{device_id}/availability", response_model=Availability)
def device_availability(
    device_id: IdPath,
    _: CurrentUser,
    session: SessionDep,
    from_: Annotated[UtcDatetime, Query(alias="from", description="Window start (with offset)")],
    to: Annotated[UtcDatetime, Query(description="Window end (with offset)")],
) -> Availability:
    """Busy intervals (active bookings, with the holder's display name) and free windows of
    a device within ``[from, to)``."""
    device = service.get(session=session, device_id=device_id)
    return bookings_service.availability(session=session, device=device, start=from_, end=to)
