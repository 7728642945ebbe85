"""Double booking under concurrency, on SQLite and on PostgreSQL.

The app serialises bookings of one device (PostgreSQL: ``FOR UPDATE`` on the device row;
SQLite: the write lock taken before the overlap check) and the database refuses an overlap on
its own (PostgreSQL: exclusion constraint; SQLite: trigger)."""

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
from sqlalchemy.exc import IntegrityError

from app.bookings import repository, service
from app.bookings.models import Booking
from app.bookings.schemas import BookingCreate
from app.core.config import Settings
from app.core.errors import Conflict
from app.users.models import User
from tests.conftest import IS_PG, assert_error

START = datetime(2031, 5, 1, 9, tzinfo=UTC)
END = datetime(2031, 5, 1, 10, tzinfo=UTC)


def _active(app: FastAPI) -> int:
    with app.state.db.session_factory() as s:
        return int(s.scalar(select(func.count()).where(Booking.status == "active")) or 0)


def test_second_transaction_waits_for_the_lock_then_sees_conflict(
    app: FastAPI, member: User, device: dict[str, Any], settings: Settings
) -> None:
    factory = app.state.db.session_factory
    data = BookingCreate(device_id=device["id"], start=START, end=END)
    first_holds_lock = threading.Event()
    outcome: dict[str, Any] = {}

    def first() -> None:
        with factory() as s:
            actor = s.get(User, member.id)
            assert actor is not None
            service.create_booking(session=s, actor=actor, data=data, settings=settings)
            first_holds_lock.set()
            time.sleep(0.5)  # keep the lock
            s.commit()

    def second() -> None:
        first_holds_lock.wait(5)
        began = time.perf_counter()
        with factory() as s:
            actor = s.get(User, member.id)
            assert actor is not None
            try:
                service.create_booking(session=s, actor=actor, data=data, settings=settings)
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
    assert outcome["waited"] >= 0.3  # blocked on the lock, not a lucky ordering
    assert outcome["details"]["holder"] == "member user"
    assert _active(app) == 1


@pytest.mark.parametrize("parallel", [10])
def test_parallel_bookings_of_one_slot_exactly_one_wins(
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
    assert _active(app) == 1


def test_the_database_refuses_an_overlap_the_app_did_not_check(
    app: FastAPI, member: User, device: dict[str, Any]
) -> None:
    factory = app.state.db.session_factory
    with factory.begin() as s:
        s.add(Booking(device_id=device["id"], user_id=member.id, start_at=START, end_at=END))
    with pytest.raises(IntegrityError, match=repository.OVERLAP_CONSTRAINT), factory.begin() as s:
        s.add(
            Booking(
                device_id=device["id"],
                user_id=member.id,
                start_at=START.replace(minute=30),
                end_at=END.replace(hour=11),
            )
        )
    # a cancelled booking and an adjacent one ([start, end) ranges) are fine
    with factory.begin() as s:
        s.add(
            Booking(
                device_id=device["id"],
                user_id=member.id,
                start_at=START,
                end_at=END,
                status="cancelled",
            )
        )
        s.add(
            Booking(
                device_id=device["id"], user_id=member.id, start_at=END, end_at=END.replace(hour=11)
            )
        )
    assert _active(app) == 2


def test_a_database_overlap_refusal_answers_409_in_the_envelope(
    client: TestClient,
    member_h: dict[str, str],
    device: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = {"device_id": device["id"], "start": START.isoformat(), "end": END.isoformat()}
    assert client.post("/api/v1/bookings", json=body, headers=member_h).status_code == 201
    # Let the app's own check miss the overlap, as a race would: the database still refuses.
    monkeypatch.setattr(repository, "overlapping", lambda *a, **k: [])
    err = assert_error(
        client.post("/api/v1/bookings", json=body, headers=member_h), 409, "booking_conflict"
    )
    assert err["details"]["device_id"] == device["id"]


def test_exclusion_constraint_is_in_the_schema(app: FastAPI) -> None:
    from sqlalchemy import text

    with app.state.db.engine.connect() as conn:
        if IS_PG:
            found = conn.execute(
                text("SELECT contype FROM pg_constraint WHERE conname = :n"),
                {"n": repository.OVERLAP_CONSTRAINT},
            ).scalar()
            assert found == "x"  # an exclusion constraint
        else:
            names = set(
                conn.execute(
                    text("SELECT name FROM sqlite_master WHERE type = 'trigger'")
                ).scalars()
            )
            assert names == {"tr_bookings_no_overlap_insert", "tr_bookings_no_overlap_update"}


@pytest.mark.parametrize(
    ("message", "status"), [("database is locked", 503), ("disk I/O error", 500)]
)
def test_a_lock_timeout_is_503_retry_not_500(
    db_url: str,
    member: User,
    device: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    app: FastAPI,
    message: str,
    status: int,
) -> None:
    from sqlalchemy.exc import OperationalError

    from tests.conftest import bearer

    def locked(*_: Any, **__: Any) -> None:
        raise OperationalError("UPDATE devices ...", {}, Exception(message))

    monkeypatch.setattr(repository, "overlapping", locked)
    client = TestClient(app, raise_server_exceptions=False)
    body = {"device_id": device["id"], "start": START.isoformat(), "end": END.isoformat()}
    r = client.post("/api/v1/bookings", json=body, headers=bearer(member, app.state.settings))
    err = assert_error(r, status)
    if status == 503:
        assert err["code"] == "overloaded" and r.headers["retry-after"] == "1"
