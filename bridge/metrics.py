"""The optional HTTP endpoint (``METRICS_PORT``): ``/healthz`` for health checks, ``/metrics`` for Prometheus.

Every figure is read when it is asked for, from the store and the live counters the bridge keeps anyway, so
the hot paths carry no metrics code.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import choose_encoder

from bridge.errors import ConfigError
from bridge.store import Queue, Store
from bridge.tasks import Supervisor
from bridge.telegram.incoming import Health

log = logging.getLogger(__name__)

PREFIX = "p2p_bridge_"
VITAL_TASKS = ("poller", "delivery")
"""The tasks without which nothing is forwarded; /healthz fails while one of them is down."""
STALE_POLLS = 20
"""Poll intervals without one successful Bybit read (while orders are watched) before /healthz fails."""


@dataclass(frozen=True)
class Observed:
    """What the endpoint reads: the store, the live counters, the bridge's tasks and the poll interval."""

    store: Store
    health: Health
    tasks: Supervisor
    poll_interval: float

    async def problem(self) -> str | None:
        """Why the bridge is not forwarding (a vital task down, polling failing for long), or None."""
        for name in VITAL_TASKS:
            if not self.tasks.alive(name):
                return f"{name} is not running"
        if await self.store.orders.active():
            since = time.time() - (self.health.poll.last_success or self.health.started_at)
            if since > STALE_POLLS * self.poll_interval:
                return f"no successful Bybit read for {since:.0f} s"
        return None


class _Figures:
    """A Prometheus collector over one moment's figures: the store's counts and the live counters."""

    def __init__(self, health: Health, queue: Queue, watched: int, files: int) -> None:
        self._health = health
        self._queue = queue
        self._watched = watched
        self._files = files

    def collect(self) -> Iterable[Metric]:
        """Every metric, as prometheus_client's registry asks for them."""
        queue = self._queue
        yield CounterMetricFamily(f"{PREFIX}messages_seen", "Messages read from Bybit and recorded", queue.seen)
        yield CounterMetricFamily(f"{PREFIX}messages_delivered", "Messages Telegram confirmed", queue.delivered)
        yield GaugeMetricFamily(
            f"{PREFIX}messages_held", "Messages waiting for something to heal (Telegram's confirmation)", queue.held
        )
        yield GaugeMetricFamily(
            f"{PREFIX}files_to_follow", "Files a post with the link stands in for until they can be posted", self._files
        )
        yield GaugeMetricFamily(
            f"{PREFIX}messages_dead_lettered", "Messages Telegram refused for good (/retry sends again)", queue.dead
        )
        yield GaugeMetricFamily(f"{PREFIX}queue_depth", "Messages waiting for their turn to be sent", queue.pending)
        yield GaugeMetricFamily(f"{PREFIX}watched_orders", "Orders being forwarded", self._watched)
        bybit = CounterMetricFamily(
            f"{PREFIX}bybit_requests", "Requests to Bybit by endpoint and result", labels=("endpoint", "result")
        )
        for (endpoint, result), count in sorted(self._health.bybit.results.items()):
            bybit.add_metric((endpoint, result), count)
        yield bybit
        telegram = CounterMetricFamily(
            f"{PREFIX}telegram_calls", "Telegram Bot API calls by method and result", labels=("method", "result")
        )
        for (method, result), count in sorted(self._health.telegram.calls.items()):
            telegram.add_metric((method, result), count)
        yield telegram
        lag = self._health.poll.lag
        yield HistogramMetricFamily(
            f"{PREFIX}poll_lag_seconds",
            "Seconds from a chat's read falling due to the read starting",
            buckets=[("+Inf" if math.isinf(bound) else str(bound), count) for bound, count in lag.cumulative()],
            sum_value=lag.total,
        )
        yield CounterMetricFamily(
            f"{PREFIX}poll_hints", "Chat reads brought forward by Bybit's unread counts", self._health.poll.hints
        )
        last_poll = self._health.poll.last_success
        if last_poll is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}last_poll_success_timestamp_seconds", "When a Bybit read last succeeded", last_poll
            )


@asynccontextmanager
async def serve_metrics(host: str, port: int, observed: Observed) -> AsyncIterator[None]:
    """Serve ``/healthz`` and ``/metrics`` on ``host:port`` while the context is open."""

    async def healthz(_: web.Request) -> web.Response:
        problem = await observed.problem()
        return web.Response(text=problem or "ok", status=503 if problem else 200)

    async def metrics(request: web.Request) -> web.Response:
        registry = CollectorRegistry()  # this scrape's figures only; never the process-wide default registry
        store = observed.store
        queue, watched, files = await store.messages.queue(), await store.orders.active(), await store.follows.count()
        registry.register(_Figures(observed.health, queue, len(watched), files))
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encode(registry), headers={"Content-Type": content_type})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            raise ConfigError(f"METRICS_PORT {port} cannot be served on {host}: {exc.strerror}") from None
        log.info("metrics at http://%s:%d/metrics, health at /healthz", host, port)
        yield
    finally:
        await runner.cleanup()
