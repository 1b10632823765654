"""Files that follow: a media message whose file could not be fetched at once keeps its place by a post."""

from __future__ import annotations

import time

from bridge.bybit import ChatMessage
from bridge.store._messages import delivered
from bridge.store._records import FileToFollow, Table, watch_from_row, writes

_DUE = "(f.refresh = 0 AND f.retry_at <= :now) OR (f.refresh = 1 AND f.since <= :now - :patience)"
"""A file is due when its next try came, or when it waited for a fresh link as long as a file may."""


class Follows(Table):
    """Media messages delivered as a placeholder post whose file is still to be posted as a reply to it."""

    @writes
    async def placed(
        self, seq: int, chat_id: int, placeholder: int, *, retry_at: float, refresh: bool, reason: str
    ) -> None:
        """The placeholder keeps the message's place: it counts as delivered, its file follows from ``retry_at``
        (with ``refresh``, once Bybit gave a fresh link), in one transaction."""
        await delivered(self._db, [seq], chat_id, [placeholder])
        await self._db.execute(
            """INSERT OR REPLACE INTO follows (seq, chat_id, placeholder, since, retry_at, refresh, last_error)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            (seq, chat_id, placeholder, time.time(), retry_at, refresh, reason[:500]),
        )
        await self._db.commit()
        if refresh:
            self._wakeups.poller.set()  # the poller fetches links

    async def due(self, patience: float, limit: int = 20) -> list[FileToFollow]:
        """Files whose next try has come (or whose wait for a fresh link is over), oldest first."""
        async with self._db.execute(
            f"""SELECT o.*, m.payload, m.link_refreshed, f.seq, f.chat_id AS placed_in, f.placeholder, f.since,
                       f.attempts, f.last_error
                FROM follows f
                JOIN messages m ON m.seq = f.seq JOIN orders o ON o.order_id = m.order_id
                WHERE {_DUE} ORDER BY f.seq LIMIT {int(limit)}""",
            {"now": time.time(), "patience": patience},
        ) as cursor:
            rows = await cursor.fetchall()
        return [
            FileToFollow(
                seq=row["seq"],
                message=ChatMessage.model_validate_json(row["payload"]),
                watch=watch_from_row(row),
                chat_id=row["placed_in"],
                placeholder=row["placeholder"],
                since=row["since"],
                attempts=row["attempts"],
                link_refreshed=bool(row["link_refreshed"]),
                last_error=row["last_error"],
            )
            for row in rows
        ]

    async def any_due(self, patience: float) -> bool:
        """Whether a file is due (see :meth:`due`)."""
        query = f"SELECT 1 FROM follows f WHERE {_DUE} LIMIT 1"
        async with self._db.execute(query, {"now": time.time(), "patience": patience}) as cursor:
            return await cursor.fetchone() is not None

    @writes
    async def retry(self, seq: int, retry_at: float, reason: str, *, refresh: bool = False) -> None:
        """The file could not be had this time: try again at ``retry_at`` (or, ``refresh``, with a fresh link)."""
        await self._db.execute(
            "UPDATE follows SET retry_at = ?, attempts = attempts + 1, refresh = ?, last_error = ? WHERE seq = ?",
            (retry_at, refresh, reason[:500], seq),
        )
        await self._db.commit()
        if refresh:
            self._wakeups.poller.set()

    @writes
    async def done(self, seq: int, chat_id: int, posted: int | None) -> None:
        """The file followed as post ``posted`` (replies to it reach the order), or, None, stays a link."""
        if posted is not None:
            await self._db.execute(
                """INSERT OR REPLACE INTO posts (chat_id, message_id, order_id, msg_id)
                    SELECT ?, ?, order_id, msg_id FROM messages WHERE seq = ?""",
                (chat_id, posted, seq),
            )
        await self._db.execute("DELETE FROM follows WHERE seq = ?", (seq,))
        await self._db.commit()

    async def count(self) -> int:
        """Files still to follow (for /status)."""
        async with self._db.execute("SELECT COUNT(*) FROM follows") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0
