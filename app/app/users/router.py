from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app.auth.dependencies import AdminUser, CurrentUser, SettingsDep
from app.auth.schemas import TokenPair
from app.core.config import API_V1_STR
from app.core.db import SessionDep
from app.core.errors import ERROR_RESPONSES
from app.core.pagination import Page, PageDep
from app.core.schemas import NO_NUL, IdPath
from app.users import service
from app.users.models import User
from app.users.schemas import (
    PasswordChange,
    Role,
    SelfUpdate,
    UserCreate,
    UserRead,
    UserUpdate,
)

router = APIRouter(prefix=f"{API_V1_STR}/users", tags=["users"], responses=ERROR_RESPONSES)


@router.get("", response_model=Page[UserRead])
def list_users(
    _: AdminUser,
    session: SessionDep,
    page: PageDep,
    q: Annotated[
        str | None, Query(max_length=200, pattern=NO_NUL, description="Search e-mail/name")
    ] = None,
    role: Role | None = None,
) -> Page[UserRead]:
    result = service.list_users(session=session, page=page, q=q, role=role)
    return Page[UserRead].of(result, page, UserRead.model_validate)


@router.post("", response_model=UserRead, status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, _: AdminUser, session: SessionDep) -> User:
    return service.create(session=session, data=body)


@router.get("/me", response_model=UserRead)
def get_me(user: CurrentUser) -> User:
    """Your own account."""
    return user


@router.patch("/me", response_model=UserRead)
def update_me(body: SelfUpdate, user: CurrentUser, session: SessionDep) -> User:
    """Change your own name or e-mail address."""
    return service.update_self(session=session, user=user, data=body)


@router.post("/me/password", response_model=TokenPair)
def change_my_password(
    body: PasswordChange, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> TokenPair:
    """Change your own password (the current one is required; 403 ``wrong_password``).
    Every other session ends; this caller continues with the token pair returned."""
    return service.change_own_password(
        session=session,
        user=user,
        current_password=body.current_password,
        new_password=body.new_password,
        settings=settings,
    )


@router.get("/{user_id:int}", response_model=UserRead)
def get_user(user_id: IdPath, _: AdminUser, session: SessionDep) -> User:
    return service.get(session=session, user_id=user_id)


@router.patch("/{user_id:int}", response_model=UserRead)
def update_user(user_id: IdPath, body: UserUpdate, actor: AdminUser, session: SessionDep) -> User:
    user = service.get(session=session, user_id=user_id)
    return service.update(session=session, user=user, data=body, actor=actor)


@router.delete("/{user_id:int}", status_code=status.HTTP_204_NO_CONTENT)
def delete_user(user_id: IdPath, actor: AdminUser, session: SessionDep) -> Response:
    user = service.get(session=session, user_id=user_id)
    service.delete(session=session, user=user, actor=actor)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
