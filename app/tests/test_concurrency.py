"""Double booking under concurrency (PostgreSQL: row lock on the device)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.bookings import service
from app.bookings.models import Booking
from app.bookings.schemas import BookingCreate
from app.core.errors import Conflict
from app.users.models import User
from tests.conftest import requires_pg

pytestmark = requires_pg

START = datetime(2031, 5, 1, 9, tzinfo=UTC)
END = datetime(2031, 5, 1, 10, tzinfo=UTC)


def test_second_transaction_waits_for_lock_then_sees_conflict(
    app: FastAPI, member: User, device: dict[str, Any]
) -> None:
    factory = app.state.db.session_factory
    data = BookingCreate(device_id=device["id"], start=START, end=END)
    first_holds_lock = threading.Event()
    outcome: dict[str, Any] = {}

    def first() -> None:
        with factory() as s:
            actor = s.get(User, member.id)
            assert actor is not None
            service.create(session=s, data=data, actor=actor)
            first_holds_lock.set()
            time.sleep(0.5)  # keep the device row locked
            s.commit()

    def second() -> None:
        first_holds_lock.wait(5)
        began = time.perf_counter()
        with factory() as s:
            actor = s.get(User, member.id)
            assert actor is not None
            try:
                service.create(session=s, data=data, actor=actor)
                s.commit()
                outcome["result"] = "created"
            except Conflict as exc:
                outcome["result"] = "conflict"
                outcome["details"] = exc.details
                s.rollback()
        outcome["waited"] = time.perf_counter() - began

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert outcome["result"] == "conflict"
    assert outcome["waited"] >= 0.3  # blocked on the row lock, not a lucky ordering
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Booking)) == 1


@pytest.mark.parametrize("parallel", [8])
def test_parallel_http_requests_only_one_wins(
    app: FastAPI, member_h: dict[str, str], device: dict[str, Any], parallel: int
) -> None:
    body = {"device_id": device["id"], "start": START.isoformat(), "end": END.isoformat()}
    barrier = threading.Barrier(parallel)

    def post(_: int) -> int:
        client = TestClient(app)
        barrier.wait(5)
        return int(client.post("/api/v1/bookings", json=body, headers=member_h).status_code)

    with ThreadPoolExecutor(parallel) as pool:
        codes = sorted(pool.map(post, range(parallel)))
    assert codes.count(201) == 1, codes
    assert codes.count(409) == parallel - 1, codes
