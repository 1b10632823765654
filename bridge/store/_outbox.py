"""What teammates answer from Telegram: written before the first attempt, sent to Bybit once, then acknowledged."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

import aiosqlite

from bridge.bybit import ContentType
from bridge.store._records import Attachment, NewReply, Outgoing, OutState, Table, error_text, writes

ECHO_WINDOW_MS = 10 * 60_000  # a sent text seen in the chat this long after it was queued is its echo
ECHO_CLOCK_SLACK_MS = 60_000  # Bybit's clock may run ahead of ours
SENT_LOOKBACK = 4 * 60.0  # seconds before a reply was queued from which an earlier one's message may be found with it
_REPLY_KEY = """CASE WHEN file_url IS NULL THEN text
              WHEN instr(file_url, '?') = 0 THEN file_url
              ELSE substr(file_url, 1, instr(file_url, '?') - 1) END"""
"""A reply as Bybit's chat lists it: its text, or its file's path without the signed query."""


class Outbox(Table):
    """Teammates' replies on their way to Bybit, and the feedback owed to them."""

    @writes
    async def add(self, reply: NewReply, refusal: str = "") -> bool:
        """Queue a reply, once per Telegram message however often Telegram delivers the update.

        A file with a caption goes as two parts, the file and then the caption as a text. With a
        ``refusal`` (replies off, sender not allowed) it is recorded as never to be sent, so the teammate
        is told why, once. Returns whether the reply is new.
        """
        state = OutState.DISABLED if refusal else OutState.QUEUED
        file = reply.file
        parts = [(file, "" if file else reply.text)]
        if file and reply.text and not refusal:
            parts.append((None, reply.text))
        added = 0
        for number, (attachment, text) in enumerate(parts):
            cursor = await self._db.execute(
                """INSERT OR IGNORE INTO outbox (chat_id, tg_message_id, part, order_id, user_id, user_name, text,
                       content_type, file_name, mime_type, file_data, msg_uuid, state, last_error, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    reply.chat_id,
                    reply.tg_message_id,
                    number,
                    reply.order_id,
                    reply.user_id,
                    reply.user_name,
                    text,
                    attachment.content_type if attachment else ContentType.TEXT,
                    attachment.file_name if attachment else "",
                    attachment.mime_type if attachment else "",
                    None if refusal or attachment is None else attachment.data,
                    str(uuid.uuid4()),
                    state,
                    error_text(refusal) or None,
                    time.time(),
                ),
            )
            added += cursor.rowcount
        await self._db.commit()
        if added:
            (self._wakeups.feedback if refusal else self._wakeups.outbox).set()
        return added > 0

    async def lead(self, item: Outgoing) -> Outgoing | None:
        """The first part of the reply ``item`` is a later part of (the file a caption follows)."""
        found = await self._select("chat_id = ? AND tg_message_id = ? AND part = 0", (item.chat_id, item.tg_message_id))
        return found[0] if found else None

    async def due(self, limit: int = 20) -> list[Outgoing]:
        """Replies not yet settled with Bybit, oldest first."""
        return await self._select("state IN (?, ?) ORDER BY id LIMIT ?", (OutState.QUEUED, OutState.SENDING, limit))

    @writes
    async def attempting(self, item_id: int) -> None:
        """An attempt starts: from now on a crash leaves it uncertain (sent or not), to be checked before a retry."""
        await self._db.execute(
            "UPDATE outbox SET state = ?, attempts = attempts + 1 WHERE id = ?", (OutState.SENDING, item_id)
        )
        await self._db.commit()

    @writes
    async def uploaded(self, item_id: int, url: str) -> None:
        """The file is on Bybit's side: later attempts send this path instead of uploading again."""
        await self._db.execute("UPDATE outbox SET file_url = ?, file_data = NULL WHERE id = ?", (url, item_id))
        await self._db.commit()

    @writes
    async def failed_for_now(self, item_id: int, error: str) -> None:
        """Bybit could not be reached: keep it uncertain, to be checked and retried."""
        await self._db.execute("UPDATE outbox SET last_error = ? WHERE id = ?", (error_text(error), item_id))
        await self._db.commit()

    @writes
    async def settle(self, item_id: int, state: OutState, reason: str = "", bybit_msg_id: str | None = None) -> None:
        """Bybit took it (``SENT``) or refused it (``REFUSED``, with ``reason``); feedback is owed."""
        await self._db.execute(
            """UPDATE outbox SET state = ?, last_error = ?, sent_at = ?, bybit_msg_id = COALESCE(?, bybit_msg_id)
               WHERE id = ?""",
            (state, error_text(reason) or None, time.time() if state is OutState.SENT else None, bybit_msg_id, item_id),
        )
        await self._db.commit()
        self._wakeups.feedback.set()

    @writes
    async def match_echo(
        self, order_ids: Sequence[str], text: str, msg_uuid: str, created_ms: int, msg_id: str
    ) -> bool:
        """Whether a message seen in Bybit's chat is one the bridge sent (by id if the sender already found it,
        else by ``msgUuid``, else by text and time). A match is linked, so each reply claims one echo only.
        """
        marks = ",".join("?" * len(order_ids))
        query = f"""SELECT id FROM outbox WHERE order_id IN ({marks}) AND state IN (?, ?)
                    AND (bybit_msg_id = ? OR (bybit_msg_id IS NULL AND (msg_uuid = ?
                         OR ({_REPLY_KEY} = ? AND created_at * 1000 BETWEEN ? AND ?))))
                    ORDER BY bybit_msg_id IS NULL, id LIMIT 1"""
        window = (created_ms - ECHO_WINDOW_MS, created_ms + ECHO_CLOCK_SLACK_MS)
        key = text.split("?", 1)[0]  # a file's path is signed anew on every list call
        params = (*order_ids, OutState.SENDING, OutState.SENT, msg_id, msg_uuid, key, *window)
        async with self._db.execute(query, params) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return False
        await self._db.execute("UPDATE outbox SET bybit_msg_id = ? WHERE id = ?", (msg_id, row[0]))
        await self._db.commit()
        return True

    async def which_sent(self, item: Outgoing, counterparty: str, found: Sequence[str]) -> str | None:
        """Which of ``found`` (your messages with the reply's text in the session chat with ``counterparty``,
        oldest first) is the reply itself; None if it never arrived.

        A message another reply is linked to is that reply's. Replies are sent one at a time, in order, so
        the earlier replies with the same text that went without a link hold the oldest of the rest, and
        this one, if it arrived, is the newest: two identical texts never claim one message. Earlier
        replies are counted generously (a reply sent again is better than one lost).
        """
        if not found:
            return None
        marks = ",".join("?" * len(found))
        query = f"SELECT bybit_msg_id FROM outbox WHERE id != ? AND bybit_msg_id IN ({marks})"
        async with self._db.execute(query, (item.id, *found)) as cursor:
            claimed = {row[0] for row in await cursor.fetchall()}
        free = [msg_id for msg_id in found if msg_id not in claimed]
        query = f"""SELECT COUNT(*) FROM outbox WHERE id < ? AND state = ? AND bybit_msg_id IS NULL AND {_REPLY_KEY} = ?
                    AND sent_at >= ? AND order_id IN
                        (SELECT order_id FROM orders WHERE json_extract(info, '$.targetUserMaskId') = ?)"""
        params = (item.id, OutState.SENT, item.key, item.created_at - SENT_LOOKBACK, counterparty)
        async with self._db.execute(query, params) as cursor:
            row = await cursor.fetchone()
        earlier = int(row[0]) if row else 0
        return free[-1] if len(free) > earlier else None

    async def feedback_owed(self, limit: int = 20) -> list[tuple[Outgoing, ...]]:
        """Replies whose every part is settled and whose teammate has not been told yet, each with its parts."""
        owed = """SELECT chat_id, tg_message_id FROM outbox WHERE feedback_done = 0
                   GROUP BY chat_id, tg_message_id HAVING SUM(state IN (?, ?)) = 0 ORDER BY MIN(id) LIMIT ?"""
        rows = await self._select(
            f"(chat_id, tg_message_id) IN ({owed}) ORDER BY id", (OutState.QUEUED, OutState.SENDING, limit)
        )
        replies: dict[tuple[int, int], list[Outgoing]] = {}
        for row in rows:
            replies.setdefault((row.chat_id, row.tg_message_id), []).append(row)
        return [tuple(parts) for parts in replies.values()]

    @writes
    async def feedback_given(self, reply: Outgoing) -> None:
        """The teammate was told what became of the reply (all its parts)."""
        await self._db.execute(
            "UPDATE outbox SET feedback_done = 1 WHERE chat_id = ? AND tg_message_id = ?",
            (reply.chat_id, reply.tg_message_id),
        )
        await self._db.commit()

    async def counts(self) -> dict[OutState, int]:
        """Replies by state (for /status): a reply of several parts is where its first unsent part is."""
        query = """SELECT COALESCE((SELECT p.state FROM outbox p
                                    WHERE p.chat_id = o.chat_id AND p.tg_message_id = o.tg_message_id AND p.state != ?
                                    ORDER BY p.part LIMIT 1), ?), COUNT(*)
                   FROM outbox o WHERE o.part = 0 GROUP BY 1"""
        async with self._db.execute(query, (OutState.SENT, OutState.SENT)) as cursor:
            found = {OutState(row[0]): int(row[1]) for row in await cursor.fetchall()}
        return {state: found.get(state, 0) for state in OutState}

    async def _select(self, where: str, params: tuple[object, ...]) -> list[Outgoing]:
        async with self._db.execute(f"SELECT * FROM outbox WHERE {where}", params) as cursor:
            return [_outgoing(row) for row in await cursor.fetchall()]


def _attachment(row: aiosqlite.Row) -> Attachment | None:
    if row["content_type"] == ContentType.TEXT:
        return None
    return Attachment(row["file_data"] or b"", row["file_name"], row["mime_type"], ContentType(row["content_type"]))


def _outgoing(row: aiosqlite.Row) -> Outgoing:
    return Outgoing(
        id=row["id"],
        chat_id=row["chat_id"],
        tg_message_id=row["tg_message_id"],
        part=row["part"],
        order_id=row["order_id"],
        user_id=row["user_id"],
        user_name=row["user_name"],
        text=row["text"],
        file=_attachment(row),
        file_url=row["file_url"],
        msg_uuid=row["msg_uuid"],
        state=OutState(row["state"]),
        attempts=row["attempts"],
        last_error=row["last_error"] or "",
        created_at=row["created_at"],
        bybit_msg_id=row["bybit_msg_id"],
    )
