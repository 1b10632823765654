"""Per-chat delivery state: held (paused) chats, and groups that became supergroups."""

from __future__ import annotations

from bridge.store._records import Table, error_text, writes


class Chats(Table):
    """Per-chat delivery state: held (paused) chats, and groups that became supergroups."""

    @writes
    async def move(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup with a new id: move its watches, posts and files to follow; remember it."""
        await self._db.execute("UPDATE orders SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id))
        await self._db.execute("UPDATE posts SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id))
        await self._db.execute("UPDATE follows SET chat_id = ? WHERE chat_id = ?", (new_chat_id, old_chat_id))
        await self._db.execute(
            """INSERT INTO chats (chat_id, moved_from) VALUES (?, ?)
               ON CONFLICT(chat_id) DO UPDATE SET moved_from = excluded.moved_from""",
            (new_chat_id, old_chat_id),
        )
        await self._db.commit()
        self._wakeups.delivery.set()

    async def moved_from(self, chat_id: int) -> int | None:
        """The chat id this chat had before a migration, if it had one."""
        async with self._db.execute("SELECT moved_from FROM chats WHERE chat_id = ?", (chat_id,)) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row and row[0] is not None else None

    @writes
    async def pause(self, chat_id: int, until: float, reason: str) -> None:
        """Telegram refuses posts to this chat: hold its messages until ``until`` (epoch seconds)."""
        await self._db.execute(
            """INSERT INTO chats (chat_id, paused_until, pause_reason) VALUES (?, ?, ?)
               ON CONFLICT(chat_id) DO UPDATE SET paused_until = excluded.paused_until,
                   pause_reason = excluded.pause_reason""",
            (chat_id, until, error_text(reason, 300)),
        )
        await self._db.commit()

    @writes
    async def resume(self, chat_id: int) -> bool:
        """Lift a pause (the bot is back in the chat); True if there was one."""
        cursor = await self._db.execute(
            "UPDATE chats SET paused_until = NULL, pause_reason = NULL WHERE chat_id = ? AND paused_until IS NOT NULL",
            (chat_id,),
        )
        await self._db.commit()
        if cursor.rowcount:
            self._wakeups.delivery.set()
        return cursor.rowcount > 0

    async def paused(self) -> dict[int, tuple[float, str]]:
        """Paused chats with the time their pause ends and why."""
        async with self._db.execute(
            "SELECT chat_id, paused_until, pause_reason FROM chats WHERE paused_until IS NOT NULL"
        ) as cursor:
            return {int(r[0]): (float(r[1]), str(r[2] or "")) for r in await cursor.fetchall()}
