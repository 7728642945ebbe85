from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, UTCDateTime, utcnow
from app.core.search import Searchable


class User(Searchable, Base):
    __tablename__ = "users"
    __search_fields__ = ("email", "full_name")
    __table_args__ = (CheckConstraint("role IN ('admin', 'member')", name="role_valid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="member")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # Access tokens issued before this instant are refused (password change, deactivation).
    tokens_valid_after: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    @property
    def display_name(self) -> str:
        """What other users see: the full name, else the e-mail address."""
        return self.full_name.strip() or self.email
