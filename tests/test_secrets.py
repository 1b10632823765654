"""Credentials never reach the database or Telegram, even when Bybit quotes them in an error."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from bridge.logs import MASK, mask, register_secrets
from bridge.store import NewReply, OutState, State, Store
from tests.factories import message, order
from tests.harness import TEAM_CHAT, Harness

ORDER_SEND = "/v5/p2p/order/message/send"
KEY = "key-for-the-store-test"


def stored_errors(db_path: Path) -> list[str]:
    """Every error or reason the bridge kept, from all tables that keep one."""
    with contextlib.closing(sqlite3.connect(db_path)) as db:
        rows = db.execute(
            """SELECT last_error FROM outbox UNION ALL SELECT last_error FROM messages
               UNION ALL SELECT pause_reason FROM chats"""
        ).fetchall()
    return [str(row[0]) for row in rows if row[0]]


def test_mask_hides_every_registered_secret_and_ignores_short_ones() -> None:
    register_secrets(["123456:TOKEN-SECRET-PART", "TOKEN-SECRET-PART", "abc"])
    assert mask("bot123456:TOKEN-SECRET-PART/sendMessage") == f"bot{MASK}/sendMessage"
    assert mask("TOKEN-SECRET-PART alone") == f"{MASK} alone"
    assert mask("abc stays") == "abc stays"


async def test_every_store_writer_masks_the_credentials(tmp_path: Path) -> None:
    register_secrets([KEY])
    quoted = f"Bybit error 10004: error sign! origin_string[1700000000000{KEY}5000{{}}]"
    info = order()
    errors: list[str] = []
    async with await Store.open(tmp_path / "bridge.db") as store:
        await store.orders.watch(info, TEAM_CHAT, None, 1)
        await store.orders.set_home(info.id, None, None)
        await store.messages.record([(info.id, message(f"m{n}", id=str(100 + n)), State.PENDING) for n in range(3)])
        seqs = [item.seq for item in await store.messages.pending(TEAM_CHAT)]
        await store.messages.note_failure(seqs[0], quoted)
        await store.messages.hold(seqs[1], 0, quoted)
        await store.messages.dead_letter(seqs[2:], quoted)
        await store.outbox.add(NewReply(TEAM_CHAT, 1, info.id, 7, "Ann", "hi"), refusal=quoted)
        await store.outbox.add(NewReply(TEAM_CHAT, 2, info.id, 7, "Ann", "hi"))
        [due] = await store.outbox.due()
        await store.outbox.failed_for_now(due.id, quoted)
        await store.chats.pause(TEAM_CHAT, 0, quoted)
        errors += stored_errors(tmp_path / "bridge.db")
        await store.outbox.settle(due.id, OutState.REFUSED, quoted)
        errors += stored_errors(tmp_path / "bridge.db")  # the failed reply's error became its refusal
    assert len(errors) == 12 and all(KEY not in error and MASK in error for error in errors), errors


async def test_a_key_bybit_quotes_is_never_stored(harness: Harness) -> None:
    harness.telegram.chats[TEAM_CHAT].is_forum = True
    order = harness.bybit.add_order()
    harness.bybit.post_message(order.id, "b 01 I paid")
    await harness.start()
    assert "Watching" in await harness.reply_to(f"/watch {order.id}")
    await harness.wait_text("b 01 I paid")
    topic = next(s.thread_id for s in harness.telegram.sent_to(TEAM_CHAT) if "b 01" in (s.plain or ""))
    harness.bybit.inject("sign", path=ORDER_SEND)  # 10004 "error sign! origin_string[…<API key>…]"

    asked = harness.say("/send Received, releasing", thread_id=topic)
    await harness.telegram.wait_for(lambda: bool(stored_errors(harness.db_path)))
    [error] = stored_errors(harness.db_path)
    await harness.telegram.wait_for(lambda: harness.telegram.reactions.get((TEAM_CHAT, asked)) == ["👍"])

    assert "error sign!" in error and MASK in error
    assert harness.bybit.api_key not in error
    assert all(harness.bybit.api_key not in (s.text or s.caption or "") for s in harness.telegram.sent)


@pytest.fixture(autouse=True)
def _fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test registers its own secrets (the registry is process-wide)."""
    monkeypatch.setattr("bridge.logs._secrets", set())
