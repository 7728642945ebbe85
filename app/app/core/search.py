"""Case-insensitive search for any script on every database.

SQLite's ``lower()`` folds only ASCII and PostgreSQL's depends on the database locale, so each
searchable row keeps a ``search_text`` column: its searchable fields folded with Python's
``str.casefold()`` and joined by a separator no query can contain. Queries are folded the same
way and matched with ``LIKE`` with ``%``, ``_`` and ``\\`` escaped.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import ColumnElement, Text, event
from sqlalchemy.orm import Mapped, Mapper, mapped_column

SEPARATOR = "\x1f"  # ASCII unit separator; stripped from queries
ESCAPE = "\\"


def fold(*parts: str | None) -> str:
    return SEPARATOR.join((p or "").casefold() for p in parts)


def like_pattern(query: str) -> str:
    """``%<folded query>%`` with LIKE's wildcards and the escape character escaped."""
    folded = query.replace(SEPARATOR, "").casefold()
    escaped = (
        folded.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")
    )
    return f"%{escaped}%"


class Searchable:
    """Mixin: ``search_text`` is filled from ``__search_fields__`` on every insert/update."""

    __search_fields__: ClassVar[tuple[str, ...]] = ()
    search_text: Mapped[str] = mapped_column(Text, default="")

    @classmethod
    def search_matches(cls, query: str) -> ColumnElement[bool]:
        return cls.search_text.like(like_pattern(query), escape=ESCAPE)

    def refresh_search_text(self) -> None:
        self.search_text = fold(*(getattr(self, f) for f in self.__search_fields__))


def _fill(_mapper: Mapper[Any], _connection: Any, target: Searchable) -> None:
    target.refresh_search_text()


event.listen(Searchable, "before_insert", _fill, propagate=True)
event.listen(Searchable, "before_update", _fill, propagate=True)
