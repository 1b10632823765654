"""Small values remembered across restarts (e.g. which chat API Bybit left us)."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from bridge.store._records import Table, writes


class Values(Table):
    """Small values remembered across restarts (e.g. which chat API Bybit left us)."""

    async def get(self, key: str) -> str | None:
        """A value remembered across restarts (e.g. which chat API Bybit left us)."""
        async with self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)) as cursor:
            row = await cursor.fetchone()
        return str(row[0]) if row else None

    async def with_prefix(self, prefix: str) -> dict[str, str]:
        """Every remembered value whose key starts with ``prefix``, by the rest of its key."""
        async with self._db.execute(
            "SELECT key, value FROM kv WHERE substr(key, 1, length(?)) = ?", (prefix, prefix)
        ) as cursor:
            return {str(key)[len(prefix) :]: str(value) for key, value in await cursor.fetchall()}

    async def set(self, key: str, value: str) -> None:
        """Remember a value across restarts."""
        await self.set_many({key: value})

    @writes
    async def set_many(self, values: Mapping[str, str]) -> None:
        """Remember several values across restarts, in one transaction."""
        await self._db.executemany("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", values.items())
        await self._db.commit()

    async def forget(self, prefix: str, keep: Collection[str]) -> int:
        """Forget every value under ``prefix`` whose rest of key is not in ``keep``; returns how many went."""
        gone = (await self.with_prefix(prefix)).keys() - set(keep)
        await self._db.executemany("DELETE FROM kv WHERE key = ?", [(prefix + name,) for name in gone])
        await self._db.commit()
        return len(gone)
