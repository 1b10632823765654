"""The scale section of BENCHMARKS.md: a table per size, with targets, the baseline beside the bridge."""

from __future__ import annotations

import math

from bench.scale import (
    BINDING_SHARE,
    NO_COUNTS,
    ORDER_API,
    READ_IN_APP,
    READS_PER_SECOND,
    TELEGRAM_GROUP_LIMIT,
    Params,
    ScaleResult,
    percentile,
)
from bridge.bybit import BUDGET_MARGIN

DETECTION_TARGETS = {200: 3.0, 1000: 10.0}
"""p95 detection latency on talking orders (seconds) by watched orders."""
FIRST_MESSAGE_TARGET = (1000, 30.0)
"""p95 detection of the first message on a quiet order (seconds) at this many watched orders."""
RATIO_TARGET = 5.0
RSS_TARGET_MB = 40.0
IDLE_CPU_TARGET = (1000, 2.0)
"""Idle CPU (% of a core) with this many quiet orders."""
NO_HINT_TARGETS = {200: (10.0, 5.0), 1000: (30.0, 3.0)}
"""Without Bybit's hints: (p95 detection in seconds, baseline p95 ÷ bridge p95 at least) by watched orders."""
HINT_PHASES = {
    "raised": "session chat API, unread counts served",
    ORDER_API: "order chat API, unread counts served",
    NO_COUNTS: "session chat API, no unread counts served",
    READ_IN_APP: "session chat API, each message read in the Bybit app at once (counts stay 0)",
}
"""The phases of the hint table, with Telegram pacing raised (the Bybit side alone), as the table names them."""


def seconds(samples: list[float], share: float) -> str:
    """A percentile in seconds; "> X s" when it fell among messages that never arrived."""
    value = percentile(samples, share)
    if math.isnan(value):
        return "—"
    if math.isinf(value):
        missing = sum(1 for sample in samples if math.isinf(sample))
        return f"not arrived ({missing} of {len(samples)})"
    return f"{value:.2f} s"


def spread(samples: list[float]) -> str:
    """p50 / p95 / max."""
    return " / ".join(seconds(samples, share) for share in (0.5, 0.95, 1.0))


def mark(met: bool) -> str:
    """The met / not met column."""
    return "met" if met else "**not met**"


def rows(result: ScaleResult) -> list[tuple[str, str, str, str, str]]:
    """(figure, bridge, baseline, target, met) for one size."""
    size, raised, real = result.size, result.phases["raised"], result.phases["real"]
    bridge_p95, baseline_p95 = percentile(raised.detection, 0.95), percentile(raised.baseline, 0.95)
    ratio = baseline_p95 / bridge_p95 if bridge_p95 > 0 else math.inf
    target = DETECTION_TARGETS.get(size.orders)
    out = [
        (
            "detection p50 / p95 / max, talking orders",
            spread(raised.detection),
            spread(raised.baseline),
            f"p95 ≤ {target:g} s" if target else "—",
            mark(bridge_p95 <= target) if target else "",
        ),
        (
            "baseline p95 ÷ bridge p95",
            f"{ratio:.2f}×",
            "1×",
            f"≥ {RATIO_TARGET:g}×" if target else "—",
            mark(ratio >= RATIO_TARGET) if target else "",
        ),
        ("detection p95, talking, second phase", seconds(real.detection, 0.95), seconds(real.baseline, 0.95), "—", ""),
        ("delivery p50 / p95 / max, Telegram pacing raised", spread(raised.delivery), "—", "—", ""),
        ("delivery p50 / p95 / max, Telegram's real limits", spread(real.delivery), "—", "—", ""),
    ]
    first = result.phases.get("first")
    if first is not None:
        at, limit = FIRST_MESSAGE_TARGET
        p95 = percentile(first.detection, 0.95)
        out += [
            (
                f"first message on a quiet order ({first.messages}): detection p50 / p95 / max",
                spread(first.detection),
                spread(first.baseline),
                f"p95 ≤ {limit:g} s" if size.orders >= at else "—",
                mark(p95 <= limit) if size.orders >= at else "",
            ),
            ("first message on a quiet order: delivery p95", seconds(first.delivery, 0.95), "—", "—", ""),
        ]
    limited, baseline_limited = result.rate_limited
    widest = max(("raised", "real"), key=lambda name: result.phases[name].transit_spread)
    out += [
        (
            f"Bybit reads/s answered (budget {READS_PER_SECOND}), raised / real phase",
            f"{raised.reads_per_second:.2f} / {real.reads_per_second:.2f}",
            f"{raised.baseline_reads_per_second:.2f} / {real.baseline_reads_per_second:.2f}",
            f"≤ {READS_PER_SECOND}",
            mark(max(raised.reads_per_second, real.reads_per_second) <= READS_PER_SECOND),
        ),
        (
            "10006 answers (budget exceeded), all measured phases",
            f"{limited} ({', '.join(f'{name} {phase.rate_limited}' for name, phase in result.phases.items())})",
            str(baseline_limited),
            "0",
            mark(limited == 0),
        ),
        (
            "Bybit: spread of (arrival − signing), raised / real phase",
            f"{raised.transit_spread * 1000:.0f} / {real.transit_spread * 1000:.0f} ms (the slowest: {widest}"
            f" phase {result.phases[widest].slowest})",
            "—",
            f"≤ {BUDGET_MARGIN * 1000:.0f} ms (the budget's margin)",
            mark(max(raised.transit_spread, real.transit_spread) <= BUDGET_MARGIN),
        ),
        (
            "Telegram posts in the busiest minute, raised / real limits",
            f"{raised.posts_per_minute} / {real.posts_per_minute}",
            "—",
            f"≤ {TELEGRAM_GROUP_LIMIT} at real limits",
            mark(real.posts_per_minute <= TELEGRAM_GROUP_LIMIT),
        ),
        (
            "CPU seconds per 1,000 messages, raised / real phase",
            f"{raised.cpu_per_1000:.1f} / {real.cpu_per_1000:.1f}",
            "—",
            "—",
            "",
        ),
        (
            "peak RSS (above the idle process)",
            f"{result.peak_rss_mb:.0f} MB (+{result.peak_rss_mb - result.idle_rss_mb:.0f} MB)",
            "—",
            f"≤ +{RSS_TARGET_MB:g} MB",
            mark(result.peak_rss_mb - result.idle_rss_mb <= RSS_TARGET_MB),
        ),
    ]
    if result.idle_cpu_percent is not None:
        at, limit = IDLE_CPU_TARGET
        out.append(
            (
                f"idle CPU, {size.orders:,} quiet orders (second half of {size.quiet_seconds:g} s without a message)",
                f"{result.idle_cpu_percent:.1f} % of a core ({result.idle_reads_per_second:.1f} Bybit reads/s)"
                + (f", with {result.idle_queued} messages still queued for Telegram" if result.idle_queued else ""),
                "—",
                f"≤ {limit:g} %" if size.orders >= at else "—",
                mark(result.idle_cpu_percent <= limit) if size.orders >= at else "",
            )
        )
    return out


def hint_rows(result: ScaleResult) -> list[tuple[str, ...]]:
    """(phase, bridge p50 / p95, baseline p95, ratio, missing, reads/s, 10006, target, met) per hint phase."""
    out: list[tuple[str, ...]] = []
    for name, label in HINT_PHASES.items():
        phase = result.phases.get(name)
        if phase is None:
            continue
        bridge_p95, baseline_p95 = percentile(phase.detection, 0.95), percentile(phase.baseline, 0.95)
        ratio = baseline_p95 / bridge_p95 if bridge_p95 > 0 else math.inf
        missing = sum(1 for sample in phase.detection if math.isinf(sample))
        if name in (NO_COUNTS, READ_IN_APP) and result.size.orders in NO_HINT_TARGETS:
            limit, least = NO_HINT_TARGETS[result.size.orders]
            target, met = f"p95 ≤ {limit:g} s, ≥ {least:g}×", bridge_p95 <= limit and ratio >= least
        elif name not in (NO_COUNTS, READ_IN_APP) and result.size.orders in DETECTION_TARGETS:
            limit = DETECTION_TARGETS[result.size.orders]
            target, met = f"p95 ≤ {limit:g} s", bridge_p95 <= limit
        else:
            target, met = "—", None
        out.append(
            (
                label,
                " / ".join(seconds(phase.detection, share) for share in (0.5, 0.95)),
                seconds(phase.baseline, 0.95),
                f"{ratio:.1f}×",
                str(missing),
                f"{phase.reads_per_second:.1f} / {phase.baseline_reads_per_second:.1f}",
                str(phase.rate_limited),
                target,
                "" if met is None else mark(met and missing == 0 and phase.rate_limited == 0),
            )
        )
    return out


def binding(result: ScaleResult) -> str:
    """Which limit binds: Bybit's budget (detection) and Telegram's group pacing (delivery)."""
    raised, real = result.phases["raised"], result.phases["real"]
    used = max(raised.reads_per_second, real.reads_per_second)
    bybit = (
        f"Bybit's budget binds detection ({used:.1f} of {READS_PER_SECOND} reads/s used)"
        if used >= BINDING_SHARE * READS_PER_SECOND
        else f"Bybit's budget does not bind ({used:.1f} of {READS_PER_SECOND} reads/s used): the scheduler's shares do"
    )
    raised_p95, real_p95 = percentile(raised.delivery, 0.95), percentile(real.delivery, 0.95)
    if real.posts_per_minute >= BINDING_SHARE * TELEGRAM_GROUP_LIMIT and real_p95 > raised_p95:
        telegram = (
            f"Telegram's {TELEGRAM_GROUP_LIMIT} posts/min per group binds delivery ({real.posts_per_minute} posts"
            " in the busiest minute; delivery p95 "
            f"{seconds(real.delivery, 0.95)} at real limits against {seconds(raised.delivery, 0.95)} raised)"
        )
    else:
        telegram = (
            f"Telegram's group pacing does not bind ({real.posts_per_minute} posts in the busiest minute"
            f" of {TELEGRAM_GROUP_LIMIT})"
        )
    return f"{bybit}; {telegram}."


def render(results: list[ScaleResult], params: Params) -> str:
    """The scale section of BENCHMARKS.md: one table per size with targets, and which limit binds."""
    parts = [
        "## Scale: watched orders, a share talking, Bybit at a realistic delay with its budget enforced\n",
        f"The real bridge as a subprocess (`python -m bridge run`, session chat API, `AUTO_WATCH=true`,"
        f" `POLL_INTERVAL={params.poll_interval:g}`, `POLL_INTERVAL_MAX={params.poll_interval_max:g}`) against a"
        f" fake Bybit answering every call after {params.delay * 1000:.0f} ms and refusing (10006) past"
        f" {READS_PER_SECOND} reads a second. Talking orders write at random (Poisson, one message per"
        f" {params.mean_gap:g} s on average each) for {params.talk_seconds:g} s per phase: first with Telegram"
        " pacing raised on a fake that allows it (the Bybit side alone), with Bybit's unread counts served, then"
        " left out of every answer, then never moving (each message read in the Bybit app at once), then with"
        " the bridge restarted on the order chat API; then with the bridge restarted at its default pacing"
        " against a fake enforcing Telegram's limits (the second phase). The fixed-interval"
        " baseline (`bench/baseline.py`: every watched session read in turn through the project's"
        " `BybitClient`, rounds every watched ÷ 10 s) runs at the same time against a twin fake (its own account)"
        " given the same messages at the same moments. Detection: message created on Bybit → in the store;"
        " delivery: → the fake Telegram received the post. Messages still missing"
        f" {params.drain_timeout:g} s after a phase's last one count as not arrived. CPU per 1,000 messages: all"
        " the bridge's CPU during a phase (polling included) over its messages. Idle process: the bridge"
        " with nothing to watch. The warm-up (every order watched, its history delivered; not measured) runs"
        " without the delay and the budget.\n",
    ]
    for result in results:
        size = result.size
        parts.append(
            f"### {size.orders:,} watched, {size.talking} talking"
            f" ({result.phases['raised'].messages} + {result.phases['real'].messages} messages;"
            f" baseline round every {result.baseline_interval:g} s; idle process {result.idle_rss_mb:.0f} MB)\n"
        )
        table = ["| figure | bridge | fixed-interval baseline | target | |", "|---|---|---|---|---|"]
        table += [f"| {' | '.join(row)} |" for row in rows(result)]
        parts.append("\n".join(table) + "\n")
        hints = [
            "| phase (Telegram pacing raised) | detection p50 / p95 | baseline p95 | baseline ÷ bridge"
            " | not arrived | Bybit reads/s, bridge / baseline | 10006 | target | |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        hints += [f"| {' | '.join(row)} |" for row in hint_rows(result)]
        parts.append("With and without Bybit's hints, each phase in one run with the baseline:\n")
        parts.append("\n".join(hints) + "\n")
        parts.append(
            f"Which limit binds: {binding(result)} (The bench process's event loop, which stamps arrivals at the"
            f" fakes, lagged {result.loop_lag * 1000:.0f} ms at worst; in the measured phases "
            + ", ".join(f"{name} {phase.loop_lag * 1000:.0f} ms" for name, phase in result.phases.items())
            + ".)\n"
        )
        for name, phase in result.phases.items():
            parts += [f"- 10006 in the {name} phase: {refusal}." for refusal in phase.refusals]
    return "\n".join(parts)
