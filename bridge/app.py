"""Wiring and lifecycle: open the store, start the client, run poller, delivery and the bot, stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AsyncExitStack

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramNetworkError, TelegramServerError, TelegramUnauthorizedError
from aiogram.types import User

from bridge.bybit import URGENT_READS, ApiName, BybitClient, ChatSource, MediaFetcher, log_budget
from bridge.config import Settings
from bridge.core import (
    AutoWatch,
    DetailReads,
    Listing,
    Poller,
    ReplySender,
    Retention,
    Schedule,
    StatusTracker,
    Watchlist,
)
from bridge.errors import ConfigError
from bridge.locks import one_bridge
from bridge.logs import register_secrets
from bridge.metrics import Observed, serve_metrics
from bridge.store import Store
from bridge.tasks import Supervisor, wait_event
from bridge.telegram.bot import create_bot
from bridge.telegram.incoming import HELP_TEXT, Dependencies, Health, ReplyPolicy, create_dispatcher, publish_commands
from bridge.telegram.outgoing import (
    CallCounter,
    CallStats,
    Delivery,
    Feedback,
    Homes,
    Pacer,
    PacingMiddleware,
    TelegramCaller,
    TelegramSender,
)

log = logging.getLogger(__name__)

CHAT_API_KEY = "chat_api"  # store key remembering which chat API Bybit left us
SESSION_KEY = "session:"  # store keys remembering each counterparty's chat session id
SHUTDOWN_GRACE = 10.0  # seconds a post in flight may take to finish on shutdown
STARTUP_RETRY = 5.0  # seconds between start-up attempts while Telegram is unreachable
LONG_POLL_SECONDS = 30  # getUpdates waits this long for an update (each empty answer costs a parse of the reply)


async def serve_team(dispatcher: Dispatcher, bot: Bot) -> None:
    """Answer the team's commands (long polling) until cancelled."""
    URGENT_READS.set(True)  # a teammate waits for each answer: the Bybit reads it needs go first
    await dispatcher.start_polling(
        bot,
        handle_signals=False,
        close_bot_session=False,
        polling_timeout=LONG_POLL_SECONDS,
        allowed_updates=dispatcher.resolve_used_update_types(),
    )


async def run_bridge(settings: Settings, stop: asyncio.Event) -> None:
    """Run until ``stop`` is set; raises ConfigError if Telegram refuses the token, AlreadyRunning if another
    bridge holds the database or the bot."""
    settings.require_credentials()
    register_secrets(settings.secrets)
    assert settings.telegram_bot_token and settings.bybit_api_key and settings.bybit_api_secret
    assert settings.telegram_chat_id is not None
    async with AsyncExitStack() as stack:
        token = settings.telegram_bot_token.get_secret_value()
        stack.enter_context(one_bridge(settings.bridge_db_path, settings.telegram_api_url, token))
        store = await Store.open(settings.bridge_db_path)
        stack.push_async_callback(store.close)
        client = BybitClient(
            api_key=settings.bybit_api_key.get_secret_value(),
            api_secret=settings.bybit_api_secret.get_secret_value(),
            base_url=settings.bybit_url,
            recv_window=settings.bybit_recv_window,
            timeout=settings.bybit_timeout,
            requests_per_second=settings.bybit_requests_per_second,
        )
        stack.push_async_callback(client.aclose)
        media = MediaFetcher(settings.media_hosts)
        stack.push_async_callback(media.aclose)
        bot = create_bot(token, settings.telegram_api_url, settings.telegram_timeout)
        stack.push_async_callback(bot.session.close)
        me = await _introduce(bot, stop)
        if me is None:
            return

        source = await _chat_source(store, client, settings)
        listing = Listing(fresh=settings.poll_interval_max)
        watchlist = Watchlist(store, client, listing)
        poller = Poller(
            store,
            source,
            client,
            schedule=Schedule(
                floor=settings.poll_interval,
                ceiling=settings.poll_interval_max,
                reads_per_second=settings.bybit_requests_per_second,
            ),
            backfill_limit=settings.backfill_limit,
            statuses=StatusTracker(store, client, grace=settings.unwatch_grace),
            autowatch=AutoWatch(store, watchlist, settings.telegram_chat_id) if settings.auto_watch else None,
            listing=listing,
        )
        watchlist.hinted_waiting = poller.hinted_waiting
        pacer = Pacer(
            group_per_minute=settings.telegram_group_messages_per_minute,
            chat_per_second=settings.telegram_chat_messages_per_second,
            global_per_second=settings.telegram_global_messages_per_second,
        )
        call = TelegramCaller(CallStats())
        bot.session.middleware(PacingMiddleware(pacer, call.stats))
        bot.session.middleware(CallCounter(call.stats))  # inside the pacing: every attempt counts
        delivery = Delivery(
            store,
            TelegramSender(bot, media),
            call,
            Homes(bot, store, call),
            media_host=settings.bybit_media_url,
            timeout_pause=settings.telegram_timeout,
        )
        dependencies = Dependencies(
            store=store,
            watchlist=watchlist,
            health=Health(poll=poller.stats, telegram=call.stats, bybit=client.stats),
            chat_source=source,
            backfill_limit=settings.backfill_limit,
            bot_username=me.username or "",
            help_text=HELP_TEXT,
            replies=ReplyPolicy(
                settings.replies_enabled,
                frozenset(settings.telegram_reply_user_ids),
                from_anonymous=settings.replies_from_anonymous,
            ),
        )
        dispatcher = create_dispatcher(settings.served_chat_ids, store, dependencies)

        tasks = Supervisor()
        stack.push_async_callback(tasks.stop)
        if settings.metrics_port is not None:
            observed = Observed(store, dependencies["health"], tasks, settings.poll_interval)
            await stack.enter_async_context(serve_metrics(settings.metrics_host, settings.metrics_port, observed))
        for name, job in (
            ("poller", poller.run),
            ("order details", DetailReads(store, client, poller.reads_waiting).run),
            ("delivery", delivery.run),
            ("replies", ReplySender(store, source, client).run),
            ("feedback", Feedback(bot, store, call).run),
            ("budget log", lambda: log_budget(client.stats)),
        ):
            tasks.spawn(name, job)
        if settings.retention_days:
            tasks.spawn("retention", Retention(store, settings.retention_days).run)
        tasks.spawn("telegram", lambda: serve_team(dispatcher, bot))
        log.info(
            "bridge running as @%s: chat API %s, serving chats %s, %d watched order(s)",
            me.username,
            source.current,
            sorted(settings.served_chat_ids),
            len(await store.orders.active()),
        )
        await stop.wait()
        log.info("stopping: finishing the post in flight")
        tasks.hold()
        with contextlib.suppress(RuntimeError):  # raised when polling is not running
            await dispatcher.stop_polling()
        await delivery.stop(SHUTDOWN_GRACE)
    log.info("stopped")


async def _chat_source(store: Store, client: BybitClient, settings: Settings) -> ChatSource:
    """The chat reader, with which API Bybit left us and the session ids it gave, as remembered."""

    async def remember_api(name: ApiName) -> None:
        await store.values.set(CHAT_API_KEY, name)

    async def remember_session(user_mask_id: str, session_id: str) -> None:
        await store.values.set(SESSION_KEY + user_mask_id, session_id)

    return ChatSource(
        client,
        mode=settings.bybit_chat_api,
        current="session" if await store.values.get(CHAT_API_KEY) == "session" else "order",
        on_switch=remember_api,
        sessions=await store.values.with_prefix(SESSION_KEY),
        on_session=remember_session,
    )


async def _introduce(bot: Bot, stop: asyncio.Event) -> User | None:
    """getMe, webhook off, command menu; retried while Telegram is unreachable. None if stopped first."""
    while not stop.is_set():
        try:
            me = await bot.get_me()
            await bot.delete_webhook(drop_pending_updates=False)
            await publish_commands(bot)
        except TelegramUnauthorizedError:
            raise ConfigError("TELEGRAM_BOT_TOKEN was refused by Telegram (401 Unauthorized)") from None
        except (TelegramNetworkError, TelegramServerError) as exc:
            log.warning("Telegram unreachable at start-up (%s); retrying in %.0f s", exc, STARTUP_RETRY)
            await wait_event(stop, STARTUP_RETRY)
            continue
        return me
    return None
