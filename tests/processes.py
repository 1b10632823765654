"""The bridge as a real process (``python -m bridge run``) against the fakes: environment, start, kill, look inside.

Shared by the process tests, the soak run and the chaos run; the fixtures are registered in ``conftest.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bridge.sandbox.fake_bybit import FakeBybit, FakeOrder
from bridge.sandbox.fake_telegram import FakeTelegram
from tests.harness import TEAM_CHAT

_SETTING_PREFIXES = (
    "TELEGRAM_",
    "BYBIT_",
    "BRIDGE_",
    "POLL_",
    "BACKFILL_",
    "RETENTION_",
    "METRICS_",
    "LOG_LEVEL",
    "AUTO_WATCH",
    "UNWATCH_GRACE",
    "REPLIES_ENABLED",
    "REPLIES_FROM_ANONYMOUS",
)


def base_env() -> dict[str, str]:
    """The test's environment without any bridge setting, so nothing leaks in from outside."""
    return {key: value for key, value in os.environ.items() if not key.startswith(_SETTING_PREFIXES)}


def bridge_env(bybit: FakeBybit, telegram: FakeTelegram, db_path: Path, **overrides: str) -> dict[str, str]:
    env = base_env()
    env.update(
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_CHAT_ID=str(TEAM_CHAT),
        TELEGRAM_API_URL=telegram.url,
        TELEGRAM_GROUP_MESSAGES_PER_MINUTE="6000",
        TELEGRAM_CHAT_MESSAGES_PER_SECOND="100",
        TELEGRAM_GLOBAL_MESSAGES_PER_SECOND="300",
        BYBIT_API_KEY=bybit.api_key,
        BYBIT_API_SECRET=bybit.api_secret,
        BYBIT_BASE_URL=bybit.url,
        BYBIT_MEDIA_URL=bybit.url,
        BYBIT_TIMEOUT="2",
        BRIDGE_DB_PATH=str(db_path),
        POLL_INTERVAL="0.2",
        POLL_INTERVAL_MAX="1",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


class BridgeProcess:
    """One ``python -m bridge run`` subprocess; its stdout and stderr go to files in ``workdir``."""

    def __init__(self, workdir: Path, env: dict[str, str], name: str, *args: str) -> None:
        self.workdir = workdir
        self.args = args or ("run",)
        self.env = env
        self.stdout_path = workdir / f"{name}.stdout"
        self.stderr_path = workdir / f"{name}.stderr"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bridge", *self.args, cwd=self.workdir, env=self.env, stdout=out, stderr=err
            )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout)

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def kill(self) -> None:
        if self.running:
            assert self.proc is not None
            self.proc.kill()
            await self.proc.wait()

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    @property
    def output(self) -> str:
        return self.stdout_path.read_text(errors="replace") + self.stderr


@pytest.fixture
async def processes() -> AsyncIterator[list[BridgeProcess]]:
    """Every process a test starts is appended here and killed at the end if still running."""
    started: list[BridgeProcess] = []
    yield started
    for process in started:
        with contextlib.suppress(ProcessLookupError):
            await process.kill()


class Bridge:
    """A test's view of the bridge process(es): start, wait until serving, talk in the team chat."""

    def __init__(self, bybit: FakeBybit, telegram: FakeTelegram, workdir: Path, started: list[BridgeProcess]) -> None:
        self.bybit = bybit
        self.telegram = telegram
        self.workdir = workdir
        self.db_path = workdir / "data" / "bridge.db"
        self._started = started
        telegram.add_chat(TEAM_CHAT, type="supergroup", title="Merchant team")

    def _polls(self) -> int:
        return sum(1 for r in self.telegram.requests if r.method.lower() == "getupdates")

    async def launch(self, **overrides: str) -> BridgeProcess:
        """Start a process (not waiting for it to serve)."""
        env = bridge_env(self.bybit, self.telegram, self.db_path, **overrides)
        process = BridgeProcess(self.workdir, env, f"bridge-{len(self._started) + 1}")
        self._started.append(process)
        await process.start()
        return process

    async def start(self, **overrides: str) -> BridgeProcess:
        """Start a process and wait until it long-polls Telegram."""
        polls = self._polls()
        process = await self.launch(**overrides)
        # (importing aiogram under coverage takes seconds of CPU; with the suite's other workers busy, more)
        await self.telegram.wait_for(lambda: self._polls() > polls or not process.running, timeout=90)
        assert process.running, process.output
        return process

    async def reply_to(self, command: str) -> str:
        message_id = self.telegram.user_says(TEAM_CHAT, command)
        replies: Callable[[], list[str]] = lambda: [  # noqa: E731
            s.plain or "" for s in self.telegram.sent if s.chat_id == TEAM_CHAT and s.reply_to == message_id
        ]
        await self.telegram.wait_for(lambda: bool(replies()), timeout=10)
        return replies()[0]

    def texts(self) -> list[str]:
        return [s.plain or s.plain_caption or "" for s in self.telegram.sent if s.chat_id == TEAM_CHAT]

    def lines(self, prefix: str) -> list[str]:
        return [line for text in self.texts() for line in text.splitlines() if line.startswith(prefix)]

    async def wait_line(self, line: str, timeout: float = 15) -> None:
        await self.telegram.wait_for(lambda: line in self.lines(line), timeout=timeout)

    def db(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(self.db_path)) as db:
            return list(db.execute(query, params))

    def pending(self) -> int:
        return int(self.db("SELECT COUNT(*) FROM messages WHERE state = 'pending'")[0][0])

    def backfilled(self, order: FakeOrder) -> bool:
        """Whether the bridge has fetched the order's history (its store says so)."""
        return self.db("SELECT backfilled FROM orders WHERE order_id = ?", order.id) == [(1,)]

    async def watch(self, order: FakeOrder) -> None:
        assert "Watching" in await self.reply_to(f"/watch {order.id}")


@pytest.fixture
def bridge(
    fake_bybit: FakeBybit, fake_telegram: FakeTelegram, tmp_path: Path, processes: list[BridgeProcess]
) -> Bridge:
    return Bridge(fake_bybit, fake_telegram, tmp_path, processes)
