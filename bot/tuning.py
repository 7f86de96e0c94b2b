"""The timings of a running app that tests shorten; production uses the defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from bot.core.features.meeting_watch import WATCH_SECONDS
from bot.core.features.receipts import RECEIPT_PAUSE
from bot.core.sending.attempts import RetryPolicy
from bot.core.sending.delivery import DEFAULT_LEASE
from bot.core.sending.instances import HEARTBEAT_SECONDS


@dataclass(frozen=True)
class Tuning:
    """Timings tests shorten; production uses the defaults."""

    retry: RetryPolicy = field(default_factory=RetryPolicy)
    lease: timedelta = DEFAULT_LEASE
    recovery_interval: float = 30.0
    heartbeat_interval: float = HEARTBEAT_SECONDS
    receipt_pause: float = RECEIPT_PAUSE
    meeting_watch_interval: float = WATCH_SECONDS
