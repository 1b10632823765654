"""The bridge as a real process (``python -m bridge run``): crashes, signals, logs, configuration errors, demo.

The fakes run in the test process; the bridge runs in a subprocess pointed at them through environment
variables, with its working directory in ``tmp_path`` so no ``.env`` file is read.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time
from pathlib import Path

import pytest

from bridge.sandbox.fake_bybit import FakeBybit
from bridge.sandbox.fake_telegram import FakeTelegram
from tests.processes import Bridge, BridgeProcess, base_env, bridge_env

pytestmark = pytest.mark.timeout(150)  # each test starts real processes; coverage slows their start-up

# In a parallel run two workers take these tests, each its half one after another: a start of the bridge spends
# seconds of CPU importing aiogram, and more at once would starve the other workers' timing-sensitive tests.
FIRST_HALF = pytest.mark.xdist_group("bridge-process-1")
SECOND_HALF = pytest.mark.xdist_group("bridge-process-2")

BOT_TOKEN = "987654321:AAH-very-secret-token-Zq9xW2vK7pL4mN8"
API_KEY = "bybit-key-Hs83kd02LqPz"
API_SECRET = "bybit-secret-Xk29sLq0Vb7nMw4Rt6Yp1Za8"


def expect_once(bridge: Bridge, prefix: str, count: int) -> None:
    """Every message ``<prefix>01`` … arrived, in order, exactly once."""
    assert bridge.lines(prefix) == [f"{prefix}{n:02d}" for n in range(1, count + 1)]


# -- crash and restart -------------------------------------------------------------------------------


@FIRST_HALF
async def test_sigkill_restart_delivers_everything_once(bridge: Bridge) -> None:
    bybit = bridge.bybit
    order = bybit.add_order()
    bybit.post_message(order.id, "k 01")
    bybit.post_message(order.id, "k 02")
    first = await bridge.start()
    await bridge.watch(order)
    for n in range(3, 6):
        bybit.post_message(order.id, f"k {n:02d}")
    await bridge.wait_line("k 05")
    await bridge.telegram.wait_for(lambda: bridge.pending() == 0)  # marked delivered: outside the crash window

    first.signal(signal.SIGKILL)
    assert await first.wait(5) == -signal.SIGKILL
    for n in range(6, 11):  # while the bridge is down
        bybit.post_message(order.id, f"k {n:02d}")

    second = await bridge.start()
    await bridge.wait_line("k 10")
    bybit.post_message(order.id, "k 11")
    await bridge.wait_line("k 11")
    expect_once(bridge, "k ", 11)
    second.signal(signal.SIGTERM)
    assert await second.wait(10) == 0


@SECOND_HALF
@pytest.mark.parametrize("fault", ["429", pytest.param("500", marks=pytest.mark.slow)])
async def test_sigkill_with_posts_pending_delivers_them_after_restart(fault: str, bridge: Bridge) -> None:
    bybit, telegram = bridge.bybit, bridge.telegram
    order = bybit.add_order()
    bybit.post_message(order.id, "p 01")
    first = await bridge.start()
    await bridge.watch(order)
    await bridge.wait_line("p 01")
    await telegram.wait_for(lambda: bridge.pending() == 0)

    if fault == "429":
        telegram.inject_retry_after(times=1, retry_after=30)  # the bridge will wait 30 s before retrying
    else:
        telegram.inject_error(500, "Internal Server Error", times=2)  # retried after 1 s, then 2 s
    bybit.post_message(order.id, "p 02")
    await telegram.wait_for(
        lambda: any("p 02" in str(r.params) for r in telegram.requests if r.method.lower() == "sendmessage")
    )
    first.signal(signal.SIGKILL)
    await first.wait(5)
    assert bridge.pending() == 1  # recorded before it was sent, and still pending at the crash
    assert "p 02" not in bridge.lines("p ")

    bybit.post_message(order.id, "p 03")
    await bridge.start()
    await bridge.wait_line("p 03", timeout=45)
    expect_once(bridge, "p ", 3)
    await telegram.wait_for(lambda: bridge.pending() == 0)


# -- one bridge per database and per bot --------------------------------------------------------------


async def test_a_second_bridge_on_the_same_database_or_bot_refuses_to_start(bridge: Bridge) -> None:
    runtime = bridge.workdir / "run"  # where the bot's lock goes (XDG_RUNTIME_DIR), kept inside the test
    order = bridge.bybit.add_order()
    bridge.bybit.post_message(order.id, "l 01")
    first = await bridge.start(XDG_RUNTIME_DIR=str(runtime))
    await bridge.watch(order)
    await bridge.wait_line("l 01")
    introductions = sum(1 for r in bridge.telegram.requests if r.method.lower() == "getme")

    same_db = await bridge.launch(XDG_RUNTIME_DIR=str(runtime))
    same_bot = await bridge.launch(XDG_RUNTIME_DIR=str(runtime), BRIDGE_DB_PATH=str(bridge.workdir / "other.db"))
    for second, what in ((same_db, "this database"), (same_bot, "the same bot token")):
        assert await second.wait(60) == 2, second.output
        assert f"another p2p-bridge (pid {first.proc and first.proc.pid}) is already running on" in second.stderr
        assert what in second.stderr and "Traceback" not in second.stderr
    assert first.running
    assert sum(1 for r in bridge.telegram.requests if r.method.lower() == "getme") == introductions  # never reached
    locks = [bridge.db_path.with_name("bridge.db.lock"), *runtime.iterdir()]
    assert len(locks) == 2
    for lock in locks:
        assert bridge.telegram.token.split(":")[1] not in lock.name + lock.read_text()

    first.signal(signal.SIGKILL)  # the kernel drops a dead process's locks: a restart after a crash works
    assert await first.wait(5) == -signal.SIGKILL
    bridge.bybit.post_message(order.id, "l 02")
    await bridge.start(XDG_RUNTIME_DIR=str(runtime))
    await bridge.wait_line("l 02")
    expect_once(bridge, "l ", 2)


# -- signals -----------------------------------------------------------------------------------------


@SECOND_HALF
async def test_sigterm_stops_cleanly_with_a_consistent_database(bridge: Bridge) -> None:
    bybit = bridge.bybit
    order = bybit.add_order()
    first = await bridge.start()
    await bridge.watch(order)
    await bridge.telegram.wait_for(lambda: bridge.backfilled(order))  # what follows is new, not history
    for n in range(1, 31):
        bybit.post_message(order.id, f"t {n:02d}")
    await bridge.telegram.wait_for(lambda: bool(bridge.lines("t ")))  # stop in the middle of delivering

    first.signal(signal.SIGTERM)
    started = time.monotonic()
    assert await first.wait(10) == 0, first.output
    assert time.monotonic() - started < 5
    assert bridge.db("PRAGMA integrity_check") == [("ok",)]
    wal = bridge.db_path.with_name(bridge.db_path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0  # the database was closed, not abandoned
    delivered = int(bridge.db("SELECT COUNT(*) FROM messages WHERE state = 'delivered'")[0][0])
    assert delivered == len(bridge.lines("t "))  # what Telegram has is exactly what is marked delivered

    second = await bridge.start()
    await bridge.wait_line("t 30")
    expect_once(bridge, "t ", 30)
    second.signal(signal.SIGINT)  # Ctrl-C stops just as cleanly
    assert await second.wait(10) == 0, second.output


# -- garbage collection ------------------------------------------------------------------------------


@FIRST_HALF
async def test_the_start_up_heap_is_left_out_of_garbage_collection(bridge: Bridge) -> None:
    # Walked by every full collection, aiogram's and pydantic's classes stall the loop for about 150 ms:
    # Bybit reads signed on time then arrive bunched (BENCHMARKS.md: a 251 ms spread, a 10006).
    process = await bridge.start(LOG_LEVEL="DEBUG")
    frozen = re.search(r"start-up: (\d+) objects left out of garbage collection", process.output)
    assert frozen is not None, process.output
    assert int(frozen[1]) > 100_000


# -- secrets -----------------------------------------------------------------------------------------


@FIRST_HALF
async def test_logs_never_show_the_token_the_key_or_the_secret(tmp_path: Path, processes: list[BridgeProcess]) -> None:
    async with (
        FakeBybit(api_key=API_KEY, api_secret=API_SECRET) as bybit,
        FakeTelegram(token=BOT_TOKEN) as telegram,
    ):
        bridge = Bridge(bybit, telegram, tmp_path, processes)
        order = bybit.add_order()
        bybit.post_message(order.id, "x 01")
        first = await bridge.start(LOG_LEVEL="DEBUG", TELEGRAM_TIMEOUT="2")  # a 5xx pauses the chat this long
        await bridge.watch(order)
        await bridge.wait_line("x 01")
        assert "refused" in await bridge.reply_to("/watch 1898976123321229999")
        bybit.inject("auth", times=2)
        bybit.inject("timestamp", times=1)
        telegram.inject_retry_after(times=1, retry_after=1)
        telegram.inject_error(500, "Internal Server Error", times=1)
        bybit.post_message(order.id, "x 02")
        await bridge.wait_line("x 02")
        first.signal(signal.SIGTERM)
        assert await first.wait(10) == 0

        wrong_secret = "bybit-wrong-secret-Pq7Lm2Nx9Kd4"
        second = await bridge.start(LOG_LEVEL="DEBUG", BYBIT_API_SECRET=wrong_secret)  # Bybit refuses every call
        await telegram.wait_for(lambda: sum(1 for r in bybit.requests if r.ret_code == 10004) >= 3)
        second.signal(signal.SIGTERM)
        assert await second.wait(10) == 0

    logs = {p.stderr_path.name: p.output for p in processes}
    assert "10003" in logs[first.stderr_path.name] and "10004" in logs[second.stderr_path.name]
    for name, text in logs.items():
        for secret in (BOT_TOKEN, BOT_TOKEN.split(":")[1], API_KEY, API_SECRET, wrong_secret):
            assert secret not in text, f"{secret[:12]}… appears in {name}"


# -- configuration errors ----------------------------------------------------------------------------


@SECOND_HALF
async def test_configuration_errors_stop_start_up_naming_the_variable(
    bridge: Bridge, processes: list[BridgeProcess]
) -> None:
    refused_token = "123456:ThisTokenIsNotKnown-Kq93Ls"
    no_chat_id = bridge_env(bridge.bybit, bridge.telegram, bridge.db_path)
    del no_chat_id["TELEGRAM_CHAT_ID"]
    cases = {  # name: (environment, variable the message must name, values it must not show)
        "no-chat-id": (no_chat_id, "TELEGRAM_CHAT_ID", [bridge.telegram.token, bridge.bybit.api_secret]),
        "bad-poll-interval": (
            bridge_env(bridge.bybit, bridge.telegram, bridge.db_path, POLL_INTERVAL="every-7-seconds-QX"),
            "POLL_INTERVAL",
            ["every-7-seconds-QX"],
        ),
        "urls-not-http": (
            bridge_env(
                bridge.bybit,
                bridge.telegram,
                bridge.db_path,
                BYBIT_BASE_URL="api.bybit-QX.com",
                BYBIT_MEDIA_URL="file:///media-QX",
                TELEGRAM_API_URL="ftp://telegram-QX",
            ),
            "BYBIT_BASE_URL: Value error, not an http(s) URL",
            ["api.bybit-QX.com", "media-QX", "telegram-QX"],
        ),
        "refused-token": (  # a well-formed token Telegram answers 401 to
            bridge_env(bridge.bybit, bridge.telegram, bridge.db_path, TELEGRAM_BOT_TOKEN=refused_token),
            "TELEGRAM_BOT_TOKEN",
            [refused_token, refused_token.split(":")[1]],
        ),
    }
    started = {name: BridgeProcess(bridge.workdir, env, name) for name, (env, _, _) in cases.items()}
    processes.extend(started.values())
    for process in started.values():  # concurrently: each one spends seconds importing
        await process.start()
    codes = dict(zip(started, await asyncio.gather(*(p.wait(60) for p in started.values())), strict=True))

    for name, (_, variable, hidden) in cases.items():
        stderr, output = started[name].stderr, started[name].output
        assert codes[name] == 2, (name, output)
        assert variable in stderr, (name, stderr)
        assert "Traceback" not in stderr, (name, stderr)
        for value in hidden:
            assert value not in output, (name, output)
    assert "401" in started["refused-token"].stderr
    assert (
        "BYBIT_MEDIA_URL" in started["urls-not-http"].stderr and "TELEGRAM_API_URL" in started["urls-not-http"].stderr
    )
    assert bridge.telegram.sent == []  # nothing was posted anywhere


# -- demo --------------------------------------------------------------------------------------------


@SECOND_HALF
async def test_run_without_credentials_stops_naming_them(tmp_path: Path, processes: list[BridgeProcess]) -> None:
    process = BridgeProcess(tmp_path, base_env(), "no-credentials")
    processes.append(process)
    await process.start()
    assert await process.wait(60) == 2, process.output  # a container started without its env file is not healthy
    assert "TELEGRAM_BOT_TOKEN" in process.stderr and "BYBIT_API_SECRET" in process.stderr
    assert "demo" not in process.output


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_quick_start_with_no_credentials_plays_the_demo(tmp_path: Path, processes: list[BridgeProcess]) -> None:
    process = BridgeProcess(tmp_path, base_env() | {"PYTHONUNBUFFERED": "1"}, "demo", "run", "--or-demo")
    processes.append(process)
    await process.start()
    assert await process.wait(90) == 0, process.output
    assert "demo over" in process.output
