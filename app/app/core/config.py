"""Settings from the environment (the names the Ansible role writes into ``.env``)."""

from __future__ import annotations

import re
import secrets
from enum import StrEnum
from functools import lru_cache
from typing import Self

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

API_V1_STR = "/api/v1"
MIN_SECRET_KEY_LENGTH = 32
_PLACEHOLDER_SECRETS = frozenset(
    {"changeme", "changethis", "change-me", "change_me", "secret", "placeholder", "default", "todo"}
)
_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(second|minute|hour|day)\s*$")
_RATE_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


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


def load_settings() -> Settings:
    """Build settings, turning validation errors into one readable :class:`SettingsError`."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper() or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise SettingsError(f"invalid configuration: {problems}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
