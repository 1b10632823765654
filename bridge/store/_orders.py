"""Watched orders: where their messages go, and their Telegram home."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping

from bridge.bybit import ChatMessage, OrderInfo
from bridge.store._records import (
    ALERT_ID_PREFIX,
    OutState,
    Pruned,
    Retirement,
    State,
    Table,
    Watch,
    insert_message,
    stored_info,
    watch_from_row,
    writes,
)


class Orders(Table):
    """Watched orders: where their messages go, and their Telegram home."""

    @writes
    async def watch(self, info: OrderInfo, chat_id: int, thread_id: int | None, user_id: int | None) -> None:
        """Start (or resume) forwarding an order to a chat; its history (or gap) is read anew, within the limit.

        Watched again in another chat, it makes its home there anew: nothing of the old chat's home (topic,
        card, a topic still to close there) is taken along.
        """
        await self._db.execute(
            """INSERT INTO orders (order_id, chat_id, thread_id, info, watched_by, watched_at)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT(order_id) DO UPDATE SET active = 1, backfilled = 0, chat_id = excluded.chat_id,
                   info = excluded.info, unwatched_at = NULL,
                   thread_id = CASE WHEN chat_id = excluded.chat_id THEN thread_id ELSE excluded.thread_id END,
                   home_ready = CASE WHEN chat_id = excluded.chat_id THEN home_ready ELSE 0 END,
                   made_topic = CASE WHEN chat_id = excluded.chat_id THEN made_topic END,
                   card_message_id = CASE WHEN chat_id = excluded.chat_id THEN card_message_id END,
                   close_topic = CASE WHEN chat_id = excluded.chat_id THEN close_topic ELSE 0 END,
                   watched_by = excluded.watched_by, watched_at = excluded.watched_at""",
            (info.id, chat_id, thread_id, info.model_dump_json(by_alias=True), user_id, time.time()),
        )
        await self._db.commit()
        self._wakeups.poller.set()
        self._wakeups.delivery.set()
        if info.listed:
            self._wakeups.details.set()

    @writes
    async def unwatch(self, order_id: str) -> bool:
        """Stop forwarding an order; False if it was not watched."""
        cursor = await self._db.execute(
            "UPDATE orders SET active = 0, unwatched_at = ? WHERE order_id = ? AND active = 1", (time.time(), order_id)
        )
        await self._db.commit()
        self._wakeups.poller.set()
        return cursor.rowcount > 0

    async def known(self, order_id: str) -> bool:
        """Whether the order was ever watched (its record may since have been pruned)."""
        async with self._db.execute(
            "SELECT 1 FROM orders WHERE order_id = ? UNION SELECT 1 FROM pruned WHERE order_id = ?",
            (order_id, order_id),
        ) as cursor:
            return await cursor.fetchone() is not None

    @writes
    async def prune(self, unwatched_before: float) -> Pruned:
        """Forget what is settled of orders unwatched before ``unwatched_before`` (epoch seconds).

        Their delivered, skipped and echoed messages go, with the posts made of them and their settled
        replies; the order itself goes once nothing of it is left. Pending, held and dead-lettered messages,
        unsettled replies, watched orders and topics still to close stay. Each order's newest message id is
        kept (``pruned``; Bybit's, not a status alert the bridge wrote), so a read of its chat after a new
        /watch stops there as before: only what is new is forwarded, never a pruned message again.
        """
        params = {
            "before": unwatched_before,
            "now": time.time(),
            "sent": OutState.SENT,
            "own": ALERT_ID_PREFIX + "%",
        }
        eligible = "SELECT order_id FROM orders WHERE active = 0 AND close_topic = 0 AND unwatched_at < :before"
        await self._db.execute(
            f"""INSERT INTO pruned (order_id, last_msg_id, pruned_at)
                SELECT o.order_id, (SELECT m.msg_id FROM messages m WHERE m.order_id = o.order_id
                                      AND m.msg_id NOT LIKE :own
                                    ORDER BY m.created_ms DESC, m.seq DESC LIMIT 1), :now
                FROM orders o WHERE o.order_id IN ({eligible})
                ON CONFLICT(order_id) DO UPDATE SET pruned_at = excluded.pruned_at,
                    last_msg_id = COALESCE(excluded.last_msg_id, pruned.last_msg_id)""",
            params,
        )
        messages = await self._db.execute(
            f"DELETE FROM messages WHERE state IN (:delivered, :skipped, :echo) AND order_id IN ({eligible})",
            params | {"delivered": State.DELIVERED, "skipped": State.SKIPPED, "echo": State.ECHO},
        )
        posts = await self._db.execute(
            f"""DELETE FROM posts WHERE order_id IN ({eligible})
                AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.msg_id = posts.msg_id)""",
            params,
        )
        replies = await self._db.execute(
            f"""DELETE FROM outbox WHERE order_id IN ({eligible}) AND feedback_done = 1
                AND state IN (:sent, :refused, :disabled)""",
            params | {"refused": OutState.REFUSED, "disabled": OutState.DISABLED},
        )
        orders = await self._db.execute(
            f"""DELETE FROM orders WHERE order_id IN ({eligible})
                AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.order_id = orders.order_id)
                AND NOT EXISTS (SELECT 1 FROM outbox r WHERE r.order_id = orders.order_id)
                AND NOT EXISTS (SELECT 1 FROM posts p WHERE p.order_id = orders.order_id)""",
            params,
        )
        await self._db.commit()
        return Pruned(
            orders=orders.rowcount, messages=messages.rowcount, posts=posts.rowcount, replies=replies.rowcount
        )

    async def get(self, order_id: str) -> Watch | None:
        """The order's watch record, active or not."""
        async with self._db.execute("SELECT * FROM orders WHERE order_id = ?", (order_id,)) as cursor:
            row = await cursor.fetchone()
        return watch_from_row(row) if row else None

    async def active(self, chat_id: int | None = None) -> list[Watch]:
        """Active watches, oldest first, optionally of one chat."""
        query = "SELECT * FROM orders WHERE active = 1"
        params: tuple[int, ...] = ()
        if chat_id is not None:
            query += " AND chat_id = ?"
            params = (chat_id,)
        async with self._db.execute(query + " ORDER BY watched_at", params) as cursor:
            return [watch_from_row(row) for row in await cursor.fetchall()]

    @writes
    async def update_info(self, info: OrderInfo, *, finished: bool = False, alert: ChatMessage | None = None) -> None:
        """Keep the latest order detail Bybit returned; its card is edited to match. ``finished``: from now on.

        ``alert`` (the message telling the order's chat of a new status) is recorded in the same
        transaction: the change is never kept without its alert, nor the alert without the change.
        """
        await self._db.execute(
            """UPDATE orders SET info = ?, card_stale = card_stale + 1,
                   finished_at = CASE WHEN ? THEN COALESCE(finished_at, ?) ELSE NULL END
               WHERE order_id = ?""",
            (info.model_dump_json(by_alias=True), finished, time.time(), info.id),
        )
        if alert is not None:
            await insert_message(self._db, info.id, alert, State.PENDING)
        await self._db.commit()
        self._wakeups.delivery.set()
        if finished:
            self._wakeups.poller.set()  # a finished order is read on its own schedule until it is retired

    async def listed(self) -> list[Watch]:
        """Active watches made from the open-order list: their order detail is still to be read."""
        return await self._select("json_extract(info, '$.bridgeListed') = 1", ())

    @writes
    async def add_detail(self, detail: OrderInfo) -> bool:
        """Complete a watch made from the open-order list with its order detail (see :meth:`OrderInfo.detailed`);
        its card is edited to match. False when there was nothing to complete (it was read in full since)."""
        async with self._db.execute("SELECT info FROM orders WHERE order_id = ?", (detail.id,)) as cursor:
            row = await cursor.fetchone()
        listed = stored_info(str(row[0])) if row else None
        if listed is None or not listed.listed:
            return False
        info = listed.detailed(detail)
        await self._db.execute(
            "UPDATE orders SET info = ?, card_stale = card_stale + 1 WHERE order_id = ?",
            (info.model_dump_json(by_alias=True), detail.id),
        )
        await self._db.commit()
        self._wakeups.delivery.set()
        return True

    async def stale_cards(self, chat_id: int) -> list[Watch]:
        """Watches of a chat whose card shows an old status."""
        return await self._select("card_stale > 0 AND home_ready = 1 AND chat_id = ?", (chat_id,))

    @writes
    async def card_edited(self, watch: Watch) -> None:
        """The card shows the order detail of ``watch``: current, unless a newer one was kept while it was edited."""
        await self._db.execute(
            "UPDATE orders SET card_stale = 0 WHERE order_id = ? AND card_stale = ?",
            (watch.order_id, watch.card_changes),
        )
        await self._db.commit()

    @writes
    async def retire_finished(self, grace: float, read_at: Mapping[str, float]) -> Retirement:
        """Stop watching orders finished ``grace`` seconds ago whose chat was read since and whose messages are
        all delivered; their topics close.

        ``read_at``: when the last successful read of each order's chat started (epoch seconds). An order
        whose grace ran out with no read since is not retired yet: it is named, to be read once more first.
        """
        now = time.time()
        async with self._db.execute(
            """SELECT order_id, finished_at FROM orders WHERE active = 1 AND finished_at < :now - :grace""",
            {"now": now, "grace": grace},
        ) as cursor:
            due = {str(row[0]): float(row[1]) + grace for row in await cursor.fetchall()}
        unread = [order_id for order_id, ended in due.items() if read_at.get(order_id, -math.inf) <= ended]
        read = [order_id for order_id in due if order_id not in unread]
        if not read:
            return Retirement([], unread)
        async with self._db.execute(
            f"""UPDATE orders SET active = 0, close_topic = (thread_id IS NOT NULL), unwatched_at = ?
               WHERE active = 1 AND order_id IN ({",".join("?" * len(read))})
                 AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.order_id = orders.order_id AND m.state IN (?, ?))
                 AND NOT EXISTS (SELECT 1 FROM follows f JOIN messages m ON m.seq = f.seq  -- a file still to follow
                                 WHERE m.order_id = orders.order_id)
               RETURNING order_id""",
            (now, *read, State.PENDING, State.REFRESH),
        ) as cursor:
            retired = [str(row[0]) for row in await cursor.fetchall()]
        await self._db.commit()
        if retired:
            self._wakeups.delivery.set()
            self._wakeups.poller.set()
        return Retirement(retired, unread)

    async def topics_to_close(self, chat_id: int) -> list[Watch]:
        """Retired orders of a chat whose topic is still open."""
        return await self._select("close_topic = 1 AND chat_id = ?", (chat_id,), active=False)

    @writes
    async def topic_closed(self, order_id: str) -> None:
        """The order's topic is closed (or could not be): nothing more to do for it."""
        await self._db.execute("UPDATE orders SET close_topic = 0 WHERE order_id = ?", (order_id,))
        await self._db.commit()

    async def _select(self, where: str, params: tuple[object, ...], *, active: bool = True) -> list[Watch]:
        query = f"SELECT * FROM orders WHERE active = ? AND {where} ORDER BY watched_at"
        async with self._db.execute(query, (int(active), *params)) as cursor:
            return [watch_from_row(row) for row in await cursor.fetchall()]

    @writes
    async def set_home(self, order_id: str, thread_id: int | None, card_message_id: int | None) -> None:
        """The order's Telegram home is ready: its topic (if any) and its card."""
        await self._db.execute(
            "UPDATE orders SET thread_id = ?, card_message_id = ?, home_ready = 1 WHERE order_id = ?",
            (thread_id, card_message_id, order_id),
        )
        await self._db.commit()

    @writes
    async def topic_made(self, order_id: str, thread_id: int) -> None:
        """A forum topic was made for the order: the home, if it fails now, is finished in it later."""
        await self._db.execute("UPDATE orders SET made_topic = ? WHERE order_id = ?", (thread_id, order_id))
        await self._db.commit()

    @writes
    async def reset_home(self, order_id: str) -> None:
        """The order's topic is gone: build a new home before its next message."""
        await self._db.execute(
            """UPDATE orders SET thread_id = NULL, card_message_id = NULL, home_ready = 0, made_topic = NULL
               WHERE order_id = ?""",
            (order_id,),
        )
        await self._db.commit()
        self._wakeups.delivery.set()

    async def homeless(self, chat_id: int) -> list[Watch]:
        """Orders of a chat whose topic and card are still to be made: watched, or with messages still to deliver."""
        async with self._db.execute(
            """SELECT * FROM orders WHERE home_ready = 0 AND chat_id = ? AND (active = 1 OR EXISTS (
                   SELECT 1 FROM messages m WHERE m.order_id = orders.order_id AND m.state = ?))
               ORDER BY watched_at""",
            (chat_id, State.PENDING),
        ) as cursor:
            return [watch_from_row(row) for row in await cursor.fetchall()]

    async def of_post(self, chat_id: int, message_id: int) -> str | None:
        """The active order a bridge post (a forwarded message or an order card) in ``chat_id`` belongs to."""
        async with self._db.execute(
            """SELECT p.order_id FROM posts p JOIN orders o ON o.order_id = p.order_id
               WHERE p.chat_id = ? AND p.message_id = ? AND o.active = 1
               UNION SELECT order_id FROM orders WHERE chat_id = ? AND card_message_id = ? AND active = 1""",
            (chat_id, message_id, chat_id, message_id),
        ) as cursor:
            row = await cursor.fetchone()
        return str(row[0]) if row else None

    async def in_thread(self, chat_id: int, thread_id: int) -> str | None:
        """The active order whose topic is ``thread_id``."""
        async with self._db.execute(
            "SELECT order_id FROM orders WHERE active = 1 AND chat_id = ? AND thread_id = ? AND home_ready = 1",
            (chat_id, thread_id),
        ) as cursor:
            row = await cursor.fetchone()
        return str(row[0]) if row else None
