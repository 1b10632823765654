"""/watch of many orders at Bybit's budget: each order's history is read as it is watched, not after them all.

(Orders the open-order list does not show, each watched from its detail; listed ones: test_listed_watch.py.)"""

from __future__ import annotations

from bridge.sandbox.fake_bybit.constants import READS_PER_SECOND
from tests.harness import Harness

ORDER_INFO = "/v5/p2p/order/info"
ORDER_LIST = "/v5/p2p/order/message/listpage"
ORDERS = 40  # two /watch commands of 20


async def test_watching_many_orders_reads_each_history_as_it_is_watched(harness: Harness) -> None:
    harness.bybit.delay = 0.15  # Bybit from afar, its budget enforced (10 reads a second)
    orders = [harness.bybit.add_order(counterparty_nick=f"Buyer{n:02d}", status=50) for n in range(ORDERS)]
    for order in orders:
        harness.bybit.post_message(order.id, f"history of {order.id}")
    await harness.start(bybit_chat_api="order", poll_interval_max=30)
    for first in range(0, ORDERS, 20):
        harness.say("/watch " + " ".join(order.id for order in orders[first : first + 20]))
    # 40 order details and 40 first pages: about 9 s at the budget (the client keeps a margin)
    await harness.telegram.wait_for(lambda: harness.bybit.calls_to(ORDER_INFO) == ORDERS, timeout=20)
    last_info = max(r.time for r in harness.bybit.requests if r.path == ORDER_INFO)
    read_before = {r.body["orderId"] for r in harness.bybit.requests if r.path == ORDER_LIST and r.time < last_info}
    assert len(read_before) >= ORDERS // 2  # the histories went along (13 of 40 before), not after all 40 details
    for order in orders:
        await harness.wait_text(f"history of {order.id}", timeout=15)
    assert harness.bybit.rate_limited_answers == 0
    assert harness.bybit.reads_per_second == READS_PER_SECOND
