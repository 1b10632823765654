"""When each chat is read next: Bybit's read budget spent where the talk is (knows nothing of Bybit's API).

A chat that just had news is read again after ``floor`` seconds; each read that finds nothing doubles
its interval, up to ``ceiling``. A chat's first read finds its history: its newest message counts as talk
at its moment, and the chat's next due read comes at random within a ceiling. A hint (Bybit's unread
counts) makes a chat due at once. Hinted chats go first, oldest hint first; then every other due chat,
longest overdue first. A chat overdue by a whole ``ceiling`` counts as hinted, so a stream of hints never
starves the quiet ones. With more chats than the budget can read once per ``ceiling``, the ceiling
stretches to what the budget allows.

When nothing is due and the budget has room, a chat may be read *early*: one likely to have news Bybit did
not hint at, by its recent rate of messages (at least ``TALKED_RATE`` for ``TALKED_WINDOW`` after news; more
for its order's stage) times the time since its last read, once that expects at least ``EARLY_NEWS``
messages (before chats merely due, unless one has gone unread for a ceiling); of those, the one that has
waited longest for the square root of its rate. A chat whose last news was hinted counts only its stage: the
counts follow it, guessing would spend the budget and the CPU for nothing; but it is *probed* (read unasked)
now and then for ``PROBE_WINDOW`` after that news, so counts that stop following it are caught. So without
hints (the counts missing, or read in the Bybit app at once) the talking chats are read as often as the
budget allows.

While Bybit's counts miss the news (a count left out or fallen, a read finding news a count read since did
not announce, or reads in a row finding news no hint announced), the schedule is *blind*: every chat's talk
is guessed at, and the budget left is never idle: the chat read longest ago is read ahead of its time
(:meth:`Schedule.ahead`) after ``LIKELY_RUN`` of the likeliest, so a quiet chat's first message is not left
to the ceiling.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field

BACKOFF = 2.0  # an idle chat's interval grows by this factor after each read that found nothing
PERIODIC_SHARE = 0.3  # the share of the read budget that reading every chat once per ceiling can count on
RATE_MEMORY = 30.0  # seconds: a chat's rate of messages forgets what it saw by e each this long…
RATE_GONE = 1 / 3600  # …and below one message an hour counts as quiet (never read early)…
TALKED_RATE = 1 / 40  # …but a chat that had news within TALKED_WINDOW counts as having at least this rate:
TALKED_WINDOW = 600.0  # a buyer who wrote in the last 10 minutes is likely to write again soon
EARLY_NEWS = 0.1  # messages a chat is expected to hold before it is read early (before chats merely due, unless
# one has gone unread for a whole ceiling)
BLIND_MEMORY = 120.0  # seconds the schedule stays blind after the counts last missed news…
BLIND_STREAK = 3  # …such as this many reads in a row finding news no hint announced
PROBE_PERIOD = 1.0  # seconds: while the counts are trusted, a chat they follow is read unasked at most this often…
PROBE_AGE = 10.0  # …the one read longest ago of those that had news within PROBE_WINDOW, once unread this long (if
PROBE_WINDOW = 120.0  # its count missed news, read in the Bybit app at once, the schedule is blind at once, not after
# its regular read)
LIKELY_RUN = 3  # while blind, the likeliest chats read in a row before the one read longest ago gets a turn
LATE_SHARE = 0.25  # a chat unread for a ceiling and this share of one more slows the hints' lists to their idle pace


@dataclass
class _Chat:
    due: float  # when its interval runs out
    interval: float
    hinted_at: float | None = None
    reading_since: float | None = None  # when the read in progress started
    retry_at: float = -math.inf  # after a failed read: not before then, hint or not
    cap: float = math.inf  # its interval never grows past this (a finished order, read to the end)
    read_at: float = -math.inf  # when its last good read started
    rate: float = 0.0  # messages a second it had lately, as of…
    rated_at: float = 0.0  # …this moment (the rate decays with RATE_MEMORY)
    news_at: float = -math.inf  # when a read last found news
    announced: bool = False  # whether that news was hinted (Bybit's counts follow the chat: no need to guess)
    prior: float = 0.0  # messages a second its orders' stage lets expect (a paid order: the receipt, questions)
    stamp: int = 0  # which queue entry is this chat's current one (older entries are stale)

    @property
    def since(self) -> float:
        """When the chat fell (or falls) due: its hint, or its interval running out."""
        return self.due if self.hinted_at is None else min(self.hinted_at, self.due)

    @property
    def ready(self) -> float:
        """When it may be read."""
        return max(self.since, self.retry_at)

    def rate_at(self, now: float) -> float:
        """Messages a second it may have now that no hint would announce: its recent rate, decayed (none while its
        last news was hinted), and its stage's."""
        if self.announced:
            return self.prior
        talked = TALKED_RATE if now - self.news_at < TALKED_WINDOW else 0.0
        return max(self.talk_at(now), talked) + self.prior

    def talk_at(self, now: float) -> float:
        """Its recent rate of messages, decayed to ``now``."""
        return self.rate * math.exp((self.rated_at - now) / RATE_MEMORY)

    def early_at(self, now: float) -> float:
        """When it holds ``EARLY_NEWS`` expected messages since its last read (its rate taken as it is now)."""
        rate = self.rate_at(now)
        return max(self.read_at, self.retry_at) + EARLY_NEWS / rate if rate > 0 else math.inf


@dataclass(order=True)
class _Entry:
    ready: float
    key: str  # ties go by key, so the order never depends on the order chats were added in
    stamp: int = field(compare=False)


@dataclass(frozen=True)
class Due:
    """A chat whose read starts now, and how late (seconds past due) it starts."""

    key: str
    lag: float
    hinted: bool


class Schedule:
    """Per-chat adaptive read times between ``floor`` and ``ceiling`` seconds.

    Chats wait in two queues by when they may be read, hinted ones apart; handing out the next one
    costs a logarithm of the number of chats, not a look at each.
    """

    def __init__(
        self, *, floor: float, ceiling: float, reads_per_second: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.floor = floor
        self._ceiling = max(ceiling, floor)
        self._reads_per_second = reads_per_second
        self._clock = clock
        self._chats: dict[str, _Chat] = {}
        self._hinted: list[_Entry] = []
        self._waiting: list[_Entry] = []
        self._lively: set[str] = set()  # chats that had news lately, or whose stage expects some: read early
        self._stamps = itertools.count(1)
        self._blind_until = -math.inf
        self.blind_since = -math.inf  # when the schedule last went blind (it may be over)
        self._followed: set[str] = set()  # chats whose last news the counts announced (probed for a while)
        self._probed_at = -math.inf  # when a chat the counts follow was last read unasked (:meth:`_probe`)
        self._likely_run = 0  # while blind, the likeliest chats read in a row since the one read longest ago
        self._unhinted = 0  # reads in a row that found news no hint announced

    @property
    def blind(self) -> bool:
        """Whether Bybit's counts missed news lately (for ``BLIND_MEMORY``): one was left out or fell (read in the
        app), or ``BLIND_STREAK`` reads in a row found news no hint announced."""
        return self._clock() < self._blind_until

    def ahead(self) -> bool:
        """Whether a chat may be read ahead of its time now: the schedule is blind, and one is not being read."""
        return self.blind and any(chat.reading_since is None for chat in self._chats.values())

    @property
    def stretched(self) -> bool:
        """Whether the budget cannot read every chat once per configured ceiling, so the ceiling is longer."""
        return self.ceiling > self._ceiling

    @property
    def configured_ceiling(self) -> float:
        """The ceiling asked for (``POLL_INTERVAL_MAX``), whatever the budget allows."""
        return self._ceiling

    @property
    def ceiling(self) -> float:
        """The longest interval in force: the configured ceiling, stretched if the budget cannot keep it."""
        return self._ceiling_for(len(self._chats))

    def _ceiling_for(self, chats: int) -> float:
        return max(self._ceiling, chats / (PERIODIC_SHARE * self._reads_per_second))

    def track(self, keys: Iterable[str], *, read_before: Collection[str] = ()) -> None:
        """The chats there are now: new ones are due at once, gone ones forgotten.

        New ones ``read_before`` (by an earlier run: after a restart) fall due at random within the
        ceiling instead, so a restart does not spend minutes reading every chat; hints bring their news.
        """
        now = self._clock()
        wanted = set(keys)
        for key in self._chats.keys() - wanted:
            del self._chats[key]
            self._lively.discard(key)
            self._followed.discard(key)
        ceiling = self._ceiling_for(len(wanted))  # what it will be once they are all here
        for key in wanted - self._chats.keys():
            due = now + random.uniform(0, ceiling) if key in read_before else now
            self._chats[key] = _Chat(due=due, interval=ceiling if key in read_before else self.floor)
            self._queue(key)

    def cap(self, caps: Mapping[str, float]) -> None:
        """Chats read at least this often whatever they find (finished orders, read to the end); the rest as usual.

        A chat newly capped that would wait longer falls due within its cap.
        """
        now = self._clock()
        for key, chat in self._chats.items():
            cap = caps.get(key, math.inf)
            if cap == chat.cap:
                continue
            chat.cap = cap
            chat.interval = min(chat.interval, cap)
            if chat.reading_since is None and chat.due > now + cap:
                chat.due = now + cap
                self._queue(key)

    def expect(self, priors: Mapping[str, float]) -> None:
        """Messages a second chats' stages let expect, whatever they had lately (the rest: none)."""
        for key, chat in self._chats.items():
            chat.prior = priors.get(key, 0.0)
            if chat.prior:
                self._lively.add(key)

    def hint(self, key: str) -> None:
        """Bybit says the chat has news: read it as soon as the budget allows (again, if a read is under way)."""
        chat = self._chats.get(key)
        if chat is not None and chat.hinted_at is None:
            chat.hinted_at = self._clock()
            if chat.reading_since is None:
                self._queue(key)

    def soon(self, key: str) -> None:
        """The chat may have news Bybit did not quite announce (its count was first seen): due at once, without a
        hint's precedence."""
        chat = self._chats.get(key)
        now = self._clock()
        if chat is not None and chat.due > now:
            chat.due = now
            if chat.reading_since is None:
                self._queue(key)

    def unannounced(self, key: str) -> None:
        """Bybit's count cannot announce the chat's news now (it fell as the app read it, or is left out): its talk
        is guessed at again, though its last news was hinted."""
        self._blinded()
        self._unannounce(key)

    def _unannounce(self, key: str) -> None:
        chat = self._chats.get(key)
        if chat is not None and chat.announced:
            chat.announced = False
            self._lively.add(key)  # (left when its rate counted as nothing; leaves again if it is)

    def _blinded(self) -> None:
        """Bybit's counts missed news: blind for ``BLIND_MEMORY`` from now; coming blind, no chat's talk is
        announced any more."""
        now = self._clock()
        if now >= self._blind_until:
            self.blind_since = now
            for key in self._chats:
                self._unannounce(key)
        self._blind_until = now + BLIND_MEMORY

    def take(self, at_most: int, *, hinted_only: bool = False, early: bool = False) -> list[Due]:
        """Up to ``at_most`` due chats (only hinted ones, if asked), first things first; if ``early``, the chats
        likeliest to have news, once they expect ``EARLY_NEWS``, go before chats merely due that were read within
        a ceiling; while blind, the chat read longest ago, due or not, goes instead of one merely due, and before the
        likeliest after ``LIKELY_RUN`` of them, or once unread for a ceiling.

        They count as being read until :meth:`done` or :meth:`failed`.
        """
        now = self._clock()
        overdue = now - self.ceiling  # a chat due since before this counts as hinted: no chat starves
        taken: list[Due] = []
        while len(taken) < at_most:
            hinted, waiting = self._top(self._hinted), None if hinted_only else self._top(self._waiting)
            ready = [e for e in (hinted, waiting) if e is not None and e.ready <= now]
            urgent = [e for e in ready if e is hinted or e.ready <= overdue]
            entry = min(urgent or ready, default=None)  # (a hinted chat waiting out a failure holds up no other)
            patient = entry is None or now - self._chats[entry.key].read_at < self.ceiling  # (read within a ceiling)
            stalest = self._read_longest_ago(self._chats, now) if early and self.blind else None
            probe = early and not self.blind and not urgent and patient and now - self._probed_at >= PROBE_PERIOD
            key = self._probe(now) if probe else None
            if key is not None:
                self._chats[key].reading_since = self._probed_at = now
                taken.append(Due(key, 0.0, False))
                continue
            if early and not urgent and patient and not (stalest is not None and self._stalest_turn(stalest, now)):
                key = self._likeliest(now)
                if key is not None:
                    self._chats[key].reading_since = now
                    taken.append(Due(key, 0.0, False))
                    self._likely_run += 1
                    continue
            merely_due = entry is None or (not urgent and self._chats[entry.key].cap == math.inf)
            if stalest is not None and merely_due:  # blind: the chat read longest ago, due or not (a capped one keeps
                self._chats[stalest].reading_since = now  # its turn)
                taken.append(Due(stalest, 0.0, False))
                self._likely_run = 0
                continue
            if entry is None:
                break
            heapq.heappop(self._hinted if entry is hinted else self._waiting)
            chat = self._chats[entry.key]
            chat.reading_since = now
            taken.append(Due(entry.key, now - chat.since, chat.hinted_at is not None))
        return taken

    def done(self, key: str, *, news: int, history: float | None = None, missed: bool = False) -> None:
        """A read ended, finding ``news`` new messages: with news the chat goes back to the floor, without it backs
        off one step. ``missed``: a count of the chat read well after one of them did not announce it (unless a
        hint came since the read began): the schedule is blind at once.

        ``history``: the read was the chat's first; what it found is the past, its newest message this many
        seconds old (``math.inf``: none). That message counts in its rate as talk forgotten since (a chat that
        talked a moment ago is read early); its next due read comes at random within a ceiling, so a /watch of
        hundreds does not ramp them all up from the floor together. A hint that came while it was being read
        still stands (the read may have started before the news).
        """
        chat = self._chats.get(key)
        if chat is None or chat.reading_since is None:
            return
        now = self._clock()
        chat.rate = chat.talk_at(now) + news / RATE_MEMORY
        chat.rated_at, chat.read_at = now, chat.reading_since
        if news:
            chat.news_at = now
            hinted = chat.hinted_at is not None and chat.hinted_at <= chat.reading_since
            chat.announced = hinted and not self.blind  # (blind: no count is trusted to follow it)
            if chat.announced:
                self._followed.add(key)
            self._lively.add(key)
            if history is None:
                self._unhinted = 0 if hinted else self._unhinted + 1
                if self._unhinted >= BLIND_STREAK or (missed and chat.hinted_at is None):
                    self._blinded()
        if history is not None:
            chat.rate = math.exp(-history / RATE_MEMORY) / RATE_MEMORY  # its newest message, as talk forgotten since
            if chat.rate >= RATE_GONE:
                self._lively.add(key)
            chat.interval = min(self.ceiling, chat.cap)
            chat.due = now + random.uniform(min(self.floor, chat.interval), chat.interval)
        else:
            chat.interval = self.floor if news else min(chat.interval * BACKOFF, self.ceiling, chat.cap)
            chat.due = now + chat.interval
        if chat.hinted_at is not None and chat.hinted_at <= chat.reading_since:
            chat.hinted_at = None
        chat.retry_at = -math.inf
        chat.reading_since = None
        self._queue(key)

    def failed(self, key: str) -> None:
        """A read failed: try again after the floor, keeping its hint and its interval."""
        chat = self._chats.get(key)
        if chat is None or chat.reading_since is None:
            return
        chat.due = chat.retry_at = self._clock() + self.floor
        chat.reading_since = None
        self._queue(key)

    def next_due(self, *, hinted_only: bool = False, early: bool = False) -> float | None:
        """Seconds until the next chat (hinted, if asked; or to be read early, if asked) falls due (0: one is due
        now); None: nothing to read."""
        now = self._clock()
        entries = [self._top(self._hinted)] + ([] if hinted_only else [self._top(self._waiting)])
        ready = [entry.ready for entry in entries if entry is not None]
        if early:
            ready += [self._chats[key].early_at(now) for key in self._lively if self._chats[key].reading_since is None]
        ready = [moment for moment in ready if moment < math.inf]
        return max(0.0, min(ready) - now) if ready else None

    def late(self) -> float:
        """Seconds the first chat merely due has gone unread past a whole ceiling, or past its due time if never read
        (0: none has)."""
        entry = self._top(self._waiting)
        if entry is None:
            return 0.0
        return max(0.0, self._clock() - max(self._chats[entry.key].read_at + self.ceiling, entry.ready))

    def _probe(self, now: float) -> str | None:
        """Of the chats whose last news the counts announced within ``PROBE_WINDOW``, the one read longest ago, if
        ``PROBE_AGE`` ago or more (not being read, nor waiting out a failure)."""
        for key in list(self._followed):
            chat = self._chats[key]
            if not chat.announced or now - chat.news_at >= PROBE_WINDOW:
                self._followed.discard(key)
        oldest = self._read_longest_ago(self._followed, now)
        return oldest if oldest is not None and now - self._chats[oldest].read_at >= PROBE_AGE else None

    def _stalest_turn(self, stalest: str, now: float) -> bool:
        """While blind, whether the chat read longest ago goes before the likeliest: after ``LIKELY_RUN`` of those in
        a row, or once it has gone unread for a ceiling (every chat is read once per ceiling, if the budget can)."""
        return self._likely_run >= LIKELY_RUN or now - self._chats[stalest].read_at >= self.ceiling

    def _read_longest_ago(self, keys: Iterable[str], now: float) -> str | None:
        """Of ``keys``, the chat read longest ago that is not being read nor waiting out a failure."""
        chats = ((key, self._chats[key]) for key in keys)
        ready = [(chat.read_at, key) for key, chat in chats if chat.reading_since is None and chat.retry_at <= now]
        return min(ready)[1] if ready else None

    def _likeliest(self, now: float) -> str | None:
        """Of the chats not being read that expect ``EARLY_NEWS`` Bybit did not hint at, the one that has waited
        longest for its rate: the time since its read times the square root of its rate (chats read at intervals
        in inverse proportion to the square root of their rates keep news waiting least, all told; a rate taken
        whole would leave a talker whose last message is a while ago unread for long).

        Chats whose rate fell to nothing leave the lively ones on the way.
        """
        best, most = None, 0.0
        for key in list(self._lively):
            chat = self._chats[key]
            rate = chat.rate_at(now)
            if rate < RATE_GONE:
                self._lively.discard(key)
                chat.rate = 0.0
            elif chat.reading_since is None and chat.retry_at <= now:
                waited = now - chat.read_at
                if rate * waited >= EARLY_NEWS and math.sqrt(rate) * waited > most:
                    best, most = key, math.sqrt(rate) * waited
        return best

    def _queue(self, key: str) -> None:
        """(Re)place the chat in its queue; its earlier entry, wherever it is, goes stale."""
        chat = self._chats[key]
        chat.stamp = next(self._stamps)
        heapq.heappush(
            self._hinted if chat.hinted_at is not None else self._waiting, _Entry(chat.ready, key, chat.stamp)
        )

    def _top(self, queue: list[_Entry]) -> _Entry | None:
        """The first entry of a queue that is still current (stale ones are dropped on the way)."""
        while queue:
            entry = queue[0]
            chat = self._chats.get(entry.key)
            if chat is not None and chat.stamp == entry.stamp and chat.reading_since is None:
                return entry
            heapq.heappop(queue)
        return None
