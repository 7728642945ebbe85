from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.pagination import PageParams, paginate
from app.inventory.models import InventoryItem


def get(session: Session, *, item_id: int) -> InventoryItem | None:
    return session.get(InventoryItem, item_id)


def get_by_sku(session: Session, *, sku: str) -> InventoryItem | None:
    return session.scalars(select(InventoryItem).where(InventoryItem.sku == sku)).one_or_none()


def list_items(
    session: Session,
    *,
    type_id: int | None,
    location: str | None,
    q: str | None,
    page: PageParams,
) -> tuple[Sequence[InventoryItem], int]:
    stmt = select(InventoryItem)
    if type_id is not None:
        stmt = stmt.where(InventoryItem.device_type_id == type_id)
    if location:
        stmt = stmt.where(func.lower(InventoryItem.location) == location.lower())
    if q:
        stmt = stmt.where(InventoryItem.search_matches(q))
    return paginate(session, stmt, page=page, order_by=(InventoryItem.id,))


def add(session: Session, *, item: InventoryItem) -> InventoryItem:
    session.add(item)
    session.flush()
    return item


def delete(session: Session, *, item: InventoryItem) -> None:
    session.delete(item)
    session.flush()
