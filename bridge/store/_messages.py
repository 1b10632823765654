"""Every message seen: its order, its delivery state, and the Telegram posts it became."""

from __future__ import annotations

import math
import time
from collections.abc import Collection, Iterable, Mapping, Sequence

import aiosqlite

from bridge.bybit import ChatMessage
from bridge.store._records import (
    ALERT_ID_PREFIX,
    Pending,
    Queue,
    State,
    Table,
    error_text,
    insert_message,
    watch_from_row,
    writes,
)


class Messages(Table):
    """Every message seen: its order, its delivery state, and the Telegram posts it became."""

    async def known_ids(self, msg_ids: Sequence[str]) -> set[str]:
        """Which of ``msg_ids`` have been seen before (in any state, or as a pruned order's newest message)."""
        if not msg_ids:
            return set()
        marks = ",".join("?" * len(msg_ids))
        rows = await self._db.execute_fetchall(  # (one trip to the database's thread, not three: every read asks)
            f"""SELECT msg_id FROM messages WHERE msg_id IN ({marks})
                UNION SELECT last_msg_id FROM pruned WHERE last_msg_id IN ({marks})""",
            (*msg_ids, *msg_ids),
        )
        return {str(row[0]) for row in rows}

    @writes
    async def record(self, entries: Iterable[tuple[str, ChatMessage, State]]) -> int:
        """Record seen messages as (order id, message, state) in one transaction; returns new pending count.

        Messages already held are ignored, so recording twice is harmless. A message written after its order
        stopped being watched is recorded as skipped; one written before (read just after) is delivered.
        """
        entries = list(entries)
        if not entries:
            return 0
        ended = await self._unwatched_at({order_id for order_id, _, _ in entries})
        added = 0
        for order_id, message, wanted in entries:
            late = wanted is State.PENDING and message.created_ms > ended.get(order_id, math.inf)
            state = State.SKIPPED if late else wanted  # written after its order stopped being watched
            if await insert_message(self._db, order_id, message, state) and state is State.PENDING:
                added += 1
        await self._db.commit()
        if added:
            self._wakeups.delivery.set()
        return added

    async def _unwatched_at(self, order_ids: Collection[str]) -> dict[str, float]:
        """When each of these orders no longer watched stopped being watched, in epoch milliseconds."""
        async with self._db.execute(
            f"""SELECT order_id, unwatched_at FROM orders
                WHERE active = 0 AND unwatched_at IS NOT NULL AND order_id IN ({",".join("?" * len(order_ids))})""",
            tuple(order_ids),
        ) as cursor:
            return {str(row[0]): float(row[1]) * 1000 for row in await cursor.fetchall()}

    async def newest_known(self, order_ids: Sequence[str]) -> dict[str, int]:
        """When (epoch ms) the newest message of each order that has any was written (Bybit's, not an alert)."""
        async with self._db.execute(
            f"""SELECT order_id, MAX(created_ms) FROM messages
                WHERE order_id IN ({",".join("?" * len(order_ids))}) AND msg_id NOT LIKE ? GROUP BY order_id""",
            (*order_ids, ALERT_ID_PREFIX + "%"),
        ) as cursor:
            return {str(row[0]): int(row[1]) for row in await cursor.fetchall()}

    @writes
    async def finish_backfill(self, order_ids: Sequence[str], limit: int) -> int:
        """Newly watched orders take over their waiting messages, then count as backfilled; returns how many moved.

        A session chat spans every order with one counterparty; a message about an order nobody
        watched went to a watched sibling (with a note). When that order is watched before the
        message was delivered, the newest ``limit`` such messages move to it.
        """
        moved = 0
        for order_id in order_ids:
            cursor = await self._db.execute(
                """UPDATE messages SET order_id = ? WHERE seq IN (
                       SELECT seq FROM messages WHERE state = ? AND order_id != ?
                          AND json_extract(payload, '$.orderId') = ?
                       ORDER BY created_ms DESC LIMIT ?)""",
                (order_id, State.PENDING, order_id, order_id, limit),
            )
            moved += cursor.rowcount
        marks = ",".join("?" * len(order_ids))
        await self._db.execute(f"UPDATE orders SET backfilled = 1 WHERE order_id IN ({marks})", tuple(order_ids))
        await self._db.commit()
        self._wakeups.details.set()  # (a watch made from the open-order list has its detail read after its history)
        if moved:
            self._wakeups.delivery.set()
        return moved

    async def pending(self, chat_id: int | None = None, limit: int = 100) -> list[Pending]:
        """Undelivered messages whose order's home is ready, in the order seen (per order: oldest first).

        Messages of orders no longer watched are among them: one recorded by a read that was under way as
        its order was retired or unwatched, or sent again by /retry, is delivered all the same.
        """
        query = """SELECT m.seq, m.payload, m.attempts, m.link_refreshed, m.parts_done, o.*
                   FROM messages m JOIN orders o ON o.order_id = m.order_id
                   WHERE m.state = :pending AND o.home_ready = 1
                     AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.order_id = m.order_id AND r.seq <= m.seq
                                     AND (r.state = :refresh OR (r.state = :pending AND r.hold_until > :now)))"""
        params: dict[str, object] = {"pending": State.PENDING, "refresh": State.REFRESH, "now": time.time()}
        if chat_id is not None:
            query += " AND o.chat_id = :chat"
            params["chat"] = chat_id
        async with self._db.execute(query + f" ORDER BY m.seq LIMIT {int(limit)}", params) as cursor:
            rows = await cursor.fetchall()
        return [
            Pending(
                seq=row["seq"],
                message=ChatMessage.model_validate_json(row["payload"]),
                watch=watch_from_row(row),
                attempts=row["attempts"],
                link_refreshed=bool(row["link_refreshed"]),
                parts_done=row["parts_done"],
            )
            for row in rows
        ]

    async def awaiting_refresh(self, order_ids: Sequence[str]) -> set[str]:
        """Ids of the orders' messages waiting for a fresh media link (held, or a file that follows)."""
        marks = ",".join("?" * len(order_ids))
        async with self._db.execute(
            f"""SELECT msg_id FROM messages WHERE order_id IN ({marks})
                AND (state = ? OR seq IN (SELECT seq FROM follows WHERE refresh = 1))""",
            (*order_ids, State.REFRESH),
        ) as cursor:
            return {str(row[0]) for row in await cursor.fetchall()}

    async def orders_awaiting_refresh(self) -> set[str]:
        """Orders with a message waiting for a fresh media link (held, or a file that follows)."""
        async with self._db.execute(
            """SELECT DISTINCT order_id FROM messages
               WHERE state = ? OR seq IN (SELECT seq FROM follows WHERE refresh = 1)""",
            (State.REFRESH,),
        ) as cursor:
            return {str(row[0]) for row in await cursor.fetchall()}

    @writes
    async def refreshed(self, wanted: Collection[str], links: Mapping[str, str]) -> None:
        """Back to pending (or, a file that follows, due) with the fresh links Bybit gave (a message not found
        keeps its old link)."""
        follows = "seq IN (SELECT seq FROM follows WHERE refresh = 1)"
        for msg_id in wanted:
            await self._db.execute(
                f"""UPDATE messages SET state = CASE state WHEN :refresh THEN :pending ELSE state END,
                       link_refreshed = 1,
                       payload = CASE WHEN :link IS NULL THEN payload ELSE json_set(payload, '$.message', :link) END
                   WHERE msg_id = :msg_id AND (state = :refresh OR {follows})""",
                {"refresh": State.REFRESH, "pending": State.PENDING, "link": links.get(msg_id), "msg_id": msg_id},
            )
            await self._db.execute(
                "UPDATE follows SET refresh = 0, retry_at = 0 WHERE refresh = 1 AND seq = "
                "(SELECT seq FROM messages WHERE msg_id = ?)",
                (msg_id,),
            )
        await self._db.commit()
        self._wakeups.delivery.set()

    @writes
    async def hold(self, seq: int, until: float, reason: str) -> None:
        """Keep a message (and its order's later ones) waiting until ``until``; the first hold starts its clock."""
        await self._db.execute(
            """UPDATE messages SET hold_until = ?, last_error = ?, attempts = attempts + 1,
                   failing_since = COALESCE(failing_since, ?) WHERE seq = ?""",
            (until, error_text(reason), time.time(), seq),
        )
        await self._db.commit()

    async def chats_with_work(self) -> set[int]:
        """Chats with work waiting: pending messages, homes to make, cards to edit, topics to close."""
        async with self._db.execute(
            """SELECT DISTINCT o.chat_id FROM messages m JOIN orders o ON o.order_id = m.order_id
               WHERE m.state = ?
               UNION SELECT chat_id FROM orders
               WHERE (active = 1 AND (home_ready = 0 OR card_stale > 0)) OR close_topic = 1""",
            (State.PENDING,),
        ) as cursor:
            return {int(row[0]) for row in await cursor.fetchall()}

    async def queue(self) -> Queue:
        """How many messages wait (of orders no longer watched, too), are held, were dead-lettered, delivered, seen."""
        async with self._db.execute(
            """SELECT
                 SUM(state = :pending AND COALESCE(hold_until, 0) <= :now),
                 SUM(state = :refresh OR (state = :pending AND hold_until > :now)),
                 SUM(state IN (:dead, :failed)),
                 SUM(state = :delivered),
                 COUNT(*),
                 SUM(state IN (:pending, :refresh) AND order_id IN (SELECT order_id FROM orders WHERE active = 0))
               FROM messages""",
            {
                "pending": State.PENDING,
                "refresh": State.REFRESH,
                "dead": State.DEAD,
                "failed": State.FAILED,
                "delivered": State.DELIVERED,
                "now": time.time(),
            },
        ) as cursor:
            row = await cursor.fetchone()
        pending, held, dead, delivered, seen, unwatched = (int(value or 0) for value in (row or (0,) * 6))
        return Queue(pending=pending, held=held, dead=dead, delivered=delivered, seen=seen, unwatched=unwatched)

    @writes
    async def mark_delivered(self, seqs: Sequence[int], chat_id: int, telegram_ids: Sequence[int]) -> None:
        """Telegram confirmed: mark the messages delivered and remember which posts became of them."""
        await delivered(self._db, seqs, chat_id, telegram_ids)
        await self._db.commit()

    @writes
    async def mark_part(self, seq: int, parts_done: int, chat_id: int, telegram_id: int) -> None:
        """One part of a long message is confirmed: a retry resumes after it."""
        await self._db.execute("UPDATE messages SET parts_done = ? WHERE seq = ?", (parts_done, seq))
        async with self._db.execute("SELECT msg_id, order_id FROM messages WHERE seq = ?", (seq,)) as cursor:
            row = await cursor.fetchone()
        if row is not None:
            await remember_posts(self._db, chat_id, row["order_id"], row["msg_id"], [telegram_id])
        await self._db.commit()

    @writes
    async def note_failure(self, seq: int, error: str) -> int:
        """Count a failed delivery attempt (the message stays pending); returns the attempts so far."""
        await self._db.execute(
            "UPDATE messages SET attempts = attempts + 1, last_error = ? WHERE seq = ?", (error_text(error), seq)
        )
        await self._db.commit()
        async with self._db.execute("SELECT attempts FROM messages WHERE seq = ?", (seq,)) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    @writes
    async def dead_letter(self, seqs: Sequence[int], error: str) -> None:
        """Telegram refused these for good: out of the queue, counted in /status, back with /retry."""
        await self._db.executemany(
            "UPDATE messages SET state = ?, last_error = ?, hold_until = NULL WHERE seq = ?",
            [(State.DEAD, error_text(error), seq) for seq in seqs],
        )
        await self._db.commit()

    @writes
    async def retry_dead(self, chat_id: int) -> int:
        """Put a chat's dead-lettered messages back in the queue; returns how many."""
        cursor = await self._db.execute(
            """UPDATE messages SET state = ?, attempts = 0, hold_until = NULL, failing_since = NULL
               WHERE state IN (?, ?) AND order_id IN (SELECT order_id FROM orders WHERE chat_id = ?)""",
            (State.PENDING, State.DEAD, State.FAILED, chat_id),
        )
        await self._db.commit()
        if cursor.rowcount:
            self._wakeups.delivery.set()
        return cursor.rowcount


async def delivered(db: aiosqlite.Connection, seqs: Sequence[int], chat_id: int, telegram_ids: Sequence[int]) -> None:
    """Mark messages delivered and remember the posts they became, in the caller's transaction."""
    async with db.execute(
        f"SELECT seq, msg_id, order_id FROM messages WHERE seq IN ({','.join('?' * len(seqs))})", tuple(seqs)
    ) as cursor:
        rows = list(await cursor.fetchall())
    await db.executemany(
        "UPDATE messages SET state = ?, delivered_at = ?, last_error = NULL, hold_until = NULL WHERE seq = ?",
        [(State.DELIVERED, time.time(), seq) for seq in seqs],
    )
    # Posts map back to the newest message they carry (what a reply to them answers).
    if rows:
        await remember_posts(db, chat_id, rows[-1]["order_id"], rows[-1]["msg_id"], telegram_ids)


async def remember_posts(
    db: aiosqlite.Connection, chat_id: int, order_id: str, msg_id: str, telegram_ids: Sequence[int]
) -> None:
    """Which order and message each of these Telegram posts carries (what a reply to one answers)."""
    await db.executemany(
        "INSERT OR REPLACE INTO posts (chat_id, message_id, order_id, msg_id) VALUES (?, ?, ?, ?)",
        [(chat_id, tg_id, order_id, msg_id) for tg_id in telegram_ids],
    )
