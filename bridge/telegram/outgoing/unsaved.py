"""Records of what Telegram took, kept in memory while the store refuses to write them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

Write = Callable[[], Awaitable[None]]
"""One store write, ready to be made (again)."""


class Unsaved:
    """Per lane (a chat, or a file that follows), the store writes recording posts Telegram took that the
    store has not taken yet.

    A post is never sent again because its record failed (disk full, database locked): the write is
    kept, with the Telegram ids in it, and made again before anything else of that lane is posted.
    Only a process stopped while the store still refuses leaves such a post to be sent once more.
    """

    def __init__(self) -> None:
        self._writes: dict[int, list[Write]] = {}

    async def record(self, lane: int, write: Write) -> None:
        """Make ``write`` after the lane's earlier ones; raises the store's error while it refuses."""
        self._writes.setdefault(lane, []).append(write)
        await self.flush(lane)

    async def flush(self, lane: int) -> None:
        """Make the lane's kept writes, oldest first; raises the store's error while it refuses."""
        writes = self._writes.get(lane, [])
        while writes:
            await writes[0]()
            writes.pop(0)
        self._writes.pop(lane, None)

    def kept(self) -> int:
        """How many writes wait for the store."""
        return sum(len(writes) for writes in self._writes.values())

    def lanes(self) -> list[int]:
        """Lanes with writes waiting for the store."""
        return list(self._writes)
