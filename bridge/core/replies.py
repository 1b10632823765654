"""Teammates' replies from the outbox to Bybit, oldest first, each exactly once (knows nothing of Telegram)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime

from bridge.bybit import BybitClient, ChatSource, ContentType
from bridge.errors import BybitAuthError, BybitError, BybitUnavailable
from bridge.store import Outgoing, OutState, Store
from bridge.tasks import wait_event

log = logging.getLogger(__name__)

IDLE_RECHECK = 30.0  # seconds between looks at the outbox when nothing wakes the sender
RETRY_BASE = 2.0  # seconds before retrying after Bybit could not be reached, doubled per attempt
RETRY_CAP = 120.0


class ReplySender:
    """Sends the outbox to Bybit through the chat API in use.

    Every reply is written before its first attempt (a file's caption as a text of its own, sent right
    after the file) and marked *sending* when an attempt starts. On
    the order-scoped API a retry reuses the reply's ``msgUuid``, which Bybit keeps once. The session
    API has no such key: a reply whose attempt may have arrived (a timeout, a crash) is first looked
    for in the chat (yours, same text, since it was queued, not another reply's) and sent only if it is
    not there.
    """

    def __init__(self, store: Store, source: ChatSource, client: BybitClient) -> None:
        self._store = store
        self._source = source
        self._client = client

    async def run(self) -> None:
        """Send whatever is due, whenever more arrives, forever."""
        while True:
            self._store.wakeups.outbox.clear()
            delay = await self.send_due()
            await wait_event(self._store.wakeups.outbox, delay)

    async def send_due(self) -> float:
        """Send the due replies in order; returns seconds until the next look (sooner after a failure)."""
        for item in await self._store.outbox.due():
            try:
                await self._send(item)
            except (BybitUnavailable, BybitAuthError) as exc:  # not Bybit's answer to this reply: try again later
                await self._store.outbox.failed_for_now(item.id, str(exc))
                delay = min(RETRY_CAP, RETRY_BASE * 2.0 ** max(item.attempts - 1, 0))
                log.warning(
                    "order %s: reply %d not sent yet (%s); retrying in %.0f s", item.order_id, item.id, exc, delay
                )
                return delay  # later replies wait, so each order's replies keep their order
            except BybitError as exc:
                reason = f"{exc.message} (code {exc.code})"
                await self._store.outbox.settle(item.id, OutState.REFUSED, reason)
                log.warning("order %s: Bybit refused %s's reply: %s", item.order_id, item.user_name, reason)
        return IDLE_RECHECK

    async def _send(self, item: Outgoing) -> None:
        watch = await self._store.orders.get(item.order_id)
        if watch is None:
            await self._store.outbox.settle(item.id, OutState.REFUSED, "the order is not known to the bridge")
            return
        lead = await self._store.outbox.lead(item) if item.part else None
        if lead is not None and lead.state in (OutState.REFUSED, OutState.DISABLED):  # a caption without its file
            await self._store.outbox.settle(item.id, OutState.REFUSED, "its file was not sent")
            return
        if item.state is OutState.SENDING and self._source.current == "session":
            queued = datetime.fromtimestamp(item.created_at, tz=UTC)
            found = item.bybit_msg_id or await self._store.outbox.which_sent(
                item, watch.info.target_user_mask_id, await self._source.find_sent(watch.info, item.key, queued)
            )
            if found:
                await self._store.outbox.settle(item.id, OutState.SENT, bybit_msg_id=found)
                log.info("order %s: reply %d had arrived already; not sent again", item.order_id, item.id)
                return
        if item.file is not None and item.file_url is None:
            url = await self._client.upload_file(item.file.file_name, item.file.data, item.file.mime_type)
            await self._store.outbox.uploaded(item.id, url)
            item = replace(item, file_url=url)
        await self._store.outbox.attempting(item.id)
        content_type = item.file.content_type if item.file else ContentType.TEXT
        await self._source.send(watch.info, item.payload, item.msg_uuid, content_type)
        await self._store.outbox.settle(item.id, OutState.SENT)
        log.info("order %s: sent %s's reply (user %s) to Bybit", item.order_id, item.user_name, item.user_id)
