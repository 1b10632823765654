"""The real bridge, in-process, between the sandbox fakes: what integration tests drive."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bridge.app import run_bridge
from bridge.sandbox.fake_bybit import FakeBybit
from bridge.sandbox.fake_telegram import FakeTelegram
from bridge.sandbox.settings import sandbox_settings

TEAM_CHAT = -1001000000001
OTHER_CHAT = -1001000000999


FAST = {
    "bybit_timeout": 2.0,
    "poll_interval": 0.2,
    "poll_interval_max": 1.0,
    "telegram_group_messages_per_minute": 6000,
    "telegram_chat_messages_per_second": 100,
    "telegram_global_messages_per_second": 300,
}
"""Fast polling and loose pacing, unless a test overrides them."""

POST_TIME = re.compile(r"\b\d{2} [A-Z][a-z]{2} \d{2}:\d{2} UTC\b")
"""The time in a post's header ("03 Dec 08:15 UTC"): a needle such as "c 08" would match it at 08:xx in December."""


def free_port() -> int:
    """A loopback port nobody listens on (for the bridge's metrics endpoint, or to find nobody there)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Harness:
    """Starts and stops the bridge; helpers to talk in the team chat and read what the bot posted."""

    def __init__(self, bybit: FakeBybit, telegram: FakeTelegram, db_path: Path) -> None:
        self.bybit = bybit
        self.telegram = telegram
        self.db_path = db_path
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def start(self, **overrides: Any) -> None:
        self._stop = asyncio.Event()
        settings = sandbox_settings(self.bybit, self.telegram, TEAM_CHAT, self.db_path, **(FAST | overrides))
        self._task = asyncio.create_task(run_bridge(settings, self._stop))
        await self.telegram.wait_for(
            lambda: any(r.method.lower() == "getupdates" for r in self.telegram.requests) or self._task_done()
        )
        if self._task.done():
            self._task.result()

    def _task_done(self) -> bool:
        return self._task is not None and self._task.done()

    async def stop(self) -> None:
        if self._task is None:
            return
        self._stop.set()
        await asyncio.wait_for(self._task, 15)
        self._task = None

    def say(self, text: str, chat_id: int = TEAM_CHAT, **kwargs: Any) -> int:
        """A team member types ``text`` in the chat."""
        return int(self.telegram.user_says(chat_id, text, **kwargs))

    def texts(self, chat_id: int = TEAM_CHAT) -> list[str]:
        """Plain text of every post (caption for media) in a chat, oldest first."""
        return [s.plain or s.plain_caption or "" for s in self.telegram.sent if s.chat_id == chat_id]

    async def wait_text(self, needle: str, chat_id: int = TEAM_CHAT, count: int = 1, timeout: float = 10) -> None:
        """Wait until ``needle`` appears in ``count`` posts (never matching the time in a post's header)."""
        await self.telegram.wait_for(
            lambda: sum(needle in POST_TIME.sub("", t) for t in self.texts(chat_id)) >= count, timeout=timeout
        )

    async def reply_to(self, command: str, chat_id: int = TEAM_CHAT, timeout: float = 10) -> str:
        """Send a command and return the bot's reply to it."""
        message_id = self.say(command, chat_id)
        replies: Callable[[], list[Any]] = lambda: [  # noqa: E731
            s for s in self.telegram.sent if s.chat_id == chat_id and s.reply_to == message_id
        ]
        await self.telegram.wait_for(lambda: bool(replies()), timeout=timeout)
        return str(replies()[0].plain)


@pytest.fixture
async def harness(fake_bybit: FakeBybit, fake_telegram: FakeTelegram, tmp_path: Path) -> AsyncIterator[Harness]:
    fake_telegram.add_chat(TEAM_CHAT, type="supergroup", title="Merchant team")
    fake_telegram.add_chat(OTHER_CHAT, type="supergroup", title="Strangers")
    h = Harness(fake_bybit, fake_telegram, tmp_path / "bridge.db")
    yield h
    with contextlib.suppress(Exception):
        await h.stop()
