"""Settings from the environment and ``.env`` (pydantic-settings); every name is in ``.env.example``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import httpx
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bridge.bybit.media import MediaHosts, media_origin
from bridge.errors import ConfigError
from bridge.telegram.constants import FloodLimit

MAINNET_URL = "https://api.bybit.com"
TESTNET_URL = "https://api-testnet.bybit.com"
_TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]{8,}$")

ChatApi = Literal["auto", "order", "session"]


class Settings(BaseSettings):
    """All user-settable knobs; field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", env_ignore_empty=True, extra="ignore")

    telegram_bot_token: SecretStr | None = None
    telegram_chat_id: int | None = None
    telegram_allowed_chat_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    telegram_api_url: str = "https://api.telegram.org"
    telegram_group_messages_per_minute: float = Field(default=FloodLimit.GROUP_MESSAGES_PER_MINUTE, gt=0)
    telegram_chat_messages_per_second: float = Field(default=FloodLimit.CHAT_MESSAGES_PER_SECOND, gt=0)
    telegram_global_messages_per_second: float = Field(default=FloodLimit.GLOBAL_MESSAGES_PER_SECOND, gt=0)
    telegram_timeout: float = Field(default=30.0, gt=0)
    telegram_reply_user_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    replies_enabled: bool = True
    replies_from_anonymous: bool = False

    bybit_api_key: SecretStr | None = None
    bybit_api_secret: SecretStr | None = None
    bybit_base_url: str | None = None
    bybit_testnet: bool = False
    bybit_recv_window: int = Field(default=5000, ge=1000, le=60000)
    bybit_media_url: str = "https://api2.bybit.com"
    bybit_media_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    bybit_chat_api: ChatApi = "auto"
    bybit_requests_per_second: float = Field(default=10, gt=0, le=10)
    bybit_timeout: float = Field(default=10, gt=0)

    bridge_db_path: Path = Path("p2p-bridge.db")
    poll_interval: float = Field(default=3.0, gt=0)
    poll_interval_max: float = Field(default=60.0, gt=0)
    backfill_limit: int = Field(default=20, ge=0, le=500)
    retention_days: float = Field(default=30.0, ge=0)  # 0: keep everything
    auto_watch: bool = False
    unwatch_grace: float = Field(default=600.0, ge=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"

    @field_validator("telegram_allowed_chat_ids", "telegram_reply_user_ids", "bybit_media_hosts", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("telegram_api_url", "bybit_base_url", "bybit_media_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not _is_http_url(value):
            raise ValueError("not an http(s) URL")
        return value

    @field_validator("bybit_media_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        for entry in value:
            media_origin(entry)  # a ValueError names the variable, not the entry
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @property
    def bybit_url(self) -> str:
        """The Bybit host: ``BYBIT_BASE_URL`` if set, else testnet or mainnet."""
        if self.bybit_base_url:
            return self.bybit_base_url.rstrip("/")
        return TESTNET_URL if self.bybit_testnet else MAINNET_URL

    @property
    def media_hosts(self) -> MediaHosts:
        """Where chat files may be downloaded from: ``BYBIT_MEDIA_URL``'s host and ``BYBIT_MEDIA_HOSTS``."""
        return MediaHosts(self.bybit_media_url, self.bybit_media_hosts)

    @property
    def served_chat_ids(self) -> frozenset[int]:
        """The team chat plus every allowed chat: the only chats the bot answers."""
        ids = set(self.telegram_allowed_chat_ids)
        if self.telegram_chat_id is not None:
            ids.add(self.telegram_chat_id)
        return frozenset(ids)

    @property
    def secrets(self) -> list[str]:
        """The values never to be written or shown: API key and secret, bot token (and its secret part)."""
        credentials = (self.telegram_bot_token, self.bybit_api_key, self.bybit_api_secret)
        values = [value.get_secret_value() for value in credentials if value is not None]
        if self.telegram_bot_token is not None:
            values.append(self.telegram_bot_token.get_secret_value().partition(":")[2])
        return values

    @property
    def has_credentials(self) -> bool:
        """Whether any credential is set (``run --or-demo`` plays the demo when none is)."""
        return any((self.telegram_bot_token, self.bybit_api_key, self.bybit_api_secret))

    def require_credentials(self) -> None:
        """Raise ConfigError naming every missing or malformed variable needed by ``run``."""
        missing = [
            name
            for name, value in (
                ("TELEGRAM_BOT_TOKEN", self.telegram_bot_token),
                ("TELEGRAM_CHAT_ID", self.telegram_chat_id),
                ("BYBIT_API_KEY", self.bybit_api_key),
                ("BYBIT_API_SECRET", self.bybit_api_secret),
            )
            if value is None or value == SecretStr("")
        ]
        if missing:
            raise ConfigError(f"missing required setting(s): {', '.join(missing)}")
        assert self.telegram_bot_token is not None
        if not _TOKEN_RE.match(self.telegram_bot_token.get_secret_value()):
            raise ConfigError("TELEGRAM_BOT_TOKEN is not a bot token (expected <digits>:<secret> from @BotFather)")


def _is_http_url(value: str) -> bool:
    """Whether ``value`` is an absolute http or https URL with a host."""
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL:
        return False
    return url.scheme in ("http", "https") and bool(url.host)


def load_settings(**overrides: object) -> Settings:
    """Read settings; a validation failure becomes a ConfigError that names variables, never values."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None
