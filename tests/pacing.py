"""Reading Teams pacing from the fake Bot Connector's arrival times."""

from __future__ import annotations

# A send arriving up to this much earlier than its slot still counts as on time: the
# limiter paces when requests leave; the fake sees when they arrive.
ARRIVAL_JITTER = 0.05
# How much later one send may arrive than another booked for the same moment. The limiter
# books sends in batches a second apart; the fake handles a batch one request after
# another, so on a loaded machine the last of one batch and the first of the next arrive
# closer than a second (0.83 s with one core shared by this process and three busy
# loops; 0.95 was asserted before). Windows are this much shorter than a second: a batch
# over the limit, or no pacing at all, still shows.
TRANSIT_SPREAD = 0.4


def busiest_second(times: list[float]) -> int:
    times = sorted(times)
    return max(
        (
            sum(1 for t in times[i:] if t - start < 1.0 - TRANSIT_SPREAD)
            for i, start in enumerate(times)
        ),
        default=0,
    )
