"""What teammates answer from Telegram: written before the first attempt, sent to Bybit once, then acknowledged."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

import aiosqlite

from bridge.bybit import ContentType
from bridge.store._records import Attachment, NewReply, Outgoing, OutState, Table, writes

ECHO_WINDOW_MS = 10 * 60_000  # a sent text seen in the chat this long after it was queued is its echo
ECHO_CLOCK_SLACK_MS = 60_000  # Bybit's clock may run ahead of ours


class Outbox(Table):
    """Teammates' replies on their way to Bybit, and the feedback owed to them."""

    @writes
    async def add(self, reply: NewReply, refusal: str = "") -> bool:
        """Queue a reply, once per Telegram message however often Telegram delivers the update.

        With a ``refusal`` (replies off, sender not allowed) it is recorded as never to be sent, so the
        teammate is told why, once. Returns whether the reply is new.
        """
        state = OutState.DISABLED if refusal else OutState.QUEUED
        file = reply.file
        cursor = await self._db.execute(
            """INSERT OR IGNORE INTO outbox (chat_id, tg_message_id, order_id, user_id, user_name, text, content_type,
                   file_name, mime_type, file_data, msg_uuid, state, last_error, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                reply.chat_id,
                reply.tg_message_id,
                reply.order_id,
                reply.user_id,
                reply.user_name,
                reply.text,
                file.content_type if file else ContentType.TEXT,
                file.file_name if file else "",
                file.mime_type if file else "",
                None if refusal or file is None else file.data,
                str(uuid.uuid4()),
                state,
                refusal or None,
                time.time(),
            ),
        )
        await self._db.commit()
        if cursor.rowcount:
            (self._wakeups.feedback if refusal else self._wakeups.outbox).set()
        return cursor.rowcount > 0

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
        await self._db.execute("UPDATE outbox SET last_error = ? WHERE id = ?", (error[:500], item_id))
        await self._db.commit()

    @writes
    async def settle(self, item_id: int, state: OutState, reason: str = "", bybit_msg_id: str | None = None) -> None:
        """Bybit took it (``SENT``) or refused it (``REFUSED``, with ``reason``); feedback is owed."""
        await self._db.execute(
            """UPDATE outbox SET state = ?, last_error = ?, sent_at = ?, bybit_msg_id = COALESCE(?, bybit_msg_id)
               WHERE id = ?""",
            (state, reason[:500] or None, time.time() if state is OutState.SENT else None, bybit_msg_id, item_id),
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
                         OR (CASE WHEN file_url IS NULL THEN text
                                  WHEN instr(file_url, '?') = 0 THEN file_url
                                  ELSE substr(file_url, 1, instr(file_url, '?') - 1) END = ?
                             AND created_at * 1000 BETWEEN ? AND ?))))
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

    async def feedback_owed(self, limit: int = 20) -> list[Outgoing]:
        """Settled replies whose teammate has not been told yet."""
        return await self._select(
            "state IN (?, ?, ?) AND feedback_done = 0 ORDER BY id LIMIT ?",
            (OutState.SENT, OutState.REFUSED, OutState.DISABLED, limit),
        )

    @writes
    async def feedback_given(self, item_id: int) -> None:
        """The teammate was told."""
        await self._db.execute("UPDATE outbox SET feedback_done = 1 WHERE id = ?", (item_id,))
        await self._db.commit()

    async def counts(self) -> dict[OutState, int]:
        """Replies by state (for /status)."""
        async with self._db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state") as cursor:
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
