"""The single source of truth (aiosqlite, WAL): watched orders, every message seen and its delivery."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Self

import aiosqlite

from bridge.bybit import ChatMessage, OrderInfo

# Each entry moves the schema one version up; never edit a released step, append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE orders (
        order_id    TEXT PRIMARY KEY,
        chat_id     INTEGER NOT NULL,
        thread_id   INTEGER,
        active      INTEGER NOT NULL DEFAULT 1,
        backfilled  INTEGER NOT NULL DEFAULT 0,
        info        TEXT NOT NULL,
        watched_by  INTEGER,
        watched_at  REAL NOT NULL
    );
    CREATE TABLE messages (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        msg_id       TEXT NOT NULL UNIQUE,
        order_id     TEXT NOT NULL REFERENCES orders(order_id),
        created_ms   INTEGER NOT NULL,
        payload      TEXT NOT NULL,
        state        TEXT NOT NULL,
        attempts     INTEGER NOT NULL DEFAULT 0,
        last_error   TEXT,
        seen_at      REAL NOT NULL,
        delivered_at REAL
    );
    CREATE INDEX messages_by_state ON messages(state, order_id, seq);
    CREATE TABLE posts (
        chat_id    INTEGER NOT NULL,
        message_id INTEGER NOT NULL,
        order_id   TEXT NOT NULL,
        msg_id     TEXT,
        PRIMARY KEY (chat_id, message_id)
    );
    CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # v2: a Telegram home per order (forum topic and/or order card), and per-chat delivery state.
    """
    ALTER TABLE orders ADD COLUMN card_message_id INTEGER;
    ALTER TABLE orders ADD COLUMN home_ready INTEGER NOT NULL DEFAULT 0;
    UPDATE orders SET home_ready = 1;
    CREATE TABLE chats (
        chat_id      INTEGER PRIMARY KEY,
        paused_until REAL,
        pause_reason TEXT,
        moved_from   INTEGER UNIQUE
    );
    """,
    # v3: a media link that expired before delivery is fetched anew, once.
    """
    ALTER TABLE messages ADD COLUMN link_refreshed INTEGER NOT NULL DEFAULT 0;
    """,
    # v4: a long text resumes from its first unconfirmed part; a message may be held (media host down).
    """
    ALTER TABLE messages ADD COLUMN parts_done INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN hold_until REAL;
    ALTER TABLE messages ADD COLUMN failing_since REAL;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


class State(StrEnum):
    """Delivery state of a seen message."""

    PENDING = "pending"  # recorded, not yet confirmed by Telegram
    DELIVERED = "delivered"  # Telegram returned its message id
    SKIPPED = "skipped"  # seen but not for forwarding (history before the backfill window, order cards)
    FAILED = "failed"  # refused for good by an older bridge; /retry sends it again like a dead letter
    REFRESH = "refresh"  # its media link expired before delivery; waits (and holds its order) for a fresh one
    DEAD = "dead"  # Telegram refused it for good; counted in /status, sent again by /retry


@dataclass(frozen=True)
class Watch:
    """A watched order: where its messages go, and what Bybit said about it."""

    order_id: str
    chat_id: int
    thread_id: int | None
    active: bool
    backfilled: bool
    info: OrderInfo
    card_message_id: int | None = None
    home_ready: bool = False


@dataclass(frozen=True)
class Queue:
    """Messages by where they are on the way to Telegram."""

    pending: int  # waiting for their turn
    held: int  # waiting for something to heal (a fresh media link, the media host); resume by themselves
    dead: int  # refused by Telegram for good; /retry sends them again
    delivered: int


@dataclass(frozen=True)
class Pending:
    """A message waiting for delivery, with the watch it belongs to."""

    seq: int
    message: ChatMessage
    watch: Watch
    attempts: int
    link_refreshed: bool = False
    parts_done: int = 0
    failing_since: float | None = None


class Store:
    """Async access to the bridge database. Open with :meth:`open`, close with :meth:`close`.

    ``pending_added`` is set whenever new messages await delivery, ``watches_changed`` whenever
    the set of watched orders changes, so loops can wait for work instead of spinning.
    """

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self.pending_added = asyncio.Event()
        self.watches_changed = asyncio.Event()

    @classmethod
    async def open(cls, path: Path | str) -> Store:
        """Open (creating and migrating as needed) the database at ``path``."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path)
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA foreign_keys=ON")
        store = cls(db)
        try:
            await store._migrate()
        except BaseException:
            await db.close()
            raise
        return store

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection (the WAL is checkpointed by SQLite)."""
        await self._db.close()

    async def _migrate(self) -> None:
        async with self._db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"database schema {version} is newer than this bridge ({SCHEMA_VERSION})")
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            await self._db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")

    async def schema_version(self) -> int:
        """The schema version recorded in the database."""
        async with self._db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    # -- watches -----------------------------------------------------------------------------

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
        self.watches_changed.set()
        self.pending_added.set()

    async def unwatch(self, order_id: str) -> bool:
        """Stop forwarding an order; False if it was not watched."""
        cursor = await self._db.execute("UPDATE orders SET active = 0 WHERE order_id = ? AND active = 1", (order_id,))
        await self._db.commit()
        self.watches_changed.set()
        return cursor.rowcount > 0

    async def get_watch(self, order_id: str) -> Watch | None:
        """The order's watch record, active or not."""
        async with self._db.execute("SELECT * FROM orders WHERE order_id = ?", (order_id,)) as cursor:
            row = await cursor.fetchone()
        return _watch(row) if row else None

    async def watches(self, chat_id: int | None = None) -> list[Watch]:
        """Active watches, oldest first, optionally of one chat."""
        query = "SELECT * FROM orders WHERE active = 1"
        params: tuple[int, ...] = ()
        if chat_id is not None:
            query += " AND chat_id = ?"
            params = (chat_id,)
        async with self._db.execute(query + " ORDER BY watched_at", params) as cursor:
            return [_watch(row) for row in await cursor.fetchall()]

    async def update_info(self, info: OrderInfo) -> None:
        """Keep the latest order detail Bybit returned."""
        await self._db.execute(
            "UPDATE orders SET info = ? WHERE order_id = ?", (info.model_dump_json(by_alias=True), info.id)
        )
        await self._db.commit()

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
        self.pending_added.set()

    async def homeless(self, chat_id: int) -> list[Watch]:
        """Active watches of a chat whose topic and card are still to be made."""
        async with self._db.execute(
            "SELECT * FROM orders WHERE active = 1 AND home_ready = 0 AND chat_id = ? ORDER BY watched_at",
            (chat_id,),
        ) as cursor:
            return [_watch(row) for row in await cursor.fetchall()]

    async def order_in_thread(self, chat_id: int, thread_id: int) -> str | None:
        """The active order whose topic is ``thread_id``."""
        async with self._db.execute(
            "SELECT order_id FROM orders WHERE active = 1 AND chat_id = ? AND thread_id = ? AND home_ready = 1",
            (chat_id, thread_id),
        ) as cursor:
            row = await cursor.fetchone()
        return str(row[0]) if row else None

    # -- chats -------------------------------------------------------------------------------

    async def move_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup with a new id: move its watches and posts, and remember the move."""
        await self._db.execute("UPDATE orders SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id))
        await self._db.execute("UPDATE posts SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id))
        await self._db.execute(
            """INSERT INTO chats (chat_id, moved_from) VALUES (?, ?)
               ON CONFLICT(chat_id) DO UPDATE SET moved_from = excluded.moved_from""",
            (new_chat_id, old_chat_id),
        )
        await self._db.commit()
        self.pending_added.set()

    async def moved_from(self, chat_id: int) -> int | None:
        """The chat id this chat had before a migration, if it had one."""
        async with self._db.execute("SELECT moved_from FROM chats WHERE chat_id = ?", (chat_id,)) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row and row[0] is not None else None

    async def pause_chat(self, chat_id: int, until: float, reason: str) -> None:
        """Telegram refuses posts to this chat: hold its messages until ``until`` (epoch seconds)."""
        await self._db.execute(
            """INSERT INTO chats (chat_id, paused_until, pause_reason) VALUES (?, ?, ?)
               ON CONFLICT(chat_id) DO UPDATE SET paused_until = excluded.paused_until,
                   pause_reason = excluded.pause_reason""",
            (chat_id, until, reason[:300]),
        )
        await self._db.commit()

    async def resume_chat(self, chat_id: int) -> bool:
        """Lift a pause (the bot is back in the chat); True if there was one."""
        cursor = await self._db.execute(
            "UPDATE chats SET paused_until = NULL, pause_reason = NULL WHERE chat_id = ? AND paused_until IS NOT NULL",
            (chat_id,),
        )
        await self._db.commit()
        if cursor.rowcount:
            self.pending_added.set()
        return cursor.rowcount > 0

    async def paused_chats(self) -> dict[int, tuple[float, str]]:
        """Paused chats with the time their pause ends and why."""
        async with self._db.execute(
            "SELECT chat_id, paused_until, pause_reason FROM chats WHERE paused_until IS NOT NULL"
        ) as cursor:
            return {int(r[0]): (float(r[1]), str(r[2] or "")) for r in await cursor.fetchall()}

    # -- messages ----------------------------------------------------------------------------

    async def known_ids(self, msg_ids: Sequence[str]) -> set[str]:
        """Which of ``msg_ids`` have been seen before (in any state)."""
        if not msg_ids:
            return set()
        marks = ",".join("?" * len(msg_ids))
        async with self._db.execute(f"SELECT msg_id FROM messages WHERE msg_id IN ({marks})", tuple(msg_ids)) as cursor:
            return {str(row[0]) for row in await cursor.fetchall()}

    async def record(self, entries: Iterable[tuple[str, ChatMessage, State]]) -> int:
        """Record seen messages as (order id, message, state) in one transaction; returns new pending count.

        Messages already held are ignored, so recording twice is harmless.
        """
        now = time.time()
        added = 0
        for order_id, message, state in entries:
            cursor = await self._db.execute(
                """INSERT OR IGNORE INTO messages (msg_id, order_id, created_ms, payload, state, seen_at)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                (message.id, order_id, message.created_ms, message.model_dump_json(by_alias=True), state, now),
            )
            added += cursor.rowcount if state is State.PENDING else 0
        await self._db.commit()
        if added:
            self.pending_added.set()
        return added

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
        if moved:
            self.pending_added.set()
        return moved

    async def pending(self, chat_id: int | None = None, limit: int = 100) -> list[Pending]:
        """Undelivered messages of active watches whose home is ready, in the order seen (per order: oldest first)."""
        query = """SELECT m.seq, m.payload, m.attempts, m.link_refreshed, m.parts_done, m.failing_since, o.*
                   FROM messages m JOIN orders o ON o.order_id = m.order_id
                   WHERE m.state = :pending AND o.active = 1 AND o.home_ready = 1
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
                watch=_watch(row),
                attempts=row["attempts"],
                link_refreshed=bool(row["link_refreshed"]),
                parts_done=row["parts_done"],
                failing_since=row["failing_since"],
            )
            for row in rows
        ]

    async def request_refresh(self, seq: int) -> None:
        """The message's media link expired: hold it (and its order's later messages) for a fresh link."""
        await self._db.execute("UPDATE messages SET state = ? WHERE seq = ?", (State.REFRESH, seq))
        await self._db.commit()
        self.watches_changed.set()  # the poller fetches links

    async def awaiting_refresh(self, order_ids: Sequence[str]) -> set[str]:
        """Ids of the orders' messages waiting for a fresh media link."""
        marks = ",".join("?" * len(order_ids))
        async with self._db.execute(
            f"SELECT msg_id FROM messages WHERE state = ? AND order_id IN ({marks})", (State.REFRESH, *order_ids)
        ) as cursor:
            return {str(row[0]) for row in await cursor.fetchall()}

    async def refreshed(self, wanted: Collection[str], links: Mapping[str, str]) -> None:
        """Back to pending with the fresh links Bybit gave (a message not found keeps its old link)."""
        for msg_id in wanted:
            await self._db.execute(
                """UPDATE messages SET state = ?, link_refreshed = 1,
                       payload = CASE WHEN ? IS NULL THEN payload ELSE json_set(payload, '$.message', ?) END
                   WHERE msg_id = ? AND state = ?""",
                (State.PENDING, links.get(msg_id), links.get(msg_id), msg_id, State.REFRESH),
            )
        await self._db.commit()
        self.pending_added.set()

    async def hold(self, seq: int, until: float, reason: str) -> None:
        """Keep a message (and its order's later ones) waiting until ``until``; the first hold starts its clock."""
        await self._db.execute(
            """UPDATE messages SET hold_until = ?, last_error = ?, attempts = attempts + 1,
                   failing_since = COALESCE(failing_since, ?) WHERE seq = ?""",
            (until, reason[:500], time.time(), seq),
        )
        await self._db.commit()

    async def pending_chats(self) -> set[int]:
        """Chats with work waiting: pending messages, or orders whose home is still to be made."""
        async with self._db.execute(
            """SELECT DISTINCT o.chat_id FROM messages m JOIN orders o ON o.order_id = m.order_id
               WHERE m.state = ? AND o.active = 1
               UNION SELECT chat_id FROM orders WHERE active = 1 AND home_ready = 0""",
            (State.PENDING,),
        ) as cursor:
            return {int(row[0]) for row in await cursor.fetchall()}

    async def queue(self) -> Queue:
        """How many messages wait, are held, were dead-lettered and were delivered."""
        async with self._db.execute(
            """SELECT
                 SUM(state = :pending AND COALESCE(hold_until, 0) <= :now),
                 SUM(state = :refresh OR (state = :pending AND hold_until > :now)),
                 SUM(state IN (:dead, :failed)),
                 SUM(state = :delivered)
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
        pending, held, dead, delivered = (int(value or 0) for value in (row or (0, 0, 0, 0)))
        return Queue(pending=pending, held=held, dead=dead, delivered=delivered)

    async def mark_delivered(self, seqs: Sequence[int], chat_id: int, telegram_ids: Sequence[int]) -> None:
        """Telegram confirmed: mark the messages delivered and remember which posts became of them."""
        now = time.time()
        async with self._db.execute(
            f"SELECT seq, msg_id, order_id FROM messages WHERE seq IN ({','.join('?' * len(seqs))})",
            tuple(seqs),
        ) as cursor:
            rows = list(await cursor.fetchall())
        await self._db.executemany(
            """UPDATE messages SET state = ?, delivered_at = ?, last_error = NULL, hold_until = NULL
               WHERE seq = ?""",
            [(State.DELIVERED, now, seq) for seq in seqs],
        )
        # Posts map back to the newest message they carry (what a reply to them answers).
        if rows:
            await self._remember_posts(chat_id, rows[-1]["order_id"], rows[-1]["msg_id"], telegram_ids)
        await self._db.commit()

    async def mark_part(self, seq: int, parts_done: int, chat_id: int, telegram_id: int) -> None:
        """One part of a long message is confirmed: a retry resumes after it."""
        await self._db.execute("UPDATE messages SET parts_done = ? WHERE seq = ?", (parts_done, seq))
        async with self._db.execute("SELECT msg_id, order_id FROM messages WHERE seq = ?", (seq,)) as cursor:
            row = await cursor.fetchone()
        if row is not None:
            await self._remember_posts(chat_id, row["order_id"], row["msg_id"], [telegram_id])
        await self._db.commit()

    async def _remember_posts(self, chat_id: int, order_id: str, msg_id: str, telegram_ids: Sequence[int]) -> None:
        await self._db.executemany(
            "INSERT OR REPLACE INTO posts (chat_id, message_id, order_id, msg_id) VALUES (?, ?, ?, ?)",
            [(chat_id, tg_id, order_id, msg_id) for tg_id in telegram_ids],
        )

    async def note_failure(self, seq: int, error: str) -> int:
        """Count a failed delivery attempt (the message stays pending); returns the attempts so far."""
        await self._db.execute(
            "UPDATE messages SET attempts = attempts + 1, last_error = ? WHERE seq = ?", (error[:500], seq)
        )
        await self._db.commit()
        async with self._db.execute("SELECT attempts FROM messages WHERE seq = ?", (seq,)) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def dead_letter(self, seqs: Sequence[int], error: str) -> None:
        """Telegram refused these for good: out of the queue, counted in /status, back with /retry."""
        await self._db.executemany(
            "UPDATE messages SET state = ?, last_error = ?, hold_until = NULL WHERE seq = ?",
            [(State.DEAD, error[:500], seq) for seq in seqs],
        )
        await self._db.commit()

    async def retry_dead(self, chat_id: int) -> int:
        """Put a chat's dead-lettered messages back in the queue; returns how many."""
        cursor = await self._db.execute(
            """UPDATE messages SET state = ?, attempts = 0, hold_until = NULL, failing_since = NULL
               WHERE state IN (?, ?) AND order_id IN (SELECT order_id FROM orders WHERE chat_id = ?)""",
            (State.PENDING, State.DEAD, State.FAILED, chat_id),
        )
        await self._db.commit()
        if cursor.rowcount:
            self.pending_added.set()
        return cursor.rowcount

    # -- small settings ----------------------------------------------------------------------

    async def get_value(self, key: str) -> str | None:
        """A value remembered across restarts (e.g. which chat API Bybit left us)."""
        async with self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)) as cursor:
            row = await cursor.fetchone()
        return str(row[0]) if row else None

    async def set_value(self, key: str, value: str) -> None:
        """Remember a value across restarts."""
        await self._db.execute("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, value))
        await self._db.commit()


def _watch(row: aiosqlite.Row) -> Watch:
    return Watch(
        order_id=row["order_id"],
        chat_id=row["chat_id"],
        thread_id=row["thread_id"],
        active=bool(row["active"]),
        backfilled=bool(row["backfilled"]),
        info=OrderInfo.model_validate_json(row["info"]),
        card_message_id=row["card_message_id"],
        home_ready=bool(row["home_ready"]),
    )
