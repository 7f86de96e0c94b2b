"""Thread-Index (MS-OXOMSG 2.2.1.3): a 22-byte root, one 5-byte block per reply, and real
values written by Exchange Online reading back to their mails' dates."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.outlook.thread_index import (
    MOST_REPLIES,
    RESOLUTION,
    child_index,
    read_index,
    root_index,
)

GUID = bytes(range(16))
AT = datetime(2026, 12, 7, 10, 30, 15, 123456, tzinfo=UTC)
LONG = 1 << 49  # TimeDiff ticks from which the delta code is 1 (about 1.78 years)


def _raw(value: str) -> bytes:
    return base64.b64decode(value, validate=True)


def _header_ticks(value: str) -> int:
    return int.from_bytes(_raw(value)[1:6], "big") << 24


def _ticks(at: datetime) -> int:
    return (at - datetime(1601, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 10


def _levels(value: str) -> list[tuple[int, int, int]]:
    """Each Response Level as (delta code, time delta field, random byte)."""
    raw = _raw(value)
    blocks = [int.from_bytes(raw[i : i + 5], "big") for i in range(22, len(raw), 5)]
    return [(b >> 39, (b >> 8) & 0x7FFF_FFFF, b & 0xFF) for b in blocks]


def test_a_root_is_22_bytes_and_reads_back_its_time_and_guid() -> None:
    value = root_index(AT, GUID)
    raw = _raw(value)
    assert len(raw) == 22 and raw[0] == 0x01 and raw[6:] == GUID
    at, guid, replies = read_index(value)
    assert AT - RESOLUTION < at <= AT and guid == GUID and replies == 0
    assert root_index(at, GUID) == value  # the time read back names the same bytes
    paris = AT.astimezone(timezone(timedelta(hours=1)))
    assert root_index(paris, GUID) == value  # the header holds UTC


def test_each_reply_adds_one_block_and_keeps_its_parent() -> None:
    value = root_index(AT, GUID)
    for n, later in enumerate([timedelta(minutes=5), timedelta(hours=3), timedelta(days=40)], 1):
        child = child_index(value, AT + later)
        assert len(_raw(child)) == len(_raw(value)) + 5 == 22 + 5 * n
        assert _raw(child).startswith(_raw(value))
        assert read_index(child) == (read_index(value)[0], GUID, n)
        assert child_index(value, AT + later) == child  # no randomness: a retry is the same
        value = child
    # Every block counts from the header's time, not from the block before it.
    header = _header_ticks(value)
    for (code, delta, random), later in zip(
        _levels(value), [timedelta(minutes=5), timedelta(hours=3), timedelta(days=40)], strict=True
    ):
        assert code == 0 and random == 0
        assert delta == (_ticks(AT + later) - header) >> 18


def test_a_reply_past_about_1_7_years_sets_the_delta_code() -> None:
    root = root_index(AT, GUID)
    header = _header_ticks(root)
    for later, code in [
        (timedelta(days=650), 0),
        (timedelta(days=653), 1),
        (timedelta(days=3650), 1),
    ]:
        diff = _ticks(AT + later) - header
        assert (diff >= LONG) == bool(code)
        assert _levels(child_index(root, AT + later)) == [(code, diff >> (23 if code else 18), 0)]


def test_a_reply_dated_before_the_root_gets_a_zero_delta() -> None:
    root = root_index(AT, GUID)
    for earlier in [timedelta(seconds=1), timedelta(hours=1), timedelta(days=800)]:
        child = child_index(root, AT - earlier)
        assert _raw(child) == _raw(root) + bytes(5)
        assert read_index(child)[2] == 1
    # Send's first answer to a thread it did not start: a root and its child at the same time.
    assert _levels(child_index(root_index(AT, GUID), AT))[0][0] == 0


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not base64!",
        "AQHYnHLVENTK1UHdsEyeUwZej/8cmg",  # padding cut off
        "AQHYnHLV ENTK1UHdsEyeUwZej/8cmg==",  # a space inside
        "é",
        base64.b64encode(bytes(21)).decode(),
        base64.b64encode(bytes(23)).decode(),
        base64.b64encode(bytes(26)).decode(),
        base64.b64encode(bytes(33)).decode(),
    ],
)
def test_a_value_that_is_not_a_thread_index_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="not a Thread-Index"):
        child_index(value, AT)
    with pytest.raises(ValueError, match="not a Thread-Index"):
        read_index(value)


def test_a_bad_guid_or_time_is_refused() -> None:
    for guid in [b"", bytes(15), bytes(17)]:
        with pytest.raises(ValueError, match="16 bytes"):
            root_index(AT, guid)
    naive = datetime(2026, 12, 7, 10, 30)
    with pytest.raises(ValueError, match="time zone"):
        root_index(naive, GUID)
    with pytest.raises(ValueError, match="time zone"):
        child_index(root_index(AT, GUID), naive)
    with pytest.raises(ValueError, match="1601"):
        root_index(datetime(1600, 12, 31, tzinfo=UTC), GUID)


def test_a_real_exchange_root_reads_back_just_before_its_date() -> None:
    # oss-security, 20 Jul 2022, "Grails Framework Remote Code Execution Vulnerability,
    # CVE-2022-35912", sent with Exchange Online, the first mail of its thread.
    value = "AQHYnHLVENTK1UHdsEyeUwZej/8cmg=="
    date = datetime(2022, 7, 20, 19, 58, 7, tzinfo=UTC)  # its Date header
    at, guid, replies = read_index(value)
    assert date - timedelta(minutes=5) < at <= date and replies == 0  # written as composed
    assert root_index(at, guid) == value  # the same bytes Exchange wrote


def test_a_real_exchange_reply_reads_back_its_threads_start() -> None:
    # xen-devel, 27 Sep 2019, "Re: [PATCH RFC for-4.13 04/10] xen/arm: Ensure the SSBD
    # workaround ...", from Exchange Online, answering a patch whose Message-ID
    # <20190926183808.11630-5-julien.grall@arm.com> names its sending time.
    value = "AQHVdJmSz7FwOb+ZL0aIExPYLyfVU6c/a/SA"
    patch_sent = datetime(2019, 9, 26, 18, 38, 8, tzinfo=UTC)
    date = datetime(2019, 9, 27, 11, 56, 21, tzinfo=UTC)  # the reply's Date header
    at, _guid, replies = read_index(value)
    assert patch_sent <= at < patch_sent + timedelta(minutes=1) and replies == 1
    answer = child_index(value, date + timedelta(hours=1))
    assert _raw(answer).startswith(_raw(value)) and read_index(answer)[2] == 2


OFFSETS = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)


@given(
    at=st.datetimes(datetime(1990, 1, 1), datetime(2100, 1, 1), timezones=OFFSETS),
    guid=st.binary(min_size=16, max_size=16),
    laters=st.lists(st.timedeltas(-timedelta(days=1), timedelta(days=3650)), max_size=4),
)
def test_root_child_and_read_round_trip(at: datetime, guid: bytes, laters: list[timedelta]) -> None:
    value = root_index(at, guid)
    start, read_guid, replies = read_index(value)
    assert at - RESOLUTION < start <= at and read_guid == guid and replies == 0
    header = _header_ticks(value)
    for n, later in enumerate(laters, 1):
        child = child_index(value, at + later)
        assert _raw(child).startswith(_raw(value)) and read_index(child) == (start, guid, n)
        code, delta, random = _levels(child)[-1]
        diff = max(0, _ticks(at + later) - header)
        shift = 23 if code else 18
        assert code == (diff >= LONG) and random == 0
        assert delta << shift <= diff < (delta + 1) << shift  # the block keeps the time since
        value = child


def test_a_very_long_thread_stays_at_most_replies_deep() -> None:
    at = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    value = root_index(at, b"g" * 16)
    for n in range(MOST_REPLIES + 20):
        value = child_index(value, at + timedelta(minutes=n))
    assert read_index(value)[2] == MOST_REPLIES
    assert len("Thread-Index: " + value) <= 998
