"""The schedule alone, on a hand-turned clock: floor after news, backoff to the ceiling, hints, fairness."""

from __future__ import annotations

import itertools
import random

from bridge.core.schedule import (
    BLIND_MEMORY,
    BLIND_STREAK,
    PERIODIC_SHARE,
    PROBE_AGE,
    PROBE_PERIOD,
    PROBE_WINDOW,
    TALKED_WINDOW,
    Schedule,
)


class Clock:
    """Time that moves only when the test says."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def schedule(clock: Clock, *, floor: float = 1.0, ceiling: float = 8.0, reads_per_second: float = 10.0) -> Schedule:
    return Schedule(floor=floor, ceiling=ceiling, reads_per_second=reads_per_second, clock=clock)


def read_all(plan: Schedule, *, news: bool = False) -> list[str]:
    taken = [due.key for due in plan.take(100)]
    for key in taken:
        plan.done(key, news=news)
    return taken


def test_new_chats_are_due_at_once_and_gone_ones_forgotten() -> None:
    clock = Clock()
    plan = schedule(clock)
    plan.track(["a", "b"])
    assert sorted(read_all(plan)) == ["a", "b"]
    plan.track(["b", "c"])
    assert read_all(plan) == ["c"]
    clock.now += 100
    assert sorted(read_all(plan)) == ["b", "c"]


def test_an_idle_chat_backs_off_step_by_step_to_the_ceiling_and_news_brings_it_back_to_the_floor() -> None:
    clock = Clock()
    plan = schedule(clock, floor=1.0, ceiling=8.0)
    plan.track(["a"])
    gaps: list[float] = []
    last = clock.now
    while clock.now < last + 40 and len(gaps) < 6:
        clock.now += 0.25
        if plan.take(1):
            plan.done("a", news=False)
            gaps.append(clock.now - last)
            last = clock.now
    assert gaps[1:] == [2.0, 4.0, 8.0, 8.0, 8.0]  # the first read is at once, then each idle one doubles
    plan.hint("a")
    assert [due.key for due in plan.take(1)] == ["a"]
    plan.done("a", news=True)
    assert plan.next_due() == 1.0


def test_a_hint_makes_a_chat_due_now_and_goes_before_chats_merely_due() -> None:
    clock = Clock()
    plan = schedule(clock, floor=1.0, ceiling=8.0)
    plan.track(["quiet", "talking"])
    read_all(plan)
    clock.now += 2.5  # both due again (after an idle read each waits two floors)
    plan.hint("talking")
    [first] = plan.take(1)
    assert first.key == "talking" and first.lag == 0.5  # late by how long it has been due (since its interval ran out)
    assert [due.key for due in plan.take(1)] == ["quiet"]


def test_lag_counts_from_the_hint() -> None:
    clock = Clock()
    plan = schedule(clock, floor=1.0, ceiling=8.0)
    plan.track(["a"])
    read_all(plan)
    clock.now += 0.2
    plan.hint("a")
    clock.now += 0.3
    [due] = plan.take(1)
    assert abs(due.lag - 0.3) < 1e-9


def test_hints_never_starve_a_chat_overdue_by_a_whole_ceiling() -> None:
    clock = Clock()
    plan = schedule(clock, floor=1.0, ceiling=8.0)
    plan.track(["quiet", "busy"])
    read_all(plan)
    clock.now += 5
    [busy] = plan.take(1)
    plan.done(busy.key, news=True)
    clock.now += 5.5  # "quiet" fell due 8.5 s ago, more than a ceiling
    plan.hint("busy")
    assert [due.key for due in plan.take(1)] == ["quiet"]  # it fell due first, and counts as urgent now


def test_a_chat_being_read_is_not_handed_out_twice_and_a_failure_retries_after_the_floor_keeping_its_hint() -> None:
    clock = Clock()
    plan = schedule(clock, floor=1.0, ceiling=8.0)
    plan.track(["a"])
    assert [due.key for due in plan.take(5)] == ["a"]
    assert plan.take(5) == [] and plan.next_due() is None
    plan.hint("a")
    plan.failed("a")
    assert plan.next_due() == 1.0  # not at once: a chat that fails fast would spend the budget on itself
    clock.now += 1
    [due] = plan.take(1)
    assert due.hinted and due.lag == 1.0  # still hinted, late by how long it waited since the hint
    plan.done(due.key, news=False)
    assert plan.next_due() == 2.0  # the hint was spent; one step of backoff from the floor


def test_a_hint_that_comes_while_the_chat_is_read_stands_after_the_read() -> None:
    clock = Clock()
    plan = schedule(clock, floor=1.0, ceiling=8.0)
    plan.track(["a"])
    [due] = plan.take(1)
    clock.now += 0.1
    plan.hint("a")  # the news may have come after the read asked Bybit
    plan.done(due.key, news=False)
    assert plan.next_due(hinted_only=True) == 0.0


def test_the_ceiling_stretches_when_the_budget_cannot_read_every_chat_that_often() -> None:
    clock = Clock()
    plan = schedule(clock, ceiling=60.0, reads_per_second=10.0)
    plan.track([f"c{n}" for n in range(int(60.0 * PERIODIC_SHARE * 10.0))])
    assert plan.ceiling == 60.0
    plan.track([f"c{n}" for n in range(1000)])
    assert plan.ceiling == 1000 / (PERIODIC_SHARE * 10.0)


def test_due_chats_go_longest_overdue_first() -> None:
    clock = Clock()
    plan = schedule(clock, floor=1.0, ceiling=8.0)
    plan.track(["a"])
    read_all(plan, news=True)  # due again after the floor
    clock.now += 1.5
    plan.track(["a", "b"])  # b is due now, a has been for half a second
    clock.now += 2
    assert [due.key for due in plan.take(2)] == ["a", "b"]


def test_stretched_says_when_the_budget_sets_the_ceiling() -> None:
    plan = schedule(Clock(), ceiling=60.0, reads_per_second=10.0)
    fits = int(60.0 * PERIODIC_SHARE * 10.0)
    plan.track([f"c{n}" for n in range(fits)])
    assert not plan.stretched
    plan.track([f"c{n}" for n in range(fits + 1)])
    assert plan.stretched


def test_a_first_read_finding_old_history_spreads_the_next_over_the_ceiling_recent_history_is_followed() -> None:
    """Before: every newly watched chat ramped up from the floor (1, 2, 4… s), hundreds of reads in the first minute
    after a /watch of 200, and recent history was not talk."""
    clock = Clock()
    plan = schedule(clock, floor=1.0, ceiling=60.0, reads_per_second=10.0)
    old = [f"old{n}" for n in range(200)]
    plan.track([*old, "recent"])
    for due in plan.take(201):
        plan.done(due.key, news=0, history=5.0 if due.key == "recent" else 3600.0)
    reads = dict.fromkeys([*old, "recent"], 0)
    start = clock.now
    while clock.now < start + plan.ceiling:
        clock.now += 0.5
        for due in plan.take(201, early=True):
            reads[due.key] += 1
            plan.done(due.key, news=0)
    assert max(reads[key] for key in old) == 1  # each once within the ceiling, not 6 times
    assert reads["recent"] >= 5  # a buyer who wrote 5 s before the watch is followed closely for a while


def test_chats_read_before_a_restart_fall_due_spread_over_the_ceiling_new_ones_at_once() -> None:
    clock = Clock()
    plan = schedule(clock, floor=1.0, ceiling=60.0, reads_per_second=10.0)
    old = [f"old{n}" for n in range(1000)]
    plan.track([*old, "new"], read_before=old)
    assert [due.key for due in plan.take(1000)] == ["new"]
    ceiling = plan.ceiling
    clock.now += ceiling / 2
    half = len(plan.take(1000))
    assert 350 < half < 650  # spread evenly over the whole ceiling (1000 chats over 15 % of 10 reads a second)
    clock.now += ceiling / 2
    assert half + len(plan.take(1000)) == 1000


def test_a_hinted_chat_waiting_out_a_failed_read_does_not_hold_up_a_chat_that_is_due() -> None:
    clock = Clock()
    plan = schedule(clock, floor=1.0, ceiling=8.0)
    plan.track(["failing", "quiet"])
    read_all(plan)
    clock.now += 2  # both due again
    plan.hint("failing")
    [due] = plan.take(1)
    plan.failed(due.key)  # retried after the floor, still hinted
    assert [d.key for d in plan.take(1)] == ["quiet"]


def test_a_capped_chat_is_read_at_least_that_often_and_falls_due_within_its_cap_at_once() -> None:
    clock = Clock()
    plan = schedule(clock, floor=1.0, ceiling=64.0)
    plan.track(["finished", "quiet"])
    for _ in range(6):  # both back off to the ceiling: 2, 4, 8, 16, 32, 64
        clock.now += 64
        read_all(plan)

    def reads_of_finished(seconds: int) -> list[float]:
        start, reads = clock.now, []
        for _ in range(seconds):
            clock.now += 1
            if "finished" in read_all(plan):
                reads.append(clock.now - start)
        return reads

    plan.cap({"finished": 1.0})  # its order just finished: read at the floor however quiet, from now on
    assert reads_of_finished(3) == [1.0, 2.0, 3.0]
    plan.cap({"finished": 30.0})  # a minute later: at least every 30 s, backing off up to that
    assert reads_of_finished(120) == [1.0, 3.0, 7.0, 15.0, 31.0, 61.0, 91.0]
    plan.cap({})  # retired: the usual backoff again
    assert reads_of_finished(120) == [1.0, 61.0]  # (the read already due, then 60 s)


def talk_without_hints(*, early: bool, seconds: float = 300.0) -> tuple[list[float], dict[str, int], float]:
    """100 chats, 10 talking (a message every 10 s each, in turn), read 10 a second, no hint ever; a quiet chat
    writes once half-way.

    Returns each message's wait until a read found it, the reads each chat had, and the quiet chat's wait.
    """
    clock = Clock()
    plan = schedule(clock, floor=1.0, ceiling=60.0)
    keys = [f"chat {n:03d}" for n in range(100)]
    talking = keys[:10]
    plan.track(keys)
    written: dict[str, list[float]] = {key: [] for key in keys}
    waits: list[float] = []
    reads = dict.fromkeys(keys, 0)
    start = clock.now
    for step in range(int(seconds * 10)):
        clock.now = start + step / 10
        if step % 10 == 0:  # one talking chat writes each second
            written[talking[step // 10 % 10]].append(clock.now)
        if step == seconds * 5:
            written["chat 099"].append(clock.now)
        for due in plan.take(1, early=early):
            found, written[due.key] = written[due.key], []
            waits += [clock.now - at for at in found]
            reads[due.key] += 1
            plan.done(due.key, news=len(found))
    return waits[:-1] if written["chat 099"] == [] else waits, reads, waits[-1]


def test_without_hints_spare_budget_reads_the_talking_chats_early_and_quiet_ones_once_per_ceiling() -> None:
    """Before (no early reads): a talking chat backed off between its messages, and its messages waited for it."""
    waits, reads, _ = talk_without_hints(early=True)
    before, _, _ = talk_without_hints(early=False)
    p95, p95_before = sorted(waits)[int(0.95 * len(waits))], sorted(before)[int(0.95 * len(before))]

    assert p95 <= 2.5 and p95_before >= 4.0, (p95, p95_before)
    quiet = [count for key, count in reads.items() if "chat 010" <= key < "chat 099"]  # (chat 099 talks half-way)
    assert min(reads[key] for key in reads if key < "chat 010") > 5 * max(quiet)


def test_without_hints_the_whole_budget_reads_every_chat_in_turn_besides_the_likeliest() -> None:
    """Before: a quiet chat was read once per ceiling (60 s) with the budget spare, and its first message waited for
    that read (at 1,000 watched, 333 s: the bench's quiet talkers had not arrived 150 s after the talk)."""
    _, reads, first = talk_without_hints(early=True)
    quiet = [count for key, count in reads.items() if "chat 010" <= key < "chat 099"]

    assert sum(reads.values()) == 3000  # the whole budget
    assert min(quiet) >= 300 / 30 and max(quiet) - min(quiet) <= 2  # every chat in turn, with a quarter of it
    assert first <= 20, first


def test_a_quiet_chat_is_never_read_early_a_paid_order_is_and_talk_is_forgotten() -> None:
    clock = Clock()
    plan = schedule(clock, floor=1.0, ceiling=600.0)
    plan.track(["quiet", "paid", "talked", "counted"])
    plan.hint("counted")  # Bybit's counts follow the news (more of it came hinted): the schedule is not blind
    for due in plan.take(4):
        plan.done(due.key, news={"talked": 5, "counted": 10}.get(due.key, 0))
    plan.expect({"paid": 1 / 120})
    reads: dict[str, list[float]] = {"quiet": [], "paid": [], "talked": [], "counted": []}
    start = clock.now
    while clock.now < start + 3600:
        clock.now += 1
        for due in plan.take(4, early=True):
            reads[due.key].append(clock.now - start)
            plan.done(due.key, news=False)
    gaps = {key: [later - earlier for earlier, later in itertools.pairwise(at)] for key, at in reads.items()}

    assert all(later == min(2 * earlier, 600) for earlier, later in itertools.pairwise(gaps["quiet"])), gaps["quiet"]
    assert all(12 <= gap <= 13 for gap in gaps["paid"][-100:])  # EARLY_NEWS at a message in 2 minutes: every 12 s
    assert len(reads["talked"]) > len(reads["quiet"]) + 3  # its news made it lively for a while…
    assert gaps["talked"][-3:] == gaps["quiet"][-3:] == [600, 600, 600]  # …then it is as quiet as the quiet one


def test_late_tells_how_long_the_chat_merely_due_longest_has_waited() -> None:
    clock = Clock()
    plan = schedule(clock, floor=1.0, ceiling=8.0)
    plan.track(["a", "b"])
    assert plan.late() == 0.0
    clock.now += 5
    assert plan.late() == 5.0
    plan.take(2)
    assert plan.late() == 0.0  # being read: not waiting
    plan.done("a", news=False)
    plan.done("b", news=False)
    clock.now += 8.5  # due again after 2 s, but read within a ceiling (8 s) until now
    assert plan.late() == 0.5


def test_a_chat_that_talked_in_the_last_five_minutes_is_read_early_every_4_s_at_most_then_forgotten() -> None:
    """Before: its rate decayed within a minute, and its next message waited for the ceiling's read (then every 12 s:
    a buyer's next words waited 12 s at worst)."""
    clock = Clock()
    plan = schedule(clock, floor=1.0, ceiling=600.0)
    plan.track(["talked"])
    for due in plan.take(1):
        plan.done(due.key, news=1)
    start, reads = clock.now, []
    while clock.now < start + 900:
        clock.now += 0.5
        for due in plan.take(1, early=True):
            reads.append(clock.now - start)
            plan.done(due.key, news=0)
    within = [later - earlier for earlier, later in itertools.pairwise([0.0, *reads]) if later <= TALKED_WINDOW]
    assert max(within) <= 4.5
    assert len([at for at in reads if at > TALKED_WINDOW + 15]) <= 2  # then the ceiling's backoff alone


def test_a_chat_whose_news_was_hinted_is_not_read_early_one_whose_news_came_unhinted_is() -> None:
    """Before: early reads followed every chat that talked, hinted or not; at 1,000 watched they took the whole budget
    for 5 minutes after the talk (idle CPU 3.4 % of a core at 9 reads a second)."""
    clock = Clock()
    plan = schedule(clock, floor=1.0, ceiling=600.0)
    plan.track(["hinted", "unhinted"])
    plan.take(2)
    plan.done("hinted", news=0)
    plan.done("unhinted", news=0)
    plan.hint("hinted")
    clock.now += 1
    for due in plan.take(1, hinted_only=True):
        plan.done(due.key, news=2)  # found by the read the hint asked for (more than the other: not blind)
    clock.now += 1  # both due again
    for due in plan.take(2):
        plan.done(due.key, news=1 if due.key == "unhinted" else 0)  # found by its regular read: no hint came
    reads = {"hinted": 0, "unhinted": 0}
    start = clock.now
    while clock.now < start + 60:
        clock.now += 0.5
        for due in plan.take(2, early=True):
            reads[due.key] += 1
            plan.done(due.key, news=0)
    assert reads["hinted"] <= 60 / PROBE_AGE + 1 and reads["unhinted"] >= 12, reads  # (the hinted one: a probe)
    plan.unannounced("hinted")  # its count left out, or read in the app: its talk is guessed at again
    again = 0
    start = clock.now
    while clock.now < start + 30:
        clock.now += 0.5
        for due in plan.take(2, early=True):
            again += due.key == "hinted"
            plan.done(due.key, news=0)
    assert again >= 5  # every 4 s (its backoff alone: once at most)


def test_a_chat_likely_to_have_news_goes_before_one_merely_due_until_that_one_went_unread_for_a_ceiling() -> None:
    clock = Clock()
    start = clock.now
    plan = schedule(clock, floor=1.0, ceiling=40.0)
    plan.track(["counted"])
    plan.hint("counted")
    plan.take(1)
    plan.done("counted", news=10)  # Bybit's counts announce the news (more of it came hinted): not blind
    plan.track(["quiet"])
    plan.take(1)
    plan.done("quiet", news=False)  # due again 2 s later
    clock.now = start + 1.9
    plan.track(["quiet", "talker"])
    plan.take(1)
    plan.done("talker", news=5)  # due again 1 s later
    clock.now = start + 2.7  # the quiet one is 0.7 s late, the talker not due but likely to have news
    assert [due.key for due in plan.take(1, early=True)] == ["talker"]
    plan.done("talker", news=False)
    clock.now = start + 13  # the quiet one is due, but was read within a ceiling
    assert [due.key for due in plan.take(1, early=True)] == ["talker"]
    plan.done("talker", news=False)
    clock.now = start + 41  # unread for a whole ceiling: it goes first
    assert [due.key for due in plan.take(1, early=True)] == ["quiet"]


def test_the_schedule_is_blind_while_reads_no_hint_asked_for_find_the_news_or_a_count_misses_it() -> None:
    clock = Clock()
    plan = schedule(clock, floor=1.0, ceiling=60.0)
    quiet = [f"quiet {n:02d}" for n in range(20)]
    plan.track(["counted", "guessed", *quiet])
    for due in plan.take(22):
        plan.done(due.key, news=0, history=3600.0)  # first reads: quiet for an hour
    for _ in range(BLIND_STREAK):
        plan.hint("counted")
        plan.take(2)
        plan.done("counted", news=1)  # the read its count asked for found it…
        plan.done("guessed", news=1)  # …and this one found news no count announced: one each, in turn
        clock.now += 2
    assert not plan.blind and not plan.ahead()
    found = 0
    while found < BLIND_STREAK:  # news found no count announced, read after read (reads finding none do not count)
        clock.now += 1
        for due in plan.take(1, early=True):
            found += due.key == "guessed"
            plan.done(due.key, news=int(due.key == "guessed"))
    assert plan.blind and plan.ahead()  # (a chat not being read)
    read = dict.fromkeys(["counted", "guessed", *quiet], 0)
    for _ in range(40):
        clock.now += 0.5
        for due in plan.take(1, early=True):
            read[due.key] += 1
            plan.done(due.key, news=0)
    assert read["counted"] >= 4, read  # its talk is guessed at too now (the chats read longest ago: once each)
    clock.now += BLIND_MEMORY
    assert not plan.blind
    plan.unannounced("counted")  # its count left out, or read in the app
    assert plan.blind


def test_while_blind_a_chat_whose_news_came_hinted_is_still_guessed_at() -> None:
    """Before: a count that rose once as the counts came back (read in the app from then on) made its chat
    announced again, and its next messages waited for its regular read (bench, read in the app after the counts
    were left out: p95 45.8 s at 200 / 20)."""
    clock = Clock()
    plan = schedule(clock, floor=1.0, ceiling=600.0)
    quiet = [f"quiet {n:02d}" for n in range(20)]
    plan.track(["talker", *quiet])
    for due in plan.take(21):
        plan.done(due.key, news=0, history=3600.0)
    plan.unannounced("talker")  # a count left out: blind
    plan.hint("talker")
    for due in plan.take(1, hinted_only=True):
        plan.done(due.key, news=1)  # its count rose once
    reads = 0
    for _ in range(40):
        clock.now += 0.5
        for due in plan.take(1, early=True):
            reads += due.key == "talker"
            plan.done(due.key, news=0)
    assert plan.blind and reads >= 4, reads


def test_while_blind_talkers_writing_at_random_are_read_in_turn_and_quiet_chats_once_per_ceiling() -> None:
    """200 chats, 20 writing at random (a message per 20 s each), 9 reads a second, the counts blind: the bench's
    case. Before (the likeliest and the chat read longest ago took turns; the likeliest by its rate times its wait):
    p95 7 s here; a talker whose last message was a while ago waited for its reads."""
    rng = random.Random(2026)
    clock = Clock()
    plan = schedule(clock, floor=1.0, ceiling=60.0)
    keys = [f"chat {n:03d}" for n in range(200)]
    plan.track(keys)
    for due in plan.take(200):
        plan.done(due.key, news=0, history=3600.0)
    plan.unannounced(keys[0])  # a count left out: blind
    talkers = keys[:20]
    writes = {key: clock.now + rng.expovariate(1 / 20) for key in talkers}
    written: dict[str, list[float]] = {key: [] for key in keys}
    waits: list[float] = []
    last_read = dict.fromkeys(keys, clock.now)
    longest = 0.0
    start = clock.now
    while clock.now < start + 300:
        clock.now += 1 / 9
        for key in talkers:
            while writes[key] <= clock.now:
                written[key].append(writes[key])
                writes[key] += rng.expovariate(1 / 20)
        for due in plan.take(1, early=True):
            found, written[due.key] = written[due.key], []
            if clock.now > start + 120:  # (the talkers found)
                waits += [clock.now - at for at in found]
                longest = max(longest, clock.now - last_read[due.key])
            last_read[due.key] = clock.now
            plan.done(due.key, news=len(found))

    assert plan.blind
    assert sorted(waits)[int(0.95 * len(waits))] <= 5.0
    assert longest <= plan.ceiling + 1  # every chat read once per ceiling


def test_a_chat_whose_news_the_counts_announced_is_read_unasked_now_and_then_for_a_while() -> None:
    """So a count that misses its next message (the merchant began reading in the Bybit app) is caught by the first
    such read, not by its regular read after its backoff. Before: the talkers' first messages once the merchant read
    in the app waited 15-45 s (bench, 200 / 20)."""
    clock = Clock()
    plan = schedule(clock, floor=1.0, ceiling=600.0)
    talkers = [f"talker {n}" for n in range(3)]
    plan.track([*talkers, "quiet"])
    for due in plan.take(4):
        plan.done(due.key, news=0, history=3600.0)
    for key in talkers:
        plan.hint(key)
    for due in plan.take(3, hinted_only=True):
        plan.done(due.key, news=1)  # announced news
    start = clock.now
    reads: dict[str, list[float]] = {key: [] for key in [*talkers, "quiet"]}
    while clock.now < start + 300:
        clock.now += 0.5
        for due in plan.take(4, early=True):
            reads[due.key].append(clock.now - start)
            plan.done(due.key, news=0)
    for key in talkers:
        probes = [at for at in reads[key] if at < PROBE_WINDOW]
        gaps = [later - earlier for earlier, later in itertools.pairwise(probes)]
        assert probes and all(PROBE_AGE <= gap <= PROBE_AGE + len(talkers) * PROBE_PERIOD for gap in gaps[-4:]), probes
        assert max(reads[key]) <= PROBE_WINDOW + 1  # then its backoff alone (up to the ceiling: 600 s)
    assert len(reads["quiet"]) <= 1  # never probed (its regular read comes at random within the ceiling)
    assert not plan.blind
