"""Bridge settings that point at a running pair of sandbox fakes (demo, tests, benchmarks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bridge.config import Settings
from bridge.sandbox.fake_bybit import FakeBybit
from bridge.sandbox.fake_telegram import FakeTelegram


def sandbox_settings(
    bybit: FakeBybit, telegram: FakeTelegram, chat_id: int, db_path: Path, **overrides: Any
) -> Settings:
    """Settings for the real bridge between ``bybit`` and ``telegram``; the environment and .env are ignored."""
    values: dict[str, Any] = {
        "telegram_bot_token": telegram.token,
        "telegram_chat_id": chat_id,
        "telegram_api_url": telegram.url,
        "bybit_api_key": bybit.api_key,
        "bybit_api_secret": bybit.api_secret,
        "bybit_base_url": bybit.url,
        "bybit_media_url": bybit.media_base,
        "bridge_db_path": db_path,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)
