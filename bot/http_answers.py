"""How the edges read HTTP answers of the services they call (Bot Connector, Graph)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# Answers worth another try: timeouts, precondition races, throttling; and every 5xx.
RETRIED_STATUSES = (408, 412, 429)


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
