"""The schema, as migrations each registered with a description; ``PRAGMA user_version`` says how far a database is."""

from __future__ import annotations

from dataclasses import dataclass

import aiosqlite

from bridge.errors import SchemaTooNew


@dataclass(frozen=True)
class Migration:
    """One step up the schema: what it adds, and the SQL that adds it."""

    description: str
    script: str


# Each entry moves the schema one version up; never edit a released step, append a new one.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "orders, messages, posts (Telegram message → order) and small settings",
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
    ),
    Migration(
        "a Telegram home per order (forum topic and card) and per-chat delivery state",
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
    ),
    Migration(
        "a media link that expired before delivery is fetched anew, once",
        """
    ALTER TABLE messages ADD COLUMN link_refreshed INTEGER NOT NULL DEFAULT 0;
    """,
    ),
    Migration(
        "long texts resume after their last confirmed part; messages held while the media host fails",
        """
    ALTER TABLE messages ADD COLUMN parts_done INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE messages ADD COLUMN hold_until REAL;
    ALTER TABLE messages ADD COLUMN failing_since REAL;
    """,
    ),
    Migration(
        "replies from Telegram: an outbox sent to Bybit exactly once, with feedback to the teammate",
        """
    CREATE TABLE outbox (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id       INTEGER NOT NULL,
        tg_message_id INTEGER NOT NULL,
        order_id      TEXT NOT NULL REFERENCES orders(order_id),
        user_id       INTEGER,
        user_name     TEXT NOT NULL DEFAULT '',
        text          TEXT NOT NULL,
        content_type  TEXT NOT NULL DEFAULT 'str',
        file_name     TEXT NOT NULL DEFAULT '',
        mime_type     TEXT NOT NULL DEFAULT '',
        file_data     BLOB,
        file_url      TEXT,
        msg_uuid      TEXT NOT NULL UNIQUE,
        state         TEXT NOT NULL,
        attempts      INTEGER NOT NULL DEFAULT 0,
        last_error    TEXT,
        created_at    REAL NOT NULL,
        sent_at       REAL,
        bybit_msg_id  TEXT,
        feedback_done INTEGER NOT NULL DEFAULT 0,
        UNIQUE (chat_id, tg_message_id)
    );
    CREATE INDEX outbox_by_state ON outbox(state, id);
    """,
    ),
    Migration(
        "order status: when an order finished, its card to edit, its topic to close after the grace period",
        """
    ALTER TABLE orders ADD COLUMN finished_at REAL;
    ALTER TABLE orders ADD COLUMN card_stale INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE orders ADD COLUMN close_topic INTEGER NOT NULL DEFAULT 0;
    """,
    ),
    Migration(
        "retention: when an order stopped being watched, and the newest message id of each pruned order",
        """
    ALTER TABLE orders ADD COLUMN unwatched_at REAL;
    UPDATE orders SET unwatched_at = CAST(strftime('%s', 'now') AS REAL) WHERE active = 0;
    CREATE TABLE pruned (
        order_id    TEXT PRIMARY KEY,
        last_msg_id TEXT,
        pruned_at   REAL NOT NULL
    );
    CREATE INDEX pruned_by_msg ON pruned(last_msg_id);
    """,
    ),
    Migration(
        "the topic made for an order is kept before its card is posted: a failed card never makes a second topic",
        """
    ALTER TABLE orders ADD COLUMN made_topic INTEGER;
    """,
    ),
    Migration(
        "a reply may go as several Bybit messages (a file, then its caption): the outbox holds one row per part",
        """
    CREATE TABLE outbox_parts (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        chat_id       INTEGER NOT NULL,
        tg_message_id INTEGER NOT NULL,
        part          INTEGER NOT NULL DEFAULT 0,
        order_id      TEXT NOT NULL REFERENCES orders(order_id),
        user_id       INTEGER,
        user_name     TEXT NOT NULL DEFAULT '',
        text          TEXT NOT NULL,
        content_type  TEXT NOT NULL DEFAULT 'str',
        file_name     TEXT NOT NULL DEFAULT '',
        mime_type     TEXT NOT NULL DEFAULT '',
        file_data     BLOB,
        file_url      TEXT,
        msg_uuid      TEXT NOT NULL UNIQUE,
        state         TEXT NOT NULL,
        attempts      INTEGER NOT NULL DEFAULT 0,
        last_error    TEXT,
        created_at    REAL NOT NULL,
        sent_at       REAL,
        bybit_msg_id  TEXT,
        feedback_done INTEGER NOT NULL DEFAULT 0,
        UNIQUE (chat_id, tg_message_id, part)
    );
    INSERT INTO outbox_parts (id, chat_id, tg_message_id, order_id, user_id, user_name, text, content_type,
        file_name, mime_type, file_data, file_url, msg_uuid, state, attempts, last_error, created_at, sent_at,
        bybit_msg_id, feedback_done)
    SELECT id, chat_id, tg_message_id, order_id, user_id, user_name, text, content_type, file_name, mime_type,
        file_data, file_url, msg_uuid, state, attempts, last_error, created_at, sent_at, bybit_msg_id, feedback_done
    FROM outbox;
    DROP TABLE outbox;
    ALTER TABLE outbox_parts RENAME TO outbox;
    CREATE INDEX outbox_by_state ON outbox(state, id);
    """,
    ),
    Migration(
        "files that follow: a file not fetched at once keeps its place by a post, and follows it when it can",
        """
    CREATE TABLE follows (
        seq         INTEGER PRIMARY KEY,
        chat_id     INTEGER NOT NULL,
        placeholder INTEGER NOT NULL,
        since       REAL NOT NULL,
        retry_at    REAL NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        refresh     INTEGER NOT NULL DEFAULT 0,
        last_error  TEXT NOT NULL DEFAULT ''
    );
    """,
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


async def schema_version(db: aiosqlite.Connection) -> int:
    """The schema version recorded in the database (0 when new)."""
    async with db.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def migrate(db: aiosqlite.Connection) -> None:
    """Apply every migration the database lacks, each in its own transaction."""
    version = await schema_version(db)
    if version > SCHEMA_VERSION:
        raise SchemaTooNew(version, SCHEMA_VERSION)
    for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
        await db.executescript(f"BEGIN; {migration.script}; PRAGMA user_version = {number}; COMMIT;")
