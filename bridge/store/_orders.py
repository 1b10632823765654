"""Watched orders: where their messages go, and their Telegram home."""

from __future__ import annotations

import time

from bridge.bybit import OrderInfo
from bridge.store._records import State, Table, Watch, watch_from_row


class Orders(Table):
    """Watched orders: where their messages go, and their Telegram home."""

    async def watch(self, info: OrderInfo, chat_id: int, thread_id: int | None, user_id: int | None) -> None:
        """Start (or resume) forwarding an order to a chat; its history (or gap) is read anew, within the limit."""
        await self._db.execute(
            """INSERT INTO orders (order_id, chat_id, thread_id, info, watched_by, watched_at)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT(order_id) DO UPDATE SET active = 1, backfilled = 0, chat_id = excluded.chat_id,
                   info = excluded.info,
                   thread_id = CASE WHEN chat_id = excluded.chat_id THEN thread_id ELSE excluded.thread_id END,
                   home_ready = CASE WHEN chat_id = excluded.chat_id THEN home_ready ELSE 0 END,
                   watched_by = excluded.watched_by, watched_at = excluded.watched_at""",
            (info.id, chat_id, thread_id, info.model_dump_json(by_alias=True), user_id, time.time()),
        )
        await self._db.commit()
        self._wakeups.poller.set()
        self._wakeups.delivery.set()

    async def unwatch(self, order_id: str) -> bool:
        """Stop forwarding an order; False if it was not watched."""
        cursor = await self._db.execute("UPDATE orders SET active = 0 WHERE order_id = ? AND active = 1", (order_id,))
        await self._db.commit()
        self._wakeups.poller.set()
        return cursor.rowcount > 0

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

    async def update_info(self, info: OrderInfo, *, finished: bool = False) -> None:
        """Keep the latest order detail Bybit returned; its card is edited to match. ``finished``: from now on."""
        await self._db.execute(
            """UPDATE orders SET info = ?, card_stale = 1,
                   finished_at = CASE WHEN ? THEN COALESCE(finished_at, ?) ELSE NULL END
               WHERE order_id = ?""",
            (info.model_dump_json(by_alias=True), finished, time.time(), info.id),
        )
        await self._db.commit()
        self._wakeups.delivery.set()

    async def stale_cards(self, chat_id: int) -> list[Watch]:
        """Watches of a chat whose card shows an old status."""
        return await self._select("card_stale = 1 AND home_ready = 1 AND chat_id = ?", (chat_id,))

    async def card_edited(self, order_id: str) -> None:
        """The card shows the latest order detail."""
        await self._db.execute("UPDATE orders SET card_stale = 0 WHERE order_id = ?", (order_id,))
        await self._db.commit()

    async def retire_finished(self, grace: float) -> list[str]:
        """Stop watching orders finished ``grace`` seconds ago whose messages are all delivered; their topics close."""
        async with self._db.execute(
            """UPDATE orders SET active = 0, close_topic = (thread_id IS NOT NULL)
               WHERE active = 1 AND finished_at < ?
                 AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.order_id = orders.order_id AND m.state IN (?, ?))
               RETURNING order_id""",
            (time.time() - grace, State.PENDING, State.REFRESH),
        ) as cursor:
            retired = [str(row[0]) for row in await cursor.fetchall()]
        await self._db.commit()
        if retired:
            self._wakeups.delivery.set()
            self._wakeups.poller.set()
        return retired

    async def topics_to_close(self, chat_id: int) -> list[Watch]:
        """Retired orders of a chat whose topic is still open."""
        return await self._select("close_topic = 1 AND chat_id = ?", (chat_id,), active=False)

    async def topic_closed(self, order_id: str) -> None:
        """The order's topic is closed (or could not be): nothing more to do for it."""
        await self._db.execute("UPDATE orders SET close_topic = 0 WHERE order_id = ?", (order_id,))
        await self._db.commit()

    async def _select(self, where: str, params: tuple[object, ...], *, active: bool = True) -> list[Watch]:
        query = f"SELECT * FROM orders WHERE active = ? AND {where} ORDER BY watched_at"
        async with self._db.execute(query, (int(active), *params)) as cursor:
            return [watch_from_row(row) for row in await cursor.fetchall()]

    async def set_home(self, order_id: str, thread_id: int | None, card_message_id: int | None) -> None:
        """The order's Telegram home is ready: its topic (if any) and its card."""
        await self._db.execute(
            "UPDATE orders SET thread_id = ?, card_message_id = ?, home_ready = 1 WHERE order_id = ?",
            (thread_id, card_message_id, order_id),
        )
        await self._db.commit()

    async def reset_home(self, order_id: str) -> None:
        """The order's topic is gone: build a new home before its next message."""
        await self._db.execute(
            "UPDATE orders SET thread_id = NULL, card_message_id = NULL, home_ready = 0 WHERE order_id = ?",
            (order_id,),
        )
        await self._db.commit()
        self._wakeups.delivery.set()

    async def homeless(self, chat_id: int) -> list[Watch]:
        """Active watches of a chat whose topic and card are still to be made."""
        async with self._db.execute(
            "SELECT * FROM orders WHERE active = 1 AND home_ready = 0 AND chat_id = ? ORDER BY watched_at",
            (chat_id,),
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
