"""Session ids the session list already gave, lent to watched counterparties so no ``getSessionId`` read is spent.

The session list names a session only by the counterparty's nickname; a watch knows the counterparty by its
mask id (what ``getSessionId`` takes) and user id. A wrong session would forward another buyer's chat into this
order's topic, so a listed id is lent only when the nickname is beyond doubt: the open-order list showed it for
this very counterparty's user id within :data:`NAME_WINDOW` of the session list naming it, the order detail
the watch holds agrees, and the nickname was never seen for another user or session. Anything else: ``getSessionId``.
"""

from __future__ import annotations

from collections.abc import Iterable

from bridge.bybit import OrderInfo

NAME_WINDOW = 60.0  # seconds: a nickname seen on both lists this close together names one user on both


class ListedSessions:
    """What the session list and the open-order list said about nicknames, and which listed id fits a counterparty."""

    def __init__(self) -> None:
        self._listed: dict[str, tuple[str, float]] = {}  # nickname → (session id, when the session list named it)
        self._named: dict[str, str] = {}  # session id → the nickname it was listed under
        self._owners: dict[str, tuple[str, float]] = {}  # nickname → (user id, when the open-order list showed it)
        self._doubtful: set[str] = set()  # nicknames seen for two sessions or two users: never lent by

    def listed(self, nick: str, session_id: str, at: float) -> None:
        """The session list named session ``session_id`` ``nick`` (``at``: monotonic seconds)."""
        if not nick or not session_id:
            return
        known, _ = self._listed.setdefault(nick, (session_id, at))
        former = self._named.setdefault(session_id, nick)
        if known != session_id or former != nick:
            self._doubtful |= {nick, former}
        self._listed[nick] = (session_id, at)

    def shown(self, nick: str, user_id: str, at: float) -> None:
        """The open-order list showed an order with the user ``user_id`` by the nickname ``nick``."""
        if not nick or not user_id:
            return
        known, _ = self._owners.setdefault(nick, (user_id, at))
        if known != user_id:
            self._doubtful.add(nick)
        self._owners[nick] = (user_id, at)

    def watched(self, infos: Iterable[OrderInfo]) -> None:
        """The watched orders' details: a nickname two watched counterparties go by is doubtful."""
        users: dict[str, str] = {}
        for info in infos:
            if users.setdefault(info.target_nick_name, info.target_user_id) != info.target_user_id:
                self._doubtful.add(info.target_nick_name)

    def session_of(self, info: OrderInfo) -> str | None:
        """The listed session id of the order's counterparty, if beyond doubt; None: ask ``getSessionId``."""
        nick = info.target_nick_name
        listed, owner = self._listed.get(nick), self._owners.get(nick)
        if nick in self._doubtful or listed is None or owner is None or not info.target_user_id:
            return None
        (session_id, listed_at), (user_id, shown_at) = listed, owner
        if user_id != info.target_user_id or abs(listed_at - shown_at) > NAME_WINDOW:
            return None
        return session_id
