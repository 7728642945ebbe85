from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, UTCDateTime, utcnow
from app.core.search import Searchable


class DeviceType(Searchable, Base):
    __tablename__ = "device_types"
    __search_fields__ = ("name",)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Device(Searchable, Base):
    __tablename__ = "devices"
    __search_fields__ = ("name", "serial")
    __table_args__ = (
        CheckConstraint("status IN ('available', 'maintenance', 'retired')", name="status_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    device_type_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("device_types.id", ondelete="RESTRICT"), index=True
    )
    serial: Mapped[str] = mapped_column(String(100), unique=True)
    location: Mapped[str] = mapped_column(String(200), default="", index=True)
    status: Mapped[str] = mapped_column(String(16), default="available", index=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    device_type: Mapped[DeviceType] = relationship(lazy="joined", innerjoin=True)
