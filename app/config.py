"""Settings: one object, read from `SLATE_*` environment variables (and `.env`)."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import secrets
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEV_SECRET = "change-me"


def events_prefix_for(database_url: str) -> str:
    """`slate:<12 hex>:project:` from the database's backend, host, port and name (not the driver or password).

    Every process of one installation (web, workers) reads the same database, so they agree on it.
    """
    parts = urlsplit(database_url)
    where = f"{parts.scheme.split('+')[0]}://{parts.hostname or ''}:{parts.port or ''}{parts.path}"
    return f"slate:{hashlib.sha256(where.encode()).hexdigest()[:12]}:project:"


class Settings(BaseSettings):
    """Everything Slate can be told. The defaults run the embedded mode with nothing to set."""

    model_config = SettingsConfigDict(env_prefix="SLATE_", env_file=".env", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    data_dir: Path = Path("data")
    database_url: str = ""  # empty: SQLite file under data_dir
    broker_url: str = "memory://"  # memory://: in-process broker and worker (embedded mode)
    redis_url: str = ""  # pub/sub for live updates; empty: in-process
    media_dir: Path | None = None  # empty: data_dir / "media"
    secret_key: str = ""
    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000

    signup_mode: Literal["open", "invite"] = "open"
    session_days: int = 14
    invitation_days: int = 7
    login_max_failures: int = 5
    login_window_s: int = 900
    min_password_length: int = 10
    # Sign-up attempts (kept or refused, page and API) per client address per hour.
    signup_max_per_hour: int = Field(default=10, ge=1)
    # Proxies whose X-Forwarded-For is believed (IPs or CIDRs, comma-separated or a JSON list); empty:
    # the header is ignored and the client is the TCP peer (app/deps.py client_key).
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Instance quotas: defaults until the admin sets them on /admin (app/generation/quotas.py).
    quota_project_gpu_s_month: int = Field(default=36_000, ge=0)  # per project, calendar month (UTC)
    quota_user_gpu_s_day: int = Field(default=7_200, ge=0)  # per person, day (UTC), across projects
    quota_rush: Literal["admins", "owners", "everyone"] = "admins"  # who may queue at rush priority
    quota_count_cpu: bool = False  # whether CPU engines' seconds (the animatic) count too

    upload_max_bytes: int = 25 * 1024 * 1024
    image_max_pixels: int = 40_000_000
    lora_max_bytes: int = 1024 * 1024 * 1024
    # Request bodies (app/bodies.py): JSON and form bodies; uploads have the caps above.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # The only folder a character's LoRA *path* may point into (on the web and on every worker); unset:
    # LoRA files come from uploads only.
    lora_dir: Path | None = None

    embedded_worker: bool | None = None  # None: on when the broker is memory://
    worker_polling_interval: float = 0.05
    visibility_timeout_s: int = 4 * 3600
    demo: bool = True

    # Live events: this installation's Redis channel prefix (empty: derived from the database URL, so
    # installations sharing one Redis server never see each other's events; Redis pub/sub ignores the
    # database number), and how often an open event stream re-checks that its reader is still a member.
    events_prefix: str = ""
    events_recheck_s: float = Field(default=30.0, gt=0, le=30)

    extra_origins: list[str] = Field(default_factory=list)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: object) -> object:
        if isinstance(value, str):
            value = json.loads(value) if value.strip().startswith("[") else value.split(",")
        if isinstance(value, list):
            value = [str(v).strip() for v in value if str(v).strip()]
            for v in value:
                ipaddress.ip_network(v, strict=False)  # ValueError: not an address or a network
        return value

    @model_validator(mode="after")
    def _fill_defaults(self) -> "Settings":
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.data_dir / 'slate.db').as_posix()}"
        if not self.events_prefix:
            self.events_prefix = events_prefix_for(self.database_url)
        if self.media_dir is None:
            self.media_dir = self.data_dir / "media"
        if self.embedded_worker is None:
            self.embedded_worker = self.broker_url.startswith("memory://")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    def resolved_secret_key(self) -> str:
        """The signing secret; generated into the data folder on first embedded run.

        Production refuses to start without a real secret.
        """
        if self.secret_key and self.secret_key != DEV_SECRET:
            if self.env == "production" and len(self.secret_key) < 32:
                raise RuntimeError("SLATE_SECRET_KEY must be at least 32 characters in production")
            return self.secret_key
        if self.env == "production":
            raise RuntimeError(
                "SLATE_SECRET_KEY is missing or left at its default; set a long random value "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key


_current: Settings | None = None


def get_settings() -> Settings:
    """The process-wide settings: read from the environment once, or those the app was built with."""
    global _current
    if _current is None:
        _current = Settings()
    return _current


def use_settings(settings: Settings | None) -> None:
    """Make `settings` the process-wide settings (`create_app` does this); None re-reads the environment."""
    global _current
    _current = settings
