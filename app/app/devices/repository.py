from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.bookings.models import Booking
from app.core.pagination import PageParams, paginate
from app.devices.models import Device, DeviceType
from app.inventory.models import InventoryItem


def get_type(session: Session, *, type_id: int) -> DeviceType | None:
    return session.get(DeviceType, type_id)


def get_type_by_name(session: Session, *, name: str) -> DeviceType | None:
    return session.scalars(select(DeviceType).where(DeviceType.name == name)).one_or_none()


def list_types(
    session: Session, *, q: str | None, page: PageParams
) -> tuple[Sequence[DeviceType], int]:
    stmt = select(DeviceType)
    if q:
        stmt = stmt.where(DeviceType.search_matches(q))
    return paginate(session, stmt, page=page, order_by=(DeviceType.id,))


def type_in_use(session: Session, *, type_id: int) -> bool:
    return bool(session.scalar(select(func.count()).where(Device.device_type_id == type_id)))


def get(session: Session, *, device_id: int, lock: bool = False) -> Device | None:
    if lock:
        if session.get_bind().dialect.name == "sqlite":
            # SQLite has no row locks, and a plain SELECT takes no write lock: this no-op
            # write takes the database's write lock now (held until commit), so a concurrent
            # booking waits here instead of passing the overlap check beside this one.
            session.execute(text("UPDATE devices SET id = id WHERE id = :id"), {"id": device_id})
            return session.get(Device, device_id, populate_existing=True)
        # PostgreSQL: a row lock on the device serialises its bookings.
        stmt = select(Device).where(Device.id == device_id).with_for_update(of=Device)
        return session.scalars(stmt).unique().one_or_none()
    return session.get(Device, device_id)


def get_by_serial(session: Session, *, serial: str) -> Device | None:
    return session.scalars(select(Device).where(Device.serial == serial)).unique().one_or_none()


def list_devices(
    session: Session,
    *,
    status: str | None,
    type_id: int | None,
    location: str | None,
    q: str | None,
    page: PageParams,
) -> tuple[Sequence[Device], int]:
    stmt = select(Device)
    if status:
        stmt = stmt.where(Device.status == status)
    if type_id is not None:
        stmt = stmt.where(Device.device_type_id == type_id)
    if location:
        stmt = stmt.where(func.lower(Device.location) == location.lower())
    if q:
        stmt = stmt.where(Device.search_matches(q))
    return paginate(session, stmt, page=page, order_by=(Device.id,))


def has_bookings(session: Session, *, device_id: int) -> bool:
    return bool(session.scalar(select(func.count()).where(Booking.device_id == device_id)))


def clear_type_from_items(session: Session, *, type_id: int) -> None:
    for item in session.scalars(
        select(InventoryItem).where(InventoryItem.device_type_id == type_id)
    ):
        item.device_type_id = None


def add(session: Session, *, obj: Device | DeviceType) -> None:
    session.add(obj)
    session.flush()


def delete(session: Session, *, obj: Device | DeviceType) -> None:
    session.delete(obj)
    session.flush()
