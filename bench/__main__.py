"""Run the benchmarks and write the figures to BENCHMARKS.md (``make bench``, about 25 minutes).

``python -m bench`` runs everything: the delivery benchmarks (:mod:`bench.delivery`), a /watch of 200
(:mod:`bench.backfill`) and the scale runs
(:mod:`bench.scale`) at 10, 200 and 1,000 watched orders, then writes BENCHMARKS.md (machine, date,
parameters; the hand-written section from ``make test-slow`` is kept).

One part, printed and not written (quicker):

    python -m bench delivery                      # latency, burst, flood (about 2 minutes)
    python -m bench backfill                      # a /watch of 200 on each chat API (about 2 minutes)
    python -m bench scale --orders 200            # one size (20 talking by default; about 4 minutes)
    python -m bench scale --orders 10 --orders 200 --talk-seconds 30
    python -m bench scale --orders 1000 --quiet 120 --probes 10   # with the first-message probes

Scale options: ``--talking N`` (talking orders; default 5, 20, 50 for 10, 200, 1,000, else a tenth),
``--quiet SECONDS`` (quiet time before the first-message probes; default 120 at 1,000 orders or more, else
none), ``--talk-seconds``, ``--mean-gap`` (seconds between one talking order's messages), ``--delay``
(Bybit's answer delay), ``--poll-interval``/``--poll-interval-max`` (the bridge's settings), ``--probes``,
``--seed``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench import backfill, delivery, scale, scale_report

OUT = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
SLOW_SECTION = "## At Telegram's real limits"  # written by hand from `make test-slow`; kept across runs
TALKING = {10: 5, 200: 20, 1000: 50}
SIZES = (10, 200, 1000)
QUIET_FROM = 1000  # sizes from this many orders get the quiet phase and the first-message probes by default
QUIET_SECONDS = 120.0


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module's docstring)."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("part", nargs="?", choices=("all", "backfill", "delivery", "scale"), default="all")
    parser.add_argument("--orders", type=int, action="append", help="watched orders (repeatable)")
    parser.add_argument("--talking", type=int)
    parser.add_argument("--quiet", type=float)
    defaults = scale.Params()
    for name in ("talk_seconds", "mean_gap", "delay", "poll_interval", "poll_interval_max", "probe_gap"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=float, default=getattr(defaults, name))
    parser.add_argument("--probes", type=int, default=defaults.probes)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    return parser.parse_args(argv)


def sizes(args: argparse.Namespace) -> list[scale.Size]:
    """The scale runs asked for."""
    result = []
    for orders in args.orders or SIZES:
        talking = args.talking if args.talking is not None else TALKING.get(orders, max(1, orders // 10))
        quiet = args.quiet if args.quiet is not None else (QUIET_SECONDS if orders >= QUIET_FROM else 0.0)
        result.append(scale.Size(orders, min(talking, orders), quiet))
    return result


async def run_scale(args: argparse.Namespace) -> tuple[list[scale.ScaleResult], scale.Params]:
    """Every size asked for, after measuring the idle process once."""
    params = scale.Params(
        delay=args.delay,
        talk_seconds=args.talk_seconds,
        mean_gap=args.mean_gap,
        probes=args.probes,
        probe_gap=args.probe_gap,
        poll_interval=args.poll_interval,
        poll_interval_max=args.poll_interval_max,
        seed=args.seed,
    )
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as tmp:
        idle = await scale.idle_rss_mb(Path(tmp), params)
    results = []
    for size in sizes(args):
        print(f"scale: {size.orders} watched, {size.talking} talking …", flush=True)
        results.append(await scale.run_scale(size, params, idle))
    return results, params


async def main(argv: list[str] | None = None) -> None:
    """Run what the command line asks for; everything also rewrites BENCHMARKS.md."""
    logging.basicConfig(level=logging.WARNING)
    args = parse(argv)
    sections = []
    if args.part in ("all", "backfill"):
        sections.append(backfill.render(await backfill.run_all()))
    if args.part in ("all", "delivery"):
        sections.append(delivery.render(await delivery.run_all()))
    if args.part in ("all", "scale"):
        results, params = await run_scale(args)
        sections.insert(0, scale_report.render(results, params))
    text = "\n".join(sections)
    if args.part == "all":
        write(text)
    print(text)


def write(sections: str) -> None:
    """BENCHMARKS.md: a header (date, machine), ``sections``, then the kept hand-written section."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    previous = OUT.read_text() if OUT.exists() else ""
    kept = previous[previous.index(SLOW_SECTION) :] if SLOW_SECTION in previous else ""
    header = (
        f"# Benchmarks\n\nMade by `make bench` (`python -m bench`) on {when}, {machine}. The real bridge runs"
        " between the sandbox\nfakes on loopback; timings on shared machines vary, so compare figures of one run"
        " with each other.\n\n"
    )
    OUT.write_text(header + sections + (f"\n{kept}" if kept else ""))


if __name__ == "__main__":
    asyncio.run(main())
