"""Import every model so ``Base.metadata`` is complete (Alembic, tests)."""

from app.auth.models import RefreshToken
from app.bookings.models import Booking
from app.core.db import Base
from app.devices.models import Device, DeviceType
from app.inventory.models import InventoryItem
from app.users.models import User

__all__ = ["Base", "Booking", "Device", "DeviceType", "InventoryItem", "RefreshToken", "User"]
