"""The real bridge as a subprocess (``python -m bridge run``) pointed at fakes in this process, and measured.

CPU seconds and memory are read from ``/proc/<pid>``, so they are the bridge's alone, not the fakes'.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from bridge.config import Settings
from bridge.sandbox import FakeBybit, FakeTelegram

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
STOP_TIMEOUT = 30.0
SERVING_TIMEOUT = 60.0
RAISED_PACING = {
    "TELEGRAM_GROUP_MESSAGES_PER_MINUTE": "6000",
    "TELEGRAM_CHAT_MESSAGES_PER_SECOND": "100",
    "TELEGRAM_GLOBAL_MESSAGES_PER_SECOND": "300",
}
"""The bridge's Telegram pacing raised 300×, for a fake Telegram that does not enforce flood limits."""
_NEW_SETTINGS = frozenset({"POLL_INTERVAL_MAX"})  # read by the scheduler of issue 9, ignored by older code


def bridge_env(
    bybit: FakeBybit, telegram: FakeTelegram, chat_id: int, db_path: Path, **settings: str
) -> dict[str, str]:
    """This process's environment without any bridge setting, then the fakes' addresses and ``settings``."""
    names = {name.upper() for name in Settings.model_fields} | _NEW_SETTINGS
    env = {key: value for key, value in os.environ.items() if key not in names}
    env.update(
        TELEGRAM_BOT_TOKEN=telegram.token,
        TELEGRAM_CHAT_ID=str(chat_id),
        TELEGRAM_API_URL=telegram.url,
        BYBIT_API_KEY=bybit.api_key,
        BYBIT_API_SECRET=bybit.api_secret,
        BYBIT_BASE_URL=bybit.url,
        BYBIT_MEDIA_URL=bybit.media_base,
        BRIDGE_DB_PATH=str(db_path),
        PYTHONUNBUFFERED="1",
    )
    env.update(settings)
    return env


@dataclass(frozen=True)
class Usage:
    """A process's CPU seconds (user + system) and memory (kB) at one moment."""

    cpu_seconds: float
    rss_kb: int
    peak_rss_kb: int


def usage(pid: int) -> Usage:
    """Read ``/proc/<pid>/stat`` (utime + stime) and ``/proc/<pid>/status`` (VmRSS, VmHWM)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": field 3 (state) is fields[0]
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime: fields 14 and 15
    memory = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            memory[name] = int(value.split()[0])
    return Usage(cpu, memory["VmRSS"], memory["VmHWM"])


class BridgeProcess:
    """``python -m bridge run`` in ``workdir`` (its log goes to ``<name>.log`` there); ``async with`` starts it,
    waits until it serves Telegram, and stops it with SIGTERM."""

    def __init__(self, telegram: FakeTelegram, workdir: Path, env: dict[str, str], name: str) -> None:
        self._telegram = telegram
        self._workdir = workdir
        self._env = env
        self.log_path = workdir / f"{name}.log"
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        """The bridge's process id."""
        if self._proc is None:
            raise RuntimeError("the bridge is not started")
        return self._proc.pid

    def usage(self) -> Usage:
        """The bridge's CPU time and memory now."""
        return usage(self.pid)

    async def __aenter__(self) -> Self:
        polls_before = self._polls()
        with self.log_path.open("ab") as log:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bridge", "run", cwd=self._workdir, env=self._env, stdout=log, stderr=log
            )
        try:
            await self._telegram.wait_for(
                lambda: self._polls() > polls_before or self._proc is None or self._proc.returncode is not None,
                timeout=SERVING_TIMEOUT,
            )
        except BaseException:
            await self.stop()
            raise
        if self._proc.returncode is not None:
            raise RuntimeError(f"the bridge stopped at start-up; see {self.log_path}")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit within 30 s."""
        if self._proc is None or self._proc.returncode is not None:
            return
        self._proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self._proc.wait(), STOP_TIMEOUT)
        except TimeoutError:
            self._proc.kill()
            await self._proc.wait()

    def _polls(self) -> int:
        return sum(1 for call in self._telegram.requests if call.method.lower() == "getupdates")
