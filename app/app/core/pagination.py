"""limit/offset pagination: one dependency for the query parameters, one helper that counts
and slices a query, one response model. Every list endpoint uses these three."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

MAX_LIMIT = 200
MAX_OFFSET = 1_000_000


class PageParams(BaseModel):
    limit: int = 50
    offset: int = 0


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(page_params)]


T = TypeVar("T")
R = TypeVar("R")


def paginate(
    session: Session,
    stmt: Select[T],
    *,
    page: PageParams,
    order_by: Iterable[Any],
) -> tuple[Sequence[T], int]:
    """The page of ``stmt`` (ordered by ``order_by``) and the total row count."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = session.scalars(stmt.order_by(*order_by).limit(page.limit).offset(page.offset))
    return rows.unique().all(), total


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int

    @classmethod
    def of(
        cls, result: tuple[Sequence[R], int], page: PageParams, convert: Callable[[R], T]
    ) -> Page[T]:
        rows, total = result
        return cls(
            items=[convert(r) for r in rows], total=total, limit=page.limit, offset=page.offset
        )
