"""How the edges read HTTP answers of the services they call (Bot Connector, Graph)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# Answers worth another try: timeouts, precondition races, throttling; and every 5xx.
_PASSING = (408, 412, 429)


def is_passing_failure(status: int) -> bool:
    """The one rule for every service Send calls: is this failure worth another try?

    0 stands for "no answer" (connection refused, reset, timed out).
    """
    return status == 0 or status in _PASSING or status >= 500


def retry_after_seconds(value: str | None) -> float:
    """A Retry-After header (seconds or an HTTP date) as seconds from now; 0 when absent."""
    if not value:
        return 0.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return 0.0
