"""Supervisor (restarts, hold, wait, stop) and wait_event."""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable

import pytest

from bridge import tasks
from bridge.tasks import Supervisor, wait_event

DELAY = 0.02  # RESTART_DELAY for these tests
TOLERANCE = 0.01


@pytest.fixture(autouse=True)
def quick_restarts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks, "RESTART_DELAY", DELAY)


@pytest.fixture
async def supervisor() -> AsyncIterator[Supervisor]:
    owner = Supervisor()
    yield owner
    await owner.stop()


async def until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    """Wait for ``condition``; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


def crash_records(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bridge.tasks" and r.getMessage().startswith(f"task {name} crashed")]


class Job:
    """A task body: counts its runs, crashes on the ones listed, otherwise waits for ``release``."""

    def __init__(self, *, crash_on: frozenset[int] = frozenset(), crash_when_released: bool = False) -> None:
        self.runs = 0
        self.started: list[float] = []
        self.cancelled = 0
        self.release = asyncio.Event()
        self._crash_on = crash_on
        self._crash_when_released = crash_when_released

    async def __call__(self) -> None:
        self.runs += 1
        self.started.append(time.monotonic())
        if self.runs in self._crash_on:
            raise RuntimeError(f"boom {self.runs}")
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if self._crash_when_released:
            raise RuntimeError(f"boom {self.runs}")


async def test_a_crashed_keep_alive_task_is_restarted_and_each_crash_logged_once(
    supervisor: Supervisor, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bridge.tasks")
    job = Job(crash_on=frozenset({1, 2}))
    supervisor.spawn("flaky", job)
    await until(lambda: job.runs == 3)
    await asyncio.sleep(5 * DELAY)
    assert job.runs == 3 and supervisor.running("flaky")
    crashes = crash_records(caplog, "flaky")
    assert [str(r.exc_info[1]) for r in crashes if r.exc_info] == ["boom 1", "boom 2"]
    assert all(r.levelno == logging.ERROR for r in crashes)
    first, second = (b - a for a, b in itertools.pairwise(job.started))
    assert first >= DELAY - TOLERANCE and second >= 2 * DELAY - TOLERANCE  # the delay doubles


async def test_a_task_waiting_to_restart_is_running_but_not_alive(
    supervisor: Supervisor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks, "RESTART_DELAY", 0.3)
    job = Job(crash_on=frozenset({1}))
    supervisor.spawn("flaky", job)
    await until(lambda: job.runs == 1)
    await asyncio.sleep(0.05)
    assert supervisor.running("flaky") and not supervisor.alive("flaky")  # crashed, its restart pending
    await until(lambda: job.runs == 2)
    assert supervisor.alive("flaky")
    assert not supervisor.alive("never spawned")


async def test_a_keep_alive_task_that_returns_is_restarted(supervisor: Supervisor) -> None:
    job = Job()
    job.release.set()  # every run returns at once
    supervisor.spawn("returns", job)
    await until(lambda: job.runs >= 3)


@pytest.mark.parametrize("crashes", [False, True])
async def test_a_task_without_keep_alive_stays_ended(
    supervisor: Supervisor, caplog: pytest.LogCaptureFixture, crashes: bool
) -> None:
    job = Job(crash_on=frozenset({1}) if crashes else frozenset())
    job.release.set()
    supervisor.spawn("once", job, keep_alive=False)
    await until(lambda: not supervisor.running("once"))
    await asyncio.sleep(10 * DELAY)
    assert job.runs == 1
    assert len(crash_records(caplog, "once")) == int(crashes)
    assert all("restarting" not in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("crashes", [False, True])
async def test_hold_stops_restarts(supervisor: Supervisor, crashes: bool) -> None:
    job = Job(crash_when_released=crashes)
    supervisor.spawn("held", job)
    await until(lambda: job.runs == 1)
    supervisor.hold()
    job.release.set()  # the task ends (or crashes) after shutdown began
    await asyncio.wait_for(supervisor.wait(5.0), 5.0)
    await asyncio.sleep(10 * DELAY)
    assert job.runs == 1 and not supervisor.running("held")


async def test_hold_cancels_a_pending_restart(supervisor: Supervisor, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks, "RESTART_DELAY", 0.2)
    job = Job(crash_on=frozenset({1}))
    supervisor.spawn("crashed", job)
    await until(lambda: job.runs == 1)
    supervisor.hold()  # shutdown begins while the crashed task waits out its restart delay
    await asyncio.sleep(0.4)
    assert job.runs == 1


async def test_wait_returns_when_every_task_finished(supervisor: Supervisor) -> None:
    for name, seconds in (("short", 0.05), ("longer", 0.1)):
        supervisor.spawn(name, functools.partial(asyncio.sleep, seconds), keep_alive=False)
    started = time.monotonic()
    await supervisor.wait(5.0)
    assert 0.1 - TOLERANCE <= time.monotonic() - started < 1.0
    assert not supervisor.running("short") and not supervisor.running("longer")


async def test_wait_gives_up_after_its_timeout(supervisor: Supervisor) -> None:
    job = Job()
    supervisor.spawn("forever", job)
    started = time.monotonic()
    await supervisor.wait(0.1)
    assert 0.1 - TOLERANCE <= time.monotonic() - started < 1.0
    assert supervisor.running("forever")


async def test_stop_cancels_every_task(supervisor: Supervisor) -> None:
    waiting = [Job(), Job()]
    for number, job in enumerate(waiting):
        supervisor.spawn(f"waiting {number}", job)
    crashing = Job(crash_on=frozenset(range(1, 1000)))  # always between a crash and its restart
    supervisor.spawn("crashing", crashing)
    await until(lambda: all(job.runs == 1 for job in waiting) and crashing.runs >= 2)
    await asyncio.wait_for(supervisor.stop(), 2.0)
    assert [job.cancelled for job in waiting] == [1, 1]
    runs = crashing.runs
    await asyncio.sleep(0.3)  # several restart delays
    assert crashing.runs == runs
    assert not any(supervisor.running(name) for name in ("waiting 0", "waiting 1", "crashing"))


async def test_running_reports_a_task_until_it_ends(supervisor: Supervisor) -> None:
    assert not supervisor.running("job")
    job = Job()
    supervisor.spawn("job", job, keep_alive=False)
    await until(lambda: job.runs == 1)
    assert supervisor.running("job") and not supervisor.running("other")
    job.release.set()
    await until(lambda: not supervisor.running("job"))


async def test_wait_event_is_true_when_set() -> None:
    event = asyncio.Event()
    event.set()
    assert await wait_event(event, 0.01)
    later = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, later.set)
    started = time.monotonic()
    assert await wait_event(later, 5.0)
    assert time.monotonic() - started < 1.0


async def test_wait_event_is_false_on_timeout() -> None:
    started = time.monotonic()
    assert not await wait_event(asyncio.Event(), 0.1)
    assert 0.1 - TOLERANCE <= time.monotonic() - started < 1.0


async def test_wait_event_lets_a_cancellation_through() -> None:
    waiter = asyncio.create_task(wait_event(asyncio.Event(), 10.0))
    await asyncio.sleep(0.02)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert waiter.cancelled()


async def test_wait_event_lets_a_cancellation_through_as_the_event_is_set() -> None:
    event = asyncio.Event()
    waiter = asyncio.create_task(wait_event(event, 10.0))
    await asyncio.sleep(0.02)
    event.set()  # in the same step: the wake-up and the cancellation race (wait_for on 3.11 loses it)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert waiter.cancelled()
