"""Prepare a database for a live server (schemathesis, bench): reset, migrate, seed, mint a token.

    python -m tests.live_seed --devices 100     # env: DATABASE_URL, SECRET_KEY, ADMIN_*
Prints ``<admin access token>`` on stdout.
"""

from __future__ import annotations

import argparse

from sqlalchemy import text

from app import migrations
from app.core import security
from app.core.config import load_settings
from app.core.db import Database
from app.devices.models import Device, DeviceType
from app.inventory.models import InventoryItem
from app.users import repository as users_repository
from app.users import service as users_service


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--ttl", type=int, default=3600)
    args = parser.parse_args()
    settings = load_settings()
    assert settings.admin_email
    assert settings.admin_password
    db = Database(settings.database_url)
    if not settings.is_sqlite:
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    migrations.upgrade(settings.database_url)
    with db.session_factory.begin() as session:
        users_service.ensure_admin(
            session=session, email=settings.admin_email, password=settings.admin_password
        )
        admin = users_repository.get_by_email(session, email=settings.admin_email)
        assert admin is not None
        dtype = DeviceType(name="Seeded scope", description="seed")
        session.add(dtype)
        session.flush()
        for n in range(args.devices):
            session.add(
                Device(
                    name=f"Device {n:03d}",
                    device_type_id=dtype.id,
                    serial=f"SEED-{n:05d}",
                    location=f"Lab {n % 4}",
                    status="available",
                )
            )
        session.add(InventoryItem(name="BNC cable", sku="SEED-BNC", quantity=5, location="Lab 0"))
        admin_id = admin.id
    db.dispose()
    token = security.create_token(
        subject=admin_id, token_type="access", ttl_seconds=args.ttl, key=settings.signing_key
    )
    print(token.token)


if __name__ == "__main__":
    main()
