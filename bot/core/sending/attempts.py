"""One attempt at one delivery, and what its answer means for the delivery.

A passing failure (throttled, a 5xx, no answer) is tried again, never before the
server's Retry-After and with jittered exponential back-off, until the delivery
deadline: throttling is Teams telling us to wait, never a reason to drop a copy.
A permanent refusal is final at once; a recipient Teams says is gone is final too
(the sender is told).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.core.model import Delivery, DeliveryState
from bot.core.ports import SendOutcome

GONE = "gone"  # last_error of a copy Teams will not take: the person blocked or left the bot
# last_error of a copy for someone Teams cannot be used for (Send could not be installed):
# "outlook only: <why>" the first time (the sender is told), QUIET after that.
OUTLOOK_ONLY = "outlook only"
QUIET = "outlook only, already told"


@dataclass(frozen=True)
class RetryPolicy:
    base_delay: float = 1.0
    max_delay: float = 60.0
    # How long after a message was accepted its deliveries are still tried.
    deadline: timedelta = timedelta(hours=24)

    def delay(self, attempt: int, retry_after: float) -> float:
        backoff = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        # Full jitter spreads retries of many recipients; Retry-After is a floor.
        return max(retry_after, random.uniform(backoff / 2, backoff))


def settle(
    delivery: Delivery,
    outcome: SendOutcome,
    detail: str,
    retry_after: float,
    now: datetime,
    accepted_at: datetime,
    policy: RetryPolicy,
    activity_id: str = "",
) -> Delivery:
    """The delivery after one more attempt answered `outcome`; `activity_id`: the id
    Teams gave what was sent (kept when there is none)."""
    attempts = delivery.attempts + 1
    if outcome is SendOutcome.SENT:
        return replace(
            delivery,
            state=DeliveryState.SENT,
            attempts=attempts,
            last_error="",
            next_attempt_at=None,
            activity_id=activity_id or delivery.activity_id,
        )
    if outcome is SendOutcome.RETRY:
        at = now + timedelta(seconds=policy.delay(attempts, retry_after))
        if at <= accepted_at + policy.deadline:
            return replace(delivery, attempts=attempts, last_error=detail, next_attempt_at=at)
        detail = f"still failing at the delivery deadline ({detail})"
    return replace(
        delivery,
        state=DeliveryState.FAILED,
        attempts=attempts,
        last_error=detail,
        next_attempt_at=None,
    )


def failed(delivery: Delivery, reason: str) -> Delivery:
    """Final without an attempt (nobody to send to)."""
    return replace(delivery, state=DeliveryState.FAILED, last_error=reason, next_attempt_at=None)


def due(delivery: Delivery, now: datetime) -> bool:
    return delivery.state is DeliveryState.PENDING and (
        delivery.next_attempt_at is None or delivery.next_attempt_at <= now
    )
