"""One bridge per database and per bot: locks held for the process's life, released by the kernel when it ends.

Two bridges on one database (or one bot) would post every message twice. Each takes an exclusive
``flock`` on a file and keeps it open: the kernel drops the lock when the process ends, however it
ends (``kill -9`` too), so a restart after a crash never finds a stale lock. A lock file, not a lock
inside SQLite: SQLite's exclusive locking mode would also shut out every reader (``/healthz`` in a
second process, the benchmarks, an operator's ``sqlite3``), and a transaction held open for the
process's life would stop the WAL from ever being checkpointed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bridge.errors import AlreadyRunning

log = logging.getLogger(__name__)


def database_lock(db_path: Path) -> Path:
    """The lock file beside the database."""
    return db_path.with_name(db_path.name + ".lock")


def bot_lock(api_url: str, token: str) -> Path:
    """The host-wide lock file of one bot on one Telegram server, named by a hash (the token never shows)."""
    digest = hashlib.sha256(f"p2p-bridge\n{api_url.rstrip('/')}\n{token}".encode()).hexdigest()[:32]
    runtime = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(runtime) / f"p2p-bridge-bot-{digest}.lock"


@contextlib.contextmanager
def exclusive(path: Path, what: str) -> Iterator[None]:
    """Hold ``path`` locked while the block runs; raise :class:`AlreadyRunning` naming ``what`` if held.

    The file keeps the holder's process id, for the message the next one gives.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            pid = f" (pid {holder})" if holder.isdigit() else ""
            raise AlreadyRunning(
                f"another p2p-bridge{pid} is already running on {what}; two would post every message twice."
                f" Stop it first (lock: {path})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock; the file stays (removing it would race with the next holder)


@contextlib.contextmanager
def one_bridge(db_path: Path, api_url: str, token: str) -> Iterator[None]:
    """Hold the database's lock and, where the host lets us, the bot's: one bridge per database and per bot."""
    with exclusive(database_lock(db_path), f"this database ({db_path})"), contextlib.ExitStack() as stack:
        try:
            stack.enter_context(exclusive(bot_lock(api_url, token), "this host with the same bot token"))
        except PermissionError as exc:  # a file of another user's: the database lock still holds
            log.warning("could not take the bot's lock (%s); only the database's is held", exc.strerror)
        yield
