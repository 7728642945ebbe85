from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.auth.dependencies import AdminUser, CurrentUser
from app.core.config import API_V1_STR
from app.core.db import SessionDep
from app.core.errors import ERROR_RESPONSES
from app.core.pagination import Page, PageDep
from app.core.schemas import MAX_DB_INT, NO_NUL, IdPath
from app.inventory import service
from app.inventory.models import InventoryItem
from app.inventory.schemas import ItemCreate, ItemRead, ItemUpdate

router = APIRouter(
    prefix=f"{API_V1_STR}/inventory-items", tags=["inventory"], responses=ERROR_RESPONSES
)


@router.get("", response_model=Page[ItemRead])
def list_items(
    _: CurrentUser,
    session: SessionDep,
    page: PageDep,
    type_id: Annotated[int | None, Query(ge=1, le=MAX_DB_INT)] = None,
    location: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
    q: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
) -> Page[ItemRead]:
    result = service.list_items(session=session, page=page, type_id=type_id, location=location, q=q)
    return Page[ItemRead].of(result, page, ItemRead.model_validate)


@router.post("", response_model=ItemRead, status_code=status.HTTP_201_CREATED)
def create_item(body: ItemCreate, _: AdminUser, session: SessionDep) -> InventoryItem:
    return service.create(session=session, data=body)


@router.get("/{item_id}", response_model=ItemRead)
def get_item(item_id: IdPath, _: CurrentUser, session: SessionDep) -> InventoryItem:
    return service.get(session=session, item_id=item_id)


@router.patch("/{item_id}", response_model=ItemRead)
def update_item(
    item_id: IdPath, body: ItemUpdate, _: AdminUser, session: SessionDep
) -> InventoryItem:
    return service.update(
        session=session, item=service.get(session=session, item_id=item_id), data=body
    )


@router.delete("/{item_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_item(item_id: IdPath, _: AdminUser, session: SessionDep) -> Response:
    service.delete(session=session, item=service.get(session=session, item_id=item_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
