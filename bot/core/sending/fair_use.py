"""Fair use: how many messages (and group changes) one person may send per minute, and
how many notices one person may receive per hour.

Generous for people (a quick exchange is a few a minute), tight for floods and
scripts. Counted per instance of the app, in memory; with several instances a
sender gets at most this many per instance, which still stops a flood.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from datetime import datetime, timedelta

from bot.core.texts import Language, say

WINDOW = timedelta(minutes=1)
SENDERS_KEPT = 100_000
# Welcomes and other notices that someone else's actions send a person: plenty for real
# groups, and nobody can bury a colleague's chat by adding and removing them in a loop.
NOTICES_PER_HOUR = 20


class SenderAllowance:
    def __init__(self, per_minute: int, window: timedelta = WINDOW) -> None:
        self._per_minute = per_minute
        self._window = window
        self._sent: OrderedDict[tuple[str, str], deque[datetime]] = OrderedDict()

    def refusal(
        self, tenant_id: str, person_id: str, now: datetime, *, language: Language
    ) -> str | None:
        """The one line telling the sender to slow down, or None when they may send."""
        sent = self._recent(tenant_id, person_id, now)
        if len(sent) < self._per_minute:
            return None
        return say(language, "relay.slow_down", count=len(sent))

    def allows(self, tenant_id: str, person_id: str, now: datetime) -> bool:
        return len(self._recent(tenant_id, person_id, now)) < self._per_minute

    def record(self, tenant_id: str, person_id: str, now: datetime) -> None:
        """Counts one accepted message."""
        key = (tenant_id, person_id)
        self._recent(tenant_id, person_id, now).append(now)
        self._sent.move_to_end(key)
        while len(self._sent) > SENDERS_KEPT:
            self._sent.popitem(last=False)

    def _recent(self, tenant_id: str, person_id: str, now: datetime) -> deque[datetime]:
        sent = self._sent.setdefault((tenant_id, person_id), deque())
        while sent and sent[0] <= now - self._window:
            sent.popleft()
        return sent
