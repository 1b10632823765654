"""The scheduler against the sandbox: idle chats back off, unread counts bring them forward, reads overlap."""

from __future__ import annotations

import itertools
import re
import time
from typing import Any

from bridge.sandbox.fake_bybit import FakeOrder
from tests.harness import Harness

SESSION_LIST = "/v5/p2p/chat/message/listpage_v1"
ORDER_LIST = "/v5/p2p/order/message/listpage"
UNREAD_SESSIONS = "/v5/p2p/chat/session/list_v1"
OPEN_ORDERS = "/v5/p2p/order/pending/simplifyList"


async def test_a_quiet_chat_is_read_less_and_less_but_at_least_once_per_ceiling(harness: Harness) -> None:
    order = harness.bybit.add_order()
    await harness.start(bybit_chat_api="session", poll_interval=0.2, poll_interval_max=1.6)
    assert "Watching" in await harness.reply_to(f"/watch {order.id}")
    await harness.telegram.wait_for(lambda: harness.bybit.calls_to(SESSION_LIST) >= 1)
    start = time.monotonic()
    before = harness.bybit.calls_to(SESSION_LIST)
    await harness.telegram.wait_for(lambda: time.monotonic() - start > 6, timeout=8)
    reads = harness.bybit.calls_to(SESSION_LIST) - before
    assert 3 <= reads <= 8  # 0.2 s fixed polling would have read it 30 times
    # A system notice is not unread, so nothing hints at it: the ceiling read still brings it.
    harness.bybit.post_message(order.id, "Please confirm the payment.", sender="system")
    await harness.wait_text("Please confirm the payment.", timeout=4)


async def backed_off(harness: Harness, api: str, floor: float) -> FakeOrder:
    """A watched order that had one message, then stayed quiet for 3 s (its chat backed off; ceiling 60 s)."""
    order = harness.bybit.add_order()
    await harness.start(bybit_chat_api=api, poll_interval=floor, poll_interval_max=60)
    assert "Watching" in await harness.reply_to(f"/watch {order.id}")
    harness.bybit.post_message(order.id, "first 01")
    await harness.wait_text("first 01")
    quiet = time.monotonic()
    await harness.telegram.wait_for(lambda: time.monotonic() - quiet > 3, timeout=5)
    return order


async def test_an_unread_message_in_a_backed_off_session_is_read_at_once(harness: Harness) -> None:
    order = await backed_off(harness, "session", 0.2)
    posted = time.monotonic()
    harness.bybit.post_message(order.id, "u 02 I paid")
    await harness.wait_text("u 02 I paid", timeout=5)
    assert time.monotonic() - posted < 2.5  # the session list (read every second) said it was unread
    assert harness.bybit.calls_to(UNREAD_SESSIONS) >= 3


async def test_a_session_listed_as_unread_without_its_count_hints_its_chat(harness: Harness) -> None:
    """Before: a session on the list of unread ones but without its ``unreadCount`` counted as 0, hinting nothing."""
    harness.bybit.serve_unread_counts = False
    order = harness.bybit.add_order()
    await harness.start(bybit_chat_api="session", poll_interval=1.0, poll_interval_max=60)
    assert "Watching" in await harness.reply_to(f"/watch {order.id}")
    await harness.telegram.wait_for(lambda: harness.bybit.calls_to(SESSION_LIST) >= 1)  # next: within 60 s
    read = time.monotonic()
    await harness.telegram.wait_for(lambda: time.monotonic() - read > 3, timeout=5)
    posted = time.monotonic()
    harness.bybit.post_message(order.id, "u 03 I paid")
    await harness.wait_text("u 03 I paid", timeout=8)
    assert time.monotonic() - posted < 2.5


async def test_the_open_order_lists_unread_counts_hint_in_order_mode(harness: Harness) -> None:
    order = await backed_off(harness, "order", 0.3)
    reads = harness.bybit.calls_to(ORDER_LIST)
    posted = time.monotonic()
    harness.bybit.post_message(order.id, "o 02 receipt sent")
    await harness.wait_text("o 02 receipt sent", timeout=5)
    assert time.monotonic() - posted < 2.0
    assert harness.bybit.calls_to(ORDER_LIST) - reads <= 2


async def test_one_hung_read_does_not_hold_up_the_other_chats(harness: Harness) -> None:
    first, second = harness.bybit.add_order(), harness.bybit.add_order(counterparty_nick="OtherBuyer")
    await harness.start(bybit_timeout=5.0, poll_interval=0.2, poll_interval_max=0.4)
    assert (await harness.reply_to(f"/watch {first.id} {second.id}")).count("Watching") == 2
    harness.bybit.inject("hang", times=1, path=ORDER_LIST)
    await harness.telegram.wait_for(lambda: any(r.status is None for r in harness.bybit.requests), timeout=5)
    hung_at = time.monotonic()
    [hung] = [r for r in harness.bybit.requests if r.status is None]
    stuck, free = (first, second) if hung.body["orderId"] == first.id else (second, first)
    harness.bybit.post_message(free.id, "free 01")
    harness.bybit.post_message(stuck.id, "stuck 01")
    await harness.wait_text("free 01", timeout=4)
    assert time.monotonic() - hung_at < 4  # well before the hung read times out (5 s)
    await harness.wait_text("stuck 01", timeout=10)


async def test_after_a_restart_only_an_unread_count_that_changed_is_a_hint(harness: Harness) -> None:
    order = await backed_off(harness, "session", 0.2)  # "first 01" stays unread: nobody opened the app
    await harness.stop()
    await harness.start(bybit_chat_api="session", poll_interval=0.2, poll_interval_max=60)
    await harness.telegram.wait_for(lambda: harness.bybit.calls_to(UNREAD_SESSIONS) >= 3)
    assert "0 hint(s)" in await harness.reply_to("/status")  # the count is the one seen before the restart
    harness.bybit.post_message(order.id, "after 02")
    await harness.wait_text("after 02", timeout=5)  # (a regular read may find it before the session list does)
    sweeps = harness.bybit.calls_to(UNREAD_SESSIONS)
    await harness.telegram.wait_for(lambda: harness.bybit.calls_to(UNREAD_SESSIONS) >= sweeps + 2)
    status = await harness.reply_to("/status")
    assert " 0 hint(s)" not in status, status  # the session list saw the new count


async def restarted_after_first_messages(
    harness: Harness, orders: list[FakeOrder], sweeps: int, **settings: Any
) -> None:
    """The orders watched, each with one message delivered, then the bridge restarted (their next regular
    reads fall anywhere within a minute) and ``sweeps`` session-list reads made since."""
    settings = {"bybit_chat_api": "session", "poll_interval_max": 60} | settings
    await harness.start(**settings)
    assert (await harness.reply_to("/watch " + " ".join(o.id for o in orders))).count("Watching") == len(orders)
    for order in orders:
        harness.bybit.post_message(order.id, f"first {order.target_nick}")
        await harness.wait_text(f"first {order.target_nick}")
    await harness.stop()
    await harness.start(**settings)
    before = harness.bybit.calls_to(UNREAD_SESSIONS)
    await harness.telegram.wait_for(lambda: harness.bybit.calls_to(UNREAD_SESSIONS) >= before + sweeps)


async def test_a_hint_on_the_session_lists_first_page_comes_before_the_rest_of_the_list(harness: Harness) -> None:
    for n in range(2 * 20 + 5):  # three pages of unread sessions, none of them watched
        harness.bybit.post_message(harness.bybit.add_order(counterparty_nick=f"Other{n:02d}").id, "unanswered")
    order = harness.bybit.add_order()  # the newest session: on the first page
    await restarted_after_first_messages(harness, [order], 6, poll_interval=0.2, bybit_timeout=10.0)
    harness.bybit.inject("hang", path="/v5/p2p/order/pending/simplifyList")  # no hint from the open-order list
    harness.bybit.post_message(order.id, "second 02")
    posted = len(harness.bybit.requests)
    await harness.telegram.wait_for(
        lambda: any(r.path == UNREAD_SESSIONS and r.body["lastId"] == 0 for r in harness.bybit.requests[posted:])
    )
    harness.bybit.inject("hang", path=UNREAD_SESSIONS)  # the rest of this sweep does not come for 10 s
    await harness.wait_text("second 02", timeout=2)


async def test_the_session_list_read_in_lanes_misses_no_session_when_the_list_shifts(harness: Harness) -> None:
    watched = [harness.bybit.add_order(counterparty_nick="Oldest")]
    others = []
    for n in range(70):  # four pages of unread sessions: the sweep reads them in lanes
        others.append(harness.bybit.add_order(counterparty_nick=f"Other{n:02d}"))
        harness.bybit.post_message(others[-1].id, "unanswered")
        if n == 35:
            watched.append(harness.bybit.add_order(counterparty_nick="Middle"))
    watched.append(harness.bybit.add_order(counterparty_nick="Newest"))
    await restarted_after_first_messages(harness, watched, 12, poll_interval=0.2, bybit_timeout=10.0)
    assert any(r.body["lastId"] for r in harness.bybit.requests if r.path == UNREAD_SESSIONS)
    for order in others[10:40]:  # read in the app: every lane's start cursor is off now
        harness.bybit.read_in_app(order_id=order.id)
    harness.bybit.inject("hang", path="/v5/p2p/order/pending/simplifyList")  # no hint from the open-order list
    for order in watched:
        harness.bybit.post_message(order.id, f"second {order.target_nick}")
    for order in watched:
        await harness.wait_text(f"second {order.target_nick}", timeout=3)


async def hints_told(harness: Harness) -> int:
    """The hints /status counts."""
    told = re.search(r"(\d+) hint\(s\)", await harness.reply_to("/status"))
    assert told is not None
    return int(told.group(1))


async def test_the_open_order_lists_counts_hint_on_the_session_api_only_while_the_session_list_fails(
    harness: Harness,
) -> None:
    order = harness.bybit.add_order()
    await restarted_after_first_messages(harness, [order], 2, poll_interval=2.0)
    before = await hints_told(harness)
    harness.bybit.post_message(order.id, "second 02")
    await harness.wait_text("second 02", timeout=3)
    assert await hints_told(harness) == before + 1  # the session list's; the open-order list's is no hint
    harness.bybit.inject("server_error", times=10_000, path=UNREAD_SESSIONS)  # from now on the session list fails
    reads = harness.bybit.calls_to(SESSION_LIST)
    await harness.telegram.wait_for(lambda: harness.bybit.calls_to(SESSION_LIST) >= reads + 3, timeout=20)
    # The chat's own reads back off after its news (2, 4, 8 s…): the next one is 16 s away.
    harness.bybit.post_message(order.id, "third 03")
    await harness.wait_text("third 03", timeout=3)  # the open-order list (first page every 2 s) said so


async def test_a_message_read_in_the_bybit_app_before_the_session_list_saw_it_is_read_at_once(
    harness: Harness,
) -> None:
    order = harness.bybit.add_order()
    await harness.start(bybit_chat_api="session", poll_interval=30, poll_interval_max=600)
    assert "Watching" in await harness.reply_to(f"/watch {order.id}")
    harness.bybit.post_message(order.id, "first 01")
    await harness.wait_text("first 01")  # the chat's next regular read is 30 s away now
    sweeps = harness.bybit.calls_to(UNREAD_SESSIONS)
    await harness.telegram.wait_for(lambda: harness.bybit.calls_to(UNREAD_SESSIONS) >= sweeps + 2)
    harness.bybit.post_message(order.id, "second 02")
    harness.bybit.read_in_app(order_id=order.id)  # the unread count falls (1 → 0): never seen at 2
    await harness.wait_text("second 02", timeout=5)


async def test_the_open_order_lists_other_pages_are_read_one_at_a_time(harness: Harness) -> None:
    orders = [harness.bybit.add_order(counterparty_nick=f"Buyer{n:02d}") for n in range(65)]  # three pages
    oldest = orders[0]  # on the last page
    await harness.start(bybit_chat_api="session", poll_interval=0.5, poll_interval_max=600)
    assert "Watching" in await harness.reply_to(f"/watch {oldest.id}")
    start = len(harness.bybit.requests)
    await harness.telegram.wait_for(lambda: harness.bybit.calls_to(OPEN_ORDERS) >= 3 + 8, timeout=30)
    reads = [(r.time, r.body["page"]) for r in harness.bybit.requests[start:] if r.path == OPEN_ORDERS]
    others = [(at, page) for at, page in reads if page > 1]
    assert {2, 3} <= {page for _, page in others[2:]}  # past the first read of the whole list, in turn
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(others[2:])]
    assert gaps and min(gaps) > 2.0, gaps  # one page per turn (at 10 reads/s: every 5 s), never a burst
    oldest.status = 20  # paid: only the last page shows it
    await harness.telegram.wait_for(
        lambda: any("🔔 Order status: paid" in text for text in harness.texts()), timeout=15
    )


async def test_without_bybits_hints_every_chat_is_read_at_least_once_per_ceiling(harness: Harness) -> None:
    """Before: with the unread counts saying nothing (each chat open in the Bybit app), chats merely due had a
    tenth of the budget, and 12 chats stretched a 3 s ceiling to 24 s; now they use what hints leave."""
    bybit = harness.bybit
    bybit.read_in_app_at_once = True
    orders = [bybit.add_order(counterparty_nick=f"Buyer{n}") for n in range(12)]
    await harness.start(poll_interval=0.5, poll_interval_max=3.0)
    assert "Watching" in await harness.reply_to("/watch " + " ".join(order.id for order in orders))
    await harness.telegram.wait_for(lambda: bybit.calls_to(ORDER_LIST) >= len(orders))  # each backfilled
    await harness.telegram.wait_for(lambda: bybit.calls_to(ORDER_LIST) >= 4 * len(orders), timeout=20)  # backed off
    for n, order in enumerate(orders[::4]):
        posted = time.monotonic()
        bybit.post_message(order.id, f"h {n:02d} paid, did you see?")
        await harness.wait_text(f"h {n:02d}", timeout=10)
        assert time.monotonic() - posted < 3.0 + 1.5  # the ceiling, and a read's way


async def test_a_session_list_that_keeps_failing_is_asked_ever_less_often(harness: Harness) -> None:
    """Before: it was asked every second for as long as it failed."""
    order = harness.bybit.add_order()
    harness.bybit.inject("auth", times=1000, path=UNREAD_SESSIONS)  # refused at once, every time
    await harness.start(bybit_chat_api="session")
    assert "Watching" in await harness.reply_to(f"/watch {order.id}")
    await harness.telegram.wait_for(lambda: harness.bybit.calls_to(UNREAD_SESSIONS) >= 1)
    first = time.monotonic()
    await harness.telegram.wait_for(lambda: time.monotonic() - first > 7.5, timeout=9)
    assert 2 <= harness.bybit.calls_to(UNREAD_SESSIONS) <= 4  # after 2, 4 (and 8) s; not 8 times
    harness.bybit.post_message(order.id, "s 01 still read on its schedule")
    await harness.wait_text("s 01 still read on its schedule")


async def test_a_talking_chat_read_in_the_bybit_app_is_read_as_often_as_it_talks(harness: Harness) -> None:
    """Before: with every message read in the app at once (no hint), a chat writing every 10 s had backed off to
    8 s between reads when its next message came: each waited about 5 s. Now its talk makes it read early."""
    bybit = harness.bybit
    bybit.read_in_app_at_once = True
    orders = [bybit.add_order(counterparty_nick=f"Talker{n}") for n in range(2)]
    await harness.start(bybit_chat_api="session", poll_interval=1.0, poll_interval_max=60)
    assert "Watching" in await harness.reply_to("/watch " + " ".join(order.id for order in orders))
    waits: list[float] = []
    for n in range(8):  # each order every 10 s, the two 5 s apart
        started = time.monotonic()
        bybit.post_message(orders[n % 2].id, f"t {n:02d} ok")
        await harness.wait_text(f"t {n:02d} ok", timeout=15)
        waits.append(time.monotonic() - started)
        await harness.telegram.wait_for(lambda: time.monotonic() - started >= 5, timeout=6)  # noqa: B023
    assert max(waits[4:]) < 3.5, waits  # past each chat's second message (two make a rate)


async def test_the_open_order_lists_counts_on_its_last_page_hint_at_once_in_order_mode(harness: Harness) -> None:
    """Before: its other pages were read in turn, one per 5 s (2 % of the budget) whatever their counts said, so
    news on the third page waited up to 10 s; while its counts are the hints, they go at the hint pace."""
    orders = [harness.bybit.add_order(counterparty_nick=f"Buyer{n:02d}") for n in range(65)]  # three pages
    oldest = orders[0]  # on the last page
    settings: dict[str, Any] = {"bybit_chat_api": "order", "poll_interval": 0.5, "poll_interval_max": 600}
    await harness.start(**settings)
    assert "Watching" in await harness.reply_to(f"/watch {oldest.id}")
    await harness.telegram.wait_for(lambda: harness.bybit.calls_to(ORDER_LIST) >= 1)  # its history: nothing
    await harness.stop()
    await harness.start(**settings)  # its next read falls anywhere within 10 minutes; nothing makes it likely sooner
    read = len(harness.bybit.requests)

    def after_the_first_read_of_the_whole_list(page: int) -> bool:
        pages = [r.body["page"] for r in harness.bybit.requests[read:] if r.path == OPEN_ORDERS]
        return page in pages[pages.index(3) + 1 :] if 3 in pages else False

    await harness.telegram.wait_for(lambda: after_the_first_read_of_the_whole_list(2))
    posted = time.monotonic()  # (the last page is read on the next turn)
    harness.bybit.post_message(oldest.id, "p 01 last page")
    await harness.wait_text("p 01 last page", timeout=10)
    assert time.monotonic() - posted < 3.0


async def test_without_bybits_counts_a_quiet_chats_first_message_is_read_long_before_the_ceiling(
    harness: Harness,
) -> None:
    """Before: with the counts left out, a quiet chat's message waited for its regular read, up to the 60 s ceiling,
    while the budget sat idle; now the spare budget reads every chat in turn, and /status says why."""
    bybit = harness.bybit
    bybit.serve_unread_counts = False
    orders = [bybit.add_order(counterparty_nick=f"Buyer{n}") for n in range(12)]
    for order in orders:
        order.create_ms -= 3_600_000  # quiet for an hour
    await harness.start(poll_interval=1.0, poll_interval_max=60)
    assert "Watching" in await harness.reply_to("/watch " + " ".join(order.id for order in orders))
    await harness.telegram.wait_for(lambda: bybit.calls_to(ORDER_LIST) >= len(orders))  # each backfilled
    quiet = time.monotonic()
    await harness.telegram.wait_for(lambda: time.monotonic() - quiet > 3, timeout=5)
    for n, order in enumerate(orders[::4]):
        posted = time.monotonic()
        bybit.post_message(order.id, f"q {n:02d} hello?")
        await harness.wait_text(f"q {n:02d}", timeout=65)
        assert time.monotonic() - posted < 5.0
    assert "unread counts miss the news" in await harness.reply_to("/status")
