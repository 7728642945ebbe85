from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.core.errors import Conflict, NotFound, Unprocessable
from app.core.pagination import PageParams
from app.devices import repository
from app.devices.models import Device, DeviceType
from app.devices.schemas import (
    DeviceCreate,
    DeviceStatus,
    DeviceTypeCreate,
    DeviceTypeUpdate,
    DeviceUpdate,
)

# --- device types -------------------------------------------------------------------------


def get_type(*, session: Session, type_id: int) -> DeviceType:
    obj = repository.get_type(session, type_id=type_id)
    if obj is None:
        raise NotFound(f"device type {type_id} not found")
    return obj


def list_types(
    *, session: Session, page: PageParams, q: str | None = None
) -> tuple[Sequence[DeviceType], int]:
    return repository.list_types(session, q=q, page=page)


def _ensure_type_name_free(session: Session, *, name: str, current: int | None = None) -> None:
    existing = repository.get_type_by_name(session, name=name)
    if existing is not None and existing.id != current:
        raise Conflict("a device type with this name already exists", details={"name": name})


def create_type(*, session: Session, data: DeviceTypeCreate) -> DeviceType:
    _ensure_type_name_free(session, name=data.name)
    obj = DeviceType(name=data.name, description=data.description)
    repository.add(session, obj=obj)
    return obj


def update_type(*, session: Session, obj: DeviceType, data: DeviceTypeUpdate) -> DeviceType:
    fields = data.model_dump(exclude_unset=True, exclude_none=True)
    if "name" in fields:
        _ensure_type_name_free(session, name=fields["name"], current=obj.id)
    for key, value in fields.items():
        setattr(obj, key, value)
    session.flush()
    return obj


def delete_type(*, session: Session, obj: DeviceType) -> None:
    if repository.type_in_use(session, type_id=obj.id):
        raise Conflict("device type is used by devices", details={"device_type_id": obj.id})
    repository.clear_type_from_items(session, type_id=obj.id)
    repository.delete(session, obj=obj)


# --- devices ------------------------------------------------------------------------------


def get(*, session: Session, device_id: int, lock: bool = False) -> Device:
    device = repository.get(session, device_id=device_id, lock=lock)
    if device is None:
        raise NotFound(f"device {device_id} not found")
    return device


def list_devices(
    *,
    session: Session,
    page: PageParams,
    status: DeviceStatus | None = None,
    type_id: int | None = None,
    location: str | None = None,
    q: str | None = None,
) -> tuple[Sequence[Device], int]:
    return repository.list_devices(
        session,
        status=status.value if status else None,
        type_id=type_id,
        location=location,
        q=q,
        page=page,
    )


def _require_type(session: Session, *, type_id: int) -> None:
    if repository.get_type(session, type_id=type_id) is None:
        raise Unprocessable(
            f"device type {type_id} does not exist", details={"device_type_id": type_id}
        )


def _ensure_serial_free(session: Session, *, serial: str, current: int | None = None) -> None:
    existing = repository.get_by_serial(session, serial=serial)
    if existing is not None and existing.id != current:
        raise Conflict(
            "a device with this serial already exists",
            details={"serial": serial, "device_id": existing.id},
        )


def create(*, session: Session, data: DeviceCreate) -> Device:
    _require_type(session, type_id=data.device_type_id)
    _ensure_serial_free(session, serial=data.serial)
    device = Device(
        name=data.name,
        device_type_id=data.device_type_id,
        serial=data.serial,
        location=data.location,
        status=data.status.value,
        notes=data.notes,
    )
    repository.add(session, obj=device)
    session.refresh(device)
    return device


def update(*, session: Session, device: Device, data: DeviceUpdate) -> Device:
    fields = data.model_dump(exclude_unset=True, exclude_none=True)
    if "device_type_id" in fields:
        _require_type(session, type_id=fields["device_type_id"])
    if "serial" in fields:
        _ensure_serial_free(session, serial=fields["serial"], current=device.id)
    for key, value in fields.items():
        setattr(device, key, value.value if isinstance(value, DeviceStatus) else value)
    session.flush()
    session.refresh(device)
    return device


def delete(*, session: Session, device: Device) -> None:
    if repository.has_bookings(session, device_id=device.id):
        raise Conflict(
            "device has bookings; retire it instead (status=retired)",
            details={"device_id": device.id},
        )
    repository.delete(session, obj=device)
