"""The sliding-window limiter behind Bybit's request budget and Telegram's pacing."""

from __future__ import annotations

import asyncio

import pytest

from bridge.ratelimit import SlidingWindow


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_sliding_window_delay() -> None:
    clock = FakeClock()
    window = SlidingWindow(2, 10.0, clock=clock)
    assert window.delay() == 0
    asyncio.run(window.acquire())
    asyncio.run(window.acquire())
    assert window.delay() == pytest.approx(10.0)
    clock.now = 4.0
    assert window.delay() == pytest.approx(6.0)
    clock.now = 10.0
    assert window.delay() == 0
    window.push_back(30.0)
    assert window.delay() == pytest.approx(30.0)
    clock.now = 40.0
    window.take()
    assert window.delay() == 0  # after the pause the whole window is free
    smooth = SlidingWindow(2, 10.0, smooth=True, clock=clock)
    smooth.push_back(30.0)
    assert smooth.delay() == pytest.approx(30.0)
    clock.now = 70.0
    smooth.take()
    assert smooth.delay() == pytest.approx(5.0)  # a smooth window: after the pause, slots free one at a time


def test_fractional_rate() -> None:
    half = SlidingWindow.per_second(0.5)
    assert (half.limit, half.period) == (1, 2.0)
    assert SlidingWindow.per_second(10).limit == 10


async def test_an_urgent_caller_takes_the_next_slot_before_earlier_waiters() -> None:
    window = SlidingWindow(1, 0.2)
    await window.acquire()
    order: list[str] = []

    async def take(name: str, urgent: bool) -> None:
        await window.acquire(urgent=urgent)
        order.append(name)

    backlog = asyncio.create_task(take("backlog", False))
    await asyncio.sleep(0.05)
    await take("reply", True)
    await backlog
    assert order == ["reply", "backlog"]


def test_shrink_cuts_the_limit_for_a_while_and_cuts_stack() -> None:
    clock = FakeClock()
    window = SlidingWindow(10, 1.0, clock=clock)
    assert window.shrink(0.8, 60.0) == 8
    assert window.in_force == 8  # what callers pacing themselves by the budget go by
    for _ in range(8):
        window.take()
    assert window.delay() == pytest.approx(1.0)  # the ninth waits although the limit is 10
    clock.now = 0.5
    assert window.shrink(0.5, 60.0) == 8  # a refusal within a period of the cut: the same burst
    clock.now = 1.0
    assert window.shrink(0.5, 60.0) == 4  # a later refusal cuts from the cut limit
    clock.now = 62.0
    assert window.in_force == 10
    for _ in range(10):
        assert window.delay() == 0
        window.take()
    assert window.delay() > 0  # back to the full limit, and no further


def test_callers_that_are_not_urgent_take_at_most_the_limit_less_the_reserve_however_busy_the_urgent_ones_are() -> None:
    clock = FakeClock()
    window = SlidingWindow(10, 1.0, reserve=5, clock=clock)
    for _ in range(7):
        window.take(urgent=True)
    assert window.delay(urgent=False) == 0  # urgent ones used more than the reserve: the others still get room
    for _ in range(3):
        window.take(urgent=False)
    assert window.delay(urgent=True) == pytest.approx(1.0)  # the whole limit is used
    clock.now = 1.0
    for _ in range(5):
        assert window.delay(urgent=False) == 0
        window.take(urgent=False)
    assert window.delay(urgent=False) == pytest.approx(1.0)  # five of their own in the period: no more
    assert window.delay(urgent=True) == 0


def test_a_smooth_window_spreads_its_events_over_the_period() -> None:
    clock = FakeClock()
    window = SlidingWindow(4, 1.0, smooth=True, clock=clock)
    window.take()
    assert window.delay() == pytest.approx(0.25)  # not the whole window at once: one event a step
    clock.now = 0.25
    window.take()
    clock.now = 0.5
    window.take()
    clock.now = 0.75
    window.take()
    clock.now = 1.0
    assert window.delay() == 0  # the first event left the window, and a step has passed
    bursty = SlidingWindow(4, 1.0, clock=clock)
    bursty.take()
    assert bursty.delay() == 0  # without smooth, the window may go in one burst
