"""The aiohttp plumbing both fakes share: bind 127.0.0.1 on an ephemeral port, start, stop, wait."""

from __future__ import annotations

import abc
import asyncio
import contextlib
from collections.abc import Callable
from types import TracebackType
from typing import Self

from aiohttp import web

MAX_BODY_BYTES = 64 * 1024 * 1024  # above Telegram's 50 MB upload limit, so the fake can refuse politely
SHUTDOWN_GRACE_SECONDS = 1.0


class LoopbackServer(abc.ABC):
    """An aiohttp server on ``127.0.0.1:<ephemeral port>`` routing every request to :meth:`_handle`.

    Usable as ``async with``. Handlers that wait (long polls, injected hangs) use :meth:`_wait_until`,
    which :meth:`stop` cuts short, so stopping never waits for them.
    """

    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._stopping = False
        self._changed = asyncio.Event()

    @abc.abstractmethod
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        """Answer one request, whatever its method and path."""

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234`` (no trailing slash)."""
        if self._runner is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://127.0.0.1:{self._port}"

    async def start(self) -> None:
        """Bind 127.0.0.1 on a free port and begin serving."""
        if self._runner is not None:
            return
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_GRACE_SECONDS)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(runner.addresses[0][1])
        self._stopping = False
        self._runner = runner

    async def stop(self) -> None:
        """Wake every waiting handler, then close the listener and all connections."""
        if self._runner is None:
            return
        self._stopping = True
        self._notify()
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def _notify(self) -> None:
        """Make every :meth:`_wait_until` re-check its condition."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_until(self, ready: Callable[[], bool], timeout: float) -> None:
        """Return once ``ready()`` holds, the server stops or ``timeout`` seconds pass."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (ready() or self._stopping):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
