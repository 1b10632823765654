"""The single source of truth (aiosqlite, WAL), one table class per concern."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Self

import aiosqlite

from bridge.store._chats import Chats
from bridge.store._follows import Follows
from bridge.store._messages import Messages
from bridge.store._orders import Orders
from bridge.store._outbox import Outbox
from bridge.store._records import Wakeups
from bridge.store._schema import migrate, schema_version
from bridge.store._values import Values


class Store:
    """Async access to the bridge database. Open with :meth:`open`, close with :meth:`close`.

    ``orders``, ``messages``, ``follows``, ``chats``, ``outbox`` and ``values`` hold the queries of one concern
    each; ``wakeups`` wake the delivery and the poller when there is work for them.
    """

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self.wakeups = Wakeups()
        self.orders = Orders(db, self.wakeups)
        self.messages = Messages(db, self.wakeups)
        self.chats = Chats(db, self.wakeups)
        self.values = Values(db, self.wakeups)
        self.outbox = Outbox(db, self.wakeups)
        self.follows = Follows(db, self.wakeups)

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
        try:
            await migrate(db)
        except BaseException:
            await db.close()
            raise
        return cls(db)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection (the WAL is checkpointed by SQLite)."""
        await self._db.close()

    async def schema_version(self) -> int:
        """The schema version recorded in the database."""
        return await schema_version(self._db)
