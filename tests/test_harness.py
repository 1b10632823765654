"""The test harness itself: what its waits match."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from tests.harness import Harness


async def test_wait_text_never_matches_the_time_in_a_posts_header(harness: Harness) -> None:
    # At 08:xx in December every header reads "… · 03 Dec 08:15 UTC": "c 08" is in it, long before message c 08.
    harness.bybit.clock_offset_ms = int((datetime(2026, 12, 3, 8, 15, tzinfo=UTC).timestamp() - time.time()) * 1000)
    order = harness.bybit.add_order()
    harness.bybit.post_message(order.id, "c 01")
    await harness.start()
    assert "Watching" in await harness.reply_to(f"/watch {order.id}")
    await harness.wait_text("c 01")
    assert any("Dec 08:" in text for text in harness.texts())
    with pytest.raises(AssertionError, match="condition not met"):
        await harness.wait_text("c 08", timeout=0.5)
