"""Settings from the environment (the names the Ansible role writes into ``.env``)."""

from __future__ import annotations

import os
import re
import secrets
import sys
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

API_V1_STR = "/api/v1"
MIN_SECRET_KEY_LENGTH = 32
_PLACEHOLDER_SECRETS = frozenset(
    {"changeme", "changethis", "change-me", "change_me", "secret", "placeholder", "default", "todo"}
)
_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour|day)\s*$")
_RATE_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
# A path prefix: segments of unreserved URL characters, e.g. /api or /lab/scheduler.
_ROOT_PATH_RE = re.compile(r"^(/[A-Za-z0-9._~-]+)*$")
DEFAULT_SECRETS_DIR = Path("/run/secrets")


class Environment(StrEnum):
    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"


class SettingsError(RuntimeError):
    """Raised when the environment does not describe a startable service."""


def _is_placeholder(value: str) -> bool:
    lowered = value.strip().lower()
    return (
        lowered in _PLACEHOLDER_SECRETS
        or "changeme" in lowered.replace("-", "").replace("_", "")
        or "changethis" in lowered.replace("-", "").replace("_", "")
        or len(set(lowered)) <= 2
    )


def parse_rate(value: str) -> tuple[int, int]:
    """Parse ``"10/minute"`` into ``(10, 60)``."""
    match = _RATE_RE.match(value)
    if not match:
        raise ValueError("expected '<count>/<second|minute|hour|day>', e.g. '10/minute'")
    count = int(match.group(1))
    if count < 1:
        raise ValueError("rate limit count must be >= 1")
    return count, _RATE_PERIODS[match.group(2)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    database_url: str = "sqlite:///./vmstack.db"
    secret_key: str | None = Field(default=None, repr=False)
    environment: Environment = Environment.DEVELOPMENT
    admin_email: str | None = None
    admin_password: str | None = Field(default=None, repr=False)
    cors_origins: str = ""
    log_level: str = "INFO"
    release_id: str = "dev"
    access_token_ttl_seconds: int = Field(default=900, ge=30, le=86_400)
    refresh_token_ttl_seconds: int = Field(default=1_209_600, ge=60, le=31_536_000)
    login_rate_limit: str = "10/minute"
    port: int = Field(default=8000, ge=1, le=65_535)
    web_concurrency: int = Field(default=1, ge=1, le=64)
    # Load shedding: a worker holding this many connections answers 503 at once
    # (uvicorn's limit_concurrency; 0 = unbounded) ...
    web_limit_concurrency: int = Field(default=100, ge=0, le=10_000)
    # ... and a request waits at most this long for a database connection before
    # it is answered 503 (retry), instead of queueing past its client's timeout.
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_pool_timeout: float = Field(default=5.0, gt=0, le=300)
    forwarded_allow_ips: str = "127.0.0.1"
    # Comma-separated keys that still verify tokens (signed before a SECRET_KEY rotation).
    previous_secret_keys: str = Field(default="", repr=False)
    # Requests with a larger body are answered 413 before the body is read.
    max_body_bytes: int = Field(default=1_048_576, ge=1_024, le=1_073_741_824)
    # Booking rules (see README "Booking rules").
    booking_past_grace_seconds: int = Field(default=300, ge=0, le=86_400)
    booking_min_seconds: int = Field(default=300, ge=1, le=86_400)
    booking_max_seconds: int = Field(default=14 * 86_400, ge=60, le=366 * 86_400)
    # A refresh token presented again within this many seconds of its rotation is a
    # concurrent twin (409, sessions kept); later it is reuse (every session revoked).
    refresh_reuse_grace_seconds: int = Field(default=10, ge=0, le=300)
    status_file: str | None = None
    # Redis for state shared by every worker (the login rate limit), e.g.
    # redis://app@redis:6379/0 (user, no password). The password is the secret file
    # ``redis_password``; unset: each worker limits logins in memory.
    redis_url: str | None = None
    redis_password: str | None = Field(default=None, repr=False)
    # The path prefix under which a reverse proxy publishes the service (e.g. /api, with
    # nginx passing /api/... on unchanged). Empty: the service is published at /.
    root_path: str = ""

    # Set when SECRET_KEY was generated for this process (development only).
    secret_key_ephemeral: bool = Field(default=False, exclude=True)

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        upper = value.strip().upper()
        if upper not in {"CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"}:
            raise ValueError("LOG_LEVEL must be one of CRITICAL, ERROR, WARNING, INFO, DEBUG")
        return upper

    @field_validator("login_rate_limit")
    @classmethod
    def _rate(cls, value: str) -> str:
        parse_rate(value)
        return value.strip()

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        value = value.strip()
        if value.startswith("postgres://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgres://")
        elif value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        if not (value.startswith("sqlite") or value.startswith("postgresql+psycopg://")):
            raise ValueError("DATABASE_URL must be sqlite:///... or postgresql+psycopg://...")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in {"redis", "rediss"} or not parts.hostname:
            raise ValueError("REDIS_URL must be redis://[user@]host[:port][/db]")
        if parts.password:
            raise ValueError(
                "REDIS_URL must not contain a password: put it in the secret file redis_password"
            )
        return value

    @field_validator("root_path")
    @classmethod
    def _root_path(cls, value: str) -> str:
        """``/api``, ``/api/`` and ``api`` all mean ``/api``; ``/`` and empty mean no prefix."""
        value = value.strip().strip("/")
        value = f"/{value}" if value else ""
        if not _ROOT_PATH_RE.fullmatch(value) or any(
            part in {".", ".."} for part in value.split("/")
        ):
            raise ValueError(
                "ROOT_PATH must be a path such as /api (letters, digits, '.', '_', '~', '-' "
                "between slashes; no '.' or '..' segment)"
            )
        return value

    @model_validator(mode="after")
    def _secret_key(self) -> Self:
        key = (self.secret_key or "").strip()
        if self.environment is Environment.DEVELOPMENT:
            if not key:
                self.secret_key = secrets.token_urlsafe(48)
                self.secret_key_ephemeral = True
            return self
        if not key:
            raise ValueError(f"SECRET_KEY is required when ENVIRONMENT={self.environment.value}")
        if _is_placeholder(key):
            raise ValueError("SECRET_KEY is a placeholder value; generate a random one")
        if len(key) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(f"SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters long")
        return self

    @model_validator(mode="after")
    def _booking_lengths(self) -> Self:
        if self.booking_min_seconds > self.booking_max_seconds:
            raise ValueError("BOOKING_MIN_SECONDS must not exceed BOOKING_MAX_SECONDS")
        return self

    @property
    def verification_keys(self) -> list[str]:
        """The signing key first, then every previous key (rotation)."""
        previous = [k.strip() for k in self.previous_secret_keys.split(",") if k.strip()]
        return [self.signing_key, *(k for k in previous if k != self.signing_key)]

    @property
    def signing_key(self) -> str:
        assert self.secret_key is not None  # noqa: S101 - set by the validator
        return self.secret_key

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def login_rate(self) -> tuple[int, int]:
        return parse_rate(self.login_rate_limit)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_development(self) -> bool:
        return self.environment is Environment.DEVELOPMENT


def secrets_dir() -> Path | None:
    """``SECRETS_DIR``, else ``/run/secrets`` when that directory exists."""
    configured = os.environ.get("SECRETS_DIR", "").strip()
    if configured:
        path = Path(configured)
        if not path.is_dir():
            raise SettingsError(f"SECRETS_DIR={configured} is not a directory")
        return path
    return DEFAULT_SECRETS_DIR if DEFAULT_SECRETS_DIR.is_dir() else None


def load_settings() -> Settings:
    """Build settings from the environment, ``.env`` and the secrets directory (one file per
    setting, lower-case name; the environment wins), turning validation errors into one
    readable :class:`SettingsError`."""
    try:
        return Settings(_secrets_dir=secrets_dir())
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper() or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise SettingsError(f"invalid configuration: {problems}") from None


def settings_or_exit() -> Settings:
    """Settings for a command or the server, or exit 2 with one readable line."""
    try:
        return load_settings()
    except SettingsError as exc:
        print(f"vmstack-app: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
