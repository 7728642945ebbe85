from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.core.errors import Conflict, NotFound, Unprocessable
from app.core.pagination import PageParams
from app.devices import repository as devices_repository
from app.inventory import repository
from app.inventory.models import InventoryItem
from app.inventory.schemas import ItemCreate, ItemUpdate


def get(*, session: Session, item_id: int) -> InventoryItem:
    item = repository.get(session, item_id=item_id)
    if item is None:
        raise NotFound(f"inventory item {item_id} not found")
    return item


def list_items(
    *,
    session: Session,
    page: PageParams,
    type_id: int | None = None,
    location: str | None = None,
    q: str | None = None,
) -> tuple[Sequence[InventoryItem], int]:
    return repository.list_items(session, type_id=type_id, location=location, q=q, page=page)


def _require_type(session: Session, *, type_id: int | None) -> None:
    if type_id is not None and devices_repository.get_type(session, type_id=type_id) is None:
        raise Unprocessable(
            f"device type {type_id} does not exist", details={"device_type_id": type_id}
        )


def _ensure_sku_free(session: Session, *, sku: str, current: int | None = None) -> None:
    existing = repository.get_by_sku(session, sku=sku)
    if existing is not None and existing.id != current:
        raise Conflict(
            "an inventory item with this SKU already exists",
            details={"sku": sku, "item_id": existing.id},
        )


def create(*, session: Session, data: ItemCreate) -> InventoryItem:
    _require_type(session, type_id=data.device_type_id)
    _ensure_sku_free(session, sku=data.sku)
    return repository.add(session, item=InventoryItem(**data.model_dump()))


def update(*, session: Session, item: InventoryItem, data: ItemUpdate) -> InventoryItem:
    fields = data.model_dump(exclude_unset=True)
    if "device_type_id" in fields:
        _require_type(session, type_id=fields["device_type_id"])
    if "sku" in fields:
        _ensure_sku_free(session, sku=fields["sku"], current=item.id)
    for key, value in fields.items():
        setattr(item, key, value)
    session.flush()
    return item


def delete(*, session: Session, item: InventoryItem) -> None:
    repository.delete(session, item=item)
