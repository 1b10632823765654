"""A fixed-interval poller as peers write it: the baseline the bridge's detection latency is compared with.

Every round reads each watched chat's newest page in turn (session API: ``chat/message/listpage_v1`` per
counterparty) through the project's real :class:`~bridge.bybit.BybitClient`, paced to Bybit's read budget;
rounds start every ``chats / budget`` seconds (or as soon as the previous one ends, if it took longer).
It keeps the first moment it saw each message id, in memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from bridge.bybit import URGENT_READS, BybitClient
from bridge.errors import BybitError
from bridge.sandbox import FakeBybit, FakeOrder

log = logging.getLogger(__name__)


class FixedIntervalPoller:
    """Polls every counterparty's session in a fixed round; :attr:`first_seen` maps message id → unix time."""

    def __init__(self, bybit: FakeBybit, orders: Sequence[FakeOrder], *, reads_per_second: float = 10.0) -> None:
        self._client = BybitClient(
            api_key=bybit.api_key,
            api_secret=bybit.api_secret,
            base_url=bybit.url,
            requests_per_second=reads_per_second,
        )
        self._mask_ids = list(dict.fromkeys(order.target_mask_id for order in orders))
        self.interval = len(self._mask_ids) / reads_per_second
        """Seconds between round starts: one read per chat, the whole budget."""
        self.first_seen: dict[str, float] = {}
        """Message id → when a read first returned it (unix seconds)."""
        self.rounds = 0

    async def run(self) -> None:
        """Find the sessions, then poll until cancelled."""
        URGENT_READS.set(True)  # one kind of read only: the whole budget is its own (no reserve kept for hints)
        try:
            sessions = [await self._client.session_id(mask_id) for mask_id in self._mask_ids]
            while True:
                started = time.monotonic()
                for session in sessions:
                    await self._read(session)
                self.rounds += 1
                await asyncio.sleep(max(0.0, started + self.interval - time.monotonic()))
        finally:
            await self._client.aclose()

    async def _read(self, session: str) -> None:
        try:
            page = await self._client.session_messages(session)
        except BybitError as exc:  # a peer logs and goes on
            log.warning("baseline: %s", exc)
            return
        now = time.time()
        for message in page:
            self.first_seen.setdefault(message.id, now)
