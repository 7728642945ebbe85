"""Every router, mounted in one place (each router carries its full /api/v1 prefix, so
route templates in metrics and logs are the real paths)."""

from fastapi import FastAPI

from app.auth.router import router as auth_router
from app.bookings.router import router as bookings_router
from app.core.openapi import install_links
from app.devices.router import router as devices_router
from app.inventory.router import router as inventory_router
from app.ops.router import router as ops_router
from app.users.router import router as users_router


def include_routers(app: FastAPI) -> None:
    for router in (
        ops_router,
        auth_router,
        users_router,
        devices_router,
        inventory_router,
        bookings_router,
    ):
        app.include_router(router)
    install_links(app)
