"""Pages for every signed-in user: sign in/out, devices, the week view, bookings, account."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import RedirectResponse, Response

from app.auth import repository as auth_repository
from app.auth import service as auth_service
from app.bookings import service as bookings_service
from app.bookings.schemas import BookingCreate, BookingStatus, BookingUpdate
from app.core.db import SessionDep, utcnow
from app.core.errors import AppError, Conflict, RateLimited
from app.core.pagination import MAX_LIMIT, PageParams
from app.core.ratelimit import LoginLimiter
from app.core.rootpath import root_path_of
from app.core.schemas import MAX_DB_INT
from app.core.security import decode_token
from app.devices import service as devices_service
from app.devices.models import Device
from app.devices.schemas import DeviceStatus
from app.users import service as users_service
from app.users.models import User
from app.users.schemas import PasswordChange
from app.web import session as web_session
from app.web.common import (
    MESSAGES,
    PageRoute,
    fail,
    parse_local_datetime,
)
from app.web.deps import OptionalWebUser, WebUser, csrf_protect, safe_next, settings_of
from app.web.templating import render

router = APIRouter(
    route_class=PageRoute, include_in_schema=False, dependencies=[Depends(csrf_protect)]
)

PAGE_SIZE = 50
DAY = timedelta(days=1)


def _redirect(request: Request, path: str) -> RedirectResponse:
    """303 to ``path`` (a path of this service) under the prefix the service is published at."""
    return RedirectResponse(root_path_of(request.scope) + path, status_code=303)


def _message(msg: str | None) -> str | None:
    return MESSAGES.get(msg or "")


# --- sign in / sign out --------------------------------------------------------------------


@router.get("/")
def home(request: Request, user: OptionalWebUser) -> Response:
    return _redirect(request, "/devices" if user else "/login")


@router.get("/login")
def login_form(
    request: Request,
    user: OptionalWebUser,
    next_: Annotated[str | None, Query(alias="next")] = None,
    msg: str | None = None,
) -> Response:
    if user is not None:
        return _redirect(request, safe_next(next_))
    return render(
        request,
        "login.html",
        {"next": safe_next(next_), "message": _message(msg), "email": ""},
    )


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _start_session(response: Response, request: Request, refresh_token: str) -> None:
    """The refresh token's row is the session: its jti goes into the cookie, the token
    itself is never handed out."""
    settings = settings_of(request)
    claims = decode_token(refresh_token, key=settings.signing_key, expected_type="refresh")
    value = web_session.encode_session(
        user_id=claims.subject, jti=claims.jti, expires_at=claims.expires_at, settings=settings
    )
    web_session.set_session_cookie(
        response, request, value=value, max_age=settings.refresh_token_ttl_seconds
    )


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next_: Annotated[str, Form(alias="next")] = "",
) -> Response:
    settings = settings_of(request)
    target = safe_next(next_)
    limiter: LoginLimiter = request.app.state.login_limiter
    try:
        retry_after = limiter.hit(_client_ip(request))
        if retry_after is not None:
            raise RateLimited(
                f"Too many sign-in attempts; try again in {int(retry_after) + 1} s.",
                headers={"Retry-After": limiter.retry_after_header(retry_after)},
            )
        pair = auth_service.login(
            session=session, email=email.strip(), password=password, settings=settings
        )
    except AppError as exc:
        session.rollback()
        status = exc.status_code
        text = exc.message if status == 429 else "Wrong e-mail or password."
        return render(
            request,
            "login.html",
            {"next": target, "error": text, "email": email.strip()[:320]},
            status_code=status,
            headers=exc.headers,
        )
    response = _redirect(request, target)
    _start_session(response, request, pair.refresh_token)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, user: OptionalWebUser) -> Response:
    jti = getattr(request.state, "session_jti", None)
    if user is not None and jti:
        # The same revocation as POST /api/v1/auth/logout, by the row's id.
        auth_repository.revoke(session, jti=jti, user_id=user.id, now=utcnow())
    response = _redirect(request, "/login?msg=signed-out")
    web_session.clear_session_cookie(response, request)
    return response


# --- devices -------------------------------------------------------------------------------


def _status_filter(value: str | None) -> DeviceStatus | None:
    try:
        return DeviceStatus(value) if value else None
    except ValueError:
        return None


@router.get("/devices")
def device_list(
    request: Request,
    session: SessionDep,
    user: WebUser,
    q: Annotated[str, Query(max_length=200)] = "",
    type_: Annotated[str, Query(alias="type", max_length=12)] = "",
    location: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
    page_: Annotated[str, Query(alias="page", max_length=7)] = "1",
) -> Response:
    # Filters come from a form: an empty or odd value means "no filter", never an error.
    status_value = _status_filter(status)
    type_id = int(type_) if type_.isdigit() and 1 <= int(type_) <= MAX_DB_INT else None
    page = int(page_) if page_.isdigit() and int(page_) >= 1 else 1
    rows, total = devices_service.list_devices(
        session=session,
        page=PageParams(limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE),
        status=status_value,
        type_id=type_id,
        location=location.strip() or None,
        q=q.strip() or None,
    )
    types, _ = devices_service.list_types(session=session, page=PageParams(limit=MAX_LIMIT))
    filters = {
        "q": q.strip(),
        "type": type_id or "",
        "location": location.strip(),
        "status": status_value.value if status_value else "",
    }
    pages = max(1, -(-total // PAGE_SIZE))

    def page_url(n: int) -> str:
        params = {k: v for k, v in filters.items() if v}
        params["page"] = n
        return "/devices?" + urlencode(params)

    ctx = {
        "devices": rows,
        "total": total,
        "types": types,
        "statuses": [s.value for s in DeviceStatus],
        "filters": filters,
        "page": page,
        "pages": pages,
        "prev_url": page_url(page - 1) if page > 1 else None,
        "next_url": page_url(page + 1) if page < pages else None,
    }
    # htmx live search swaps only the results.
    if request.headers.get("hx-target") == "device-results":
        return render(request, "_device_results.html", ctx)
    return render(request, "devices.html", ctx)


def _week_start(value: str | None) -> date:
    today = utcnow().date()
    try:
        day = date.fromisoformat(value) if value else today
    except ValueError:
        day = today
    return day - timedelta(days=day.weekday())


def _week_context(session: Session, device: Device, monday: date, user: User) -> dict[str, Any]:
    start = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
    end = start + 7 * DAY
    view = bookings_service.availability(session=session, device=device, start=start, end=end)
    days = []
    for n in range(7):
        day_start = start + n * DAY
        day_end = day_start + DAY
        entries = [
            {
                "id": b.booking_id,
                "start": max(b.start, day_start),
                "end": min(b.end, day_end),
                "starts_before": b.start < day_start,
                "ends_after": b.end > day_end,
                "holder": b.holder,
                "mine": b.user_id == user.id,
            }
            for b in view.busy
            if b.start < day_end and b.end > day_start
        ]
        days.append({"date": day_start.date(), "entries": entries})
    return {
        "device": device,
        "days": days,
        "week_start": monday,
        "prev_week": (monday - timedelta(days=7)).isoformat(),
        "next_week": (monday + timedelta(days=7)).isoformat(),
        "this_week": _week_start(None).isoformat(),
        "free": view.free,
    }


def _default_slot() -> tuple[str, str]:
    start = (utcnow() + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    fmt = "%Y-%m-%dT%H:%M"
    return start.strftime(fmt), (start + timedelta(hours=1)).strftime(fmt)


def _device_page(
    request: Request,
    session: Session,
    user: User,
    device: Device,
    week: str | None,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    conflict: dict[str, Any] | None = None,
    status_code: int = 200,
    message: str | None = None,
) -> Response:
    ctx = _week_context(session, device, _week_start(week), user)
    start, end = _default_slot()
    ctx.update(
        {
            "form": form or {"start": start, "end": end, "purpose": ""},
            "error": error,
            "conflict": conflict,
            "message": message,
        }
    )
    if request.headers.get("hx-target") == "booking-panel":
        return render(request, "_booking_panel.html", ctx, status_code=status_code)
    return render(request, "device.html", ctx, status_code=status_code)


@router.get("/devices/{device_id}")
def device_page(
    request: Request,
    session: SessionDep,
    user: WebUser,
    device_id: int,
    week: str | None = None,
    msg: str | None = None,
) -> Response:
    device = devices_service.get(session=session, device_id=device_id)
    return _device_page(request, session, user, device, week, message=_message(msg))


def conflict_facts(session: Session, exc: AppError) -> dict[str, Any] | None:
    """Who holds the slot a booking conflicted with (shown next to the form)."""
    details = exc.details if isinstance(exc.details, dict) else {}
    if exc.code != "booking_conflict" or not details.get("holder"):
        return None
    return {
        "holder": str(details["holder"]),
        "start": details.get("start"),
        "end": details.get("end"),
        "booking_id": details.get("booking_id"),
    }


@router.post("/devices/{device_id}/bookings")
def book(
    request: Request,
    session: SessionDep,
    user: WebUser,
    device_id: int,
    start: Annotated[str, Form()] = "",
    end: Annotated[str, Form()] = "",
    purpose: Annotated[str, Form()] = "",
    week: Annotated[str, Form()] = "",
) -> Response:
    device = devices_service.get(session=session, device_id=device_id)
    form = {"start": start, "end": end, "purpose": purpose}
    try:
        data = BookingCreate(
            device_id=device.id,
            start=parse_local_datetime(start),
            end=parse_local_datetime(end),
            purpose=purpose,
        )
        booking = bookings_service.create_booking(
            session=session, actor=user, data=data, settings=settings_of(request)
        )
    except AppError as exc:
        text = fail(session, exc)
        conflict = conflict_facts(session, exc)
        return _device_page(
            request,
            session,
            user,
            device,
            week,
            form=form,
            error=text,
            conflict=conflict,
            status_code=exc.status_code,
        )
    except (ValidationError, ValueError) as exc:
        text = fail(session, exc)
        return _device_page(
            request, session, user, device, week, form=form, error=text, status_code=422
        )
    monday = _week_start(booking.start_at.date().isoformat())
    return _redirect(request, f"/devices/{device.id}?week={monday.isoformat()}&msg=booked")


# --- my bookings ---------------------------------------------------------------------------


def _my_bookings(
    request: Request,
    session: Session,
    user: User,
    *,
    error: str | None = None,
    conflict: dict[str, Any] | None = None,
    error_booking: int | None = None,
    status_code: int = 200,
    message: str | None = None,
) -> Response:
    now = utcnow()
    rows, _ = bookings_service.list_bookings(
        session=session,
        actor=user,
        page=PageParams(limit=MAX_LIMIT),
        user_id=user.id,
        status=BookingStatus.ACTIVE,
        start=now - timedelta(days=7),
    )
    devices: dict[int, Device] = {}
    for b in rows:
        if b.device_id not in devices:
            devices[b.device_id] = devices_service.get(session=session, device_id=b.device_id)
    fmt = "%Y-%m-%dT%H:%M"
    items = [
        {
            "booking": b,
            "device": devices[b.device_id],
            "past": b.end_at <= now,
            "extend_to": (b.end_at + timedelta(hours=1)).strftime(fmt),
        }
        for b in rows
    ]
    return render(
        request,
        "bookings.html",
        {
            "items": items,
            "error": error,
            "conflict": conflict,
            "error_booking": error_booking,
            "message": message,
        },
        status_code=status_code,
    )


@router.get("/bookings")
def my_bookings(
    request: Request, session: SessionDep, user: WebUser, msg: str | None = None
) -> Response:
    return _my_bookings(request, session, user, message=_message(msg))


@router.post("/bookings/{booking_id}/extend")
def extend(
    request: Request,
    session: SessionDep,
    user: WebUser,
    booking_id: int,
    end: Annotated[str, Form()] = "",
) -> Response:
    booking = bookings_service.get_visible(session=session, booking_id=booking_id, actor=user)
    try:
        new_end = parse_local_datetime(end)
        if new_end <= booking.end_at:
            raise Conflict("The new end must be later than the current end to extend.")
        bookings_service.update_booking(
            session=session,
            booking=booking,
            data=BookingUpdate(end=new_end),
            settings=settings_of(request),
        )
    except (AppError, ValidationError, ValueError) as exc:
        text = fail(session, exc)
        conflict = conflict_facts(session, exc) if isinstance(exc, AppError) else None
        code = exc.status_code if isinstance(exc, AppError) else 422
        return _my_bookings(
            request,
            session,
            user,
            error=text,
            conflict=conflict,
            error_booking=booking_id,
            status_code=code,
        )
    return _redirect(request, "/bookings?msg=extended")


@router.post("/bookings/{booking_id}/cancel")
def cancel(
    request: Request,
    session: SessionDep,
    user: WebUser,
    booking_id: int,
    next_: Annotated[str, Form(alias="next")] = "",
) -> Response:
    booking = bookings_service.get_visible(session=session, booking_id=booking_id, actor=user)
    bookings_service.cancel_booking(session=session, booking=booking)
    target = safe_next(next_, "/bookings")
    separator = "&" if "?" in target else "?"
    return _redirect(request, f"{target}{separator}msg=cancelled")


# --- account -------------------------------------------------------------------------------


@router.get("/account")
def account(
    request: Request, session: SessionDep, user: WebUser, msg: str | None = None
) -> Response:
    return render(request, "account.html", {"message": _message(msg)})


@router.post("/account/password")
def change_password(
    request: Request,
    session: SessionDep,
    user: WebUser,
    current_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
    confirm_password: Annotated[str, Form()] = "",
) -> Response:
    settings = settings_of(request)
    try:
        if new_password != confirm_password:
            raise ValueError("The new password and its confirmation differ.")
        data = PasswordChange.model_validate(
            {"current_password": current_password, "new_password": new_password}
        )
        pair = users_service.change_own_password(
            session=session,
            user=user,
            current_password=data.current_password,
            new_password=data.new_password,
            settings=settings,
        )
    except (AppError, ValidationError, ValueError) as exc:
        text = fail(session, exc)
        code = exc.status_code if isinstance(exc, AppError) else 422
        return render(request, "account.html", {"error": text}, status_code=code)
    # Every session ended, this one included: continue on the fresh pair's session.
    response = _redirect(request, "/account?msg=password-changed")
    _start_session(response, request, pair.refresh_token)
    return response
