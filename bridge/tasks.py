"""Background tasks that log their crashes and, where asked, come back after one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

RESTART_DELAY = 1.0
RESTART_DELAY_CAP = 60.0


class Supervisor:
    """Owns a set of named tasks; ``keep_alive`` tasks restart with backoff when they crash or end."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._restarting: set[str] = set()
        self._holding = False

    def spawn(self, name: str, factory: Callable[[], Awaitable[None]], *, keep_alive: bool = True) -> None:
        """Start ``factory()`` as task ``name`` (replacing a finished task of that name)."""
        self._tasks[name] = asyncio.create_task(self._guard(name, factory, keep_alive), name=name)

    def hold(self) -> None:
        """Shutdown has begun: tasks that end from now on stay ended."""
        self._holding = True

    def running(self, name: str) -> bool:
        """Whether task ``name`` exists and has not finished."""
        task = self._tasks.get(name)
        return task is not None and not task.done()

    def alive(self, name: str) -> bool:
        """Whether task ``name`` is at work: running, and not waiting to restart after a crash or an end."""
        return self.running(name) and name not in self._restarting

    async def wait(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for every task to finish by itself."""
        pending = [task for task in self._tasks.values() if not task.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    async def stop(self) -> None:
        """Cancel every task and wait until they are gone."""
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _guard(self, name: str, factory: Callable[[], Awaitable[None]], keep_alive: bool) -> None:
        delay = RESTART_DELAY
        while True:
            try:
                await factory()
                if not keep_alive or self._holding:
                    return
                log.warning("task %s ended; restarting in %.0f s", name, delay)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("task %s crashed%s", name, f"; restarting in {delay:.0f} s" if keep_alive else "")
                if not keep_alive or self._holding:
                    return
            self._restarting.add(name)
            try:
                await asyncio.sleep(delay)
            finally:
                self._restarting.discard(name)
            if self._holding:  # shutdown began while it waited to restart
                return
            delay = min(delay * 2, RESTART_DELAY_CAP)


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait for ``event`` at most ``timeout`` seconds; True if it was set.

    ``asyncio.timeout`` rather than ``wait_for``: on Python 3.11 ``wait_for`` can swallow a
    cancellation that arrives just as the event is set, and then the task never stops.
    """
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await event.wait()
    return event.is_set()
