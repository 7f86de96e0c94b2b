"""Picture checks that no file can make expensive for everyone: a hard budget per picture
in a process of its own, slots shared fairly between senders, and one download per turn."""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace

import pytest
from PIL import Image

from bot.core.features.media import OUTLOOK_VIEWER, Denial, Opened
from bot.media import strip
from bot.media.fair import FairGate
from bot.media.isolation import Budget, Isolated, OverBudget
from bot.media.ports import MediaRefused
from bot.media.rules import Checks, check
from bot.store.repository import DocumentStore
from tests.contracts.media_contract import png_bytes
from tests.unit.core_fakes import build_core, email, personal
from tests.unit.fakes import FakeClock

MB = 1024 * 1024


def spin() -> int:
    n = 0
    while True:
        n += 1


def hog() -> int:
    hoard = [bytearray(64 * MB) for _ in range(64)]  # 4 GB, far past the budget
    return len(hoard)


def refuse() -> bytes:
    raise strip.TooManyPixels(9000, 9000)


# the budget


def test_work_past_its_cpu_time_is_stopped() -> None:
    with pytest.raises(OverBudget):
        Isolated(Budget(cpu_seconds=1, wall_seconds=30)).run(spin)


def test_work_past_its_memory_is_stopped() -> None:
    with pytest.raises(OverBudget, match="memory"):
        Isolated(Budget(memory_bytes=512 * MB)).run(hog)


def test_work_past_its_time_is_stopped() -> None:
    with pytest.raises(OverBudget, match="no answer within"):
        Isolated(Budget(cpu_seconds=60, wall_seconds=0.5)).run(spin)


def test_within_budget_the_result_or_the_refusal_comes_back() -> None:
    isolated = Isolated(Budget())
    cleaned = isolated.run(strip.clean_by_key, "png", png_bytes())
    assert cleaned == strip.clean_png(png_bytes())
    with pytest.raises(strip.TooManyPixels) as refused:
        isolated.run(refuse)
    assert (refused.value.width, refused.value.height) == (9000, 9000)


def test_a_picture_over_budget_is_refused_in_one_line() -> None:
    with pytest.raises(MediaRefused) as refused:
        check(
            "beach.png",
            png_bytes(),
            clean=lambda found, data: Isolated(Budget(wall_seconds=0)).run(spin),
        )
    assert refused.value.reason == (
        "beach.png takes too much work to check; send a smaller or simpler copy."
    )


def progressive_jpeg(extra_scans: int) -> bytes:
    """A real progressive JPEG with its last scan repeated: thousands of tiny scans, each
    another pass over the picture when decoded."""
    out = io.BytesIO()
    Image.new("RGB", (256, 256), (200, 120, 40)).save(out, "JPEG", progressive=True)
    data = out.getvalue()
    last = data.rindex(b"\xff\xda")
    scan = data[last:-2]  # up to the end-of-image marker
    return data[:-2] + scan * extra_scans + b"\xff\xd9"


def test_a_jpeg_of_thousands_of_scans_is_refused_before_decoding() -> None:
    bomb = progressive_jpeg(10_000)
    assert len(bomb) > 100_000
    with pytest.raises(MediaRefused) as refused:
        check("IMG_0001.jpg", bomb, clean=Isolated(Budget()).run_clean)
    assert refused.value.reason == (
        "IMG_0001.jpg is a JPEG of 10,010 scans, more than any camera writes; "
        "save it again as an ordinary JPEG."
    )


def test_an_ordinary_progressive_jpeg_passes() -> None:
    accepted = check("IMG_0002.jpg", progressive_jpeg(0), clean=Isolated(Budget()).run_clean)
    assert accepted.content_type == "image/jpeg"


# fair slots


async def test_a_freed_slot_goes_to_the_next_person_in_turn() -> None:
    gate = FairGate(1)
    served: list[str] = []
    release = asyncio.Event()

    async def work(person: str, label: str) -> None:
        async with gate.slot(person):
            served.append(label)
            await release.wait()

    first = asyncio.create_task(work("mallory", "m1"))
    await asyncio.sleep(0)
    waiting = [
        asyncio.create_task(work(person, label))
        for person, label in [("mallory", "m2"), ("mallory", "m3"), ("bob", "b1"), ("cy", "c1")]
    ]
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, *waiting)
    assert served == ["m1", "m2", "b1", "c1", "m3"]


async def test_a_cancelled_wait_gives_its_turn_away() -> None:
    gate = FairGate(1)
    holding = asyncio.Event()
    release = asyncio.Event()

    async def hold() -> None:
        async with gate.slot("ann"):
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await holding.wait()
    gone = asyncio.create_task(hold())
    await asyncio.sleep(0)
    gone.cancel()
    release.set()
    await holder
    async with gate.slot("bob"):  # the slot is free again, not lost to the cancelled wait
        pass
    with pytest.raises(asyncio.CancelledError):
        await gone


async def test_checks_share_their_slots_between_senders() -> None:
    checks = Checks(at_once=1)
    results = await asyncio.gather(
        *(checks.run(f"p{n}.png", png_bytes(), by=who) for n, who in enumerate("aab"))
    )
    assert [r.content_type for r in results] == ["image/png"] * 3


# one download per turn


async def test_a_turn_sent_again_while_its_photo_is_downloading_downloads_it_once(
    store: DocumentStore, clock: FakeClock
) -> None:
    core = build_core(store, clock)
    await core.say("new lunch: bob@x.com")
    photo = core.photo("a1")
    core.attachments.hold = asyncio.Event()
    turn = replace(personal("look", key="photo-1"), media=(photo,))

    first = asyncio.create_task(core.conversation.handle(turn))
    for _ in range(20):
        await asyncio.sleep(0)
    again = await core.conversation.handle(turn)  # Teams, 15 s later, with no answer yet
    core.attachments.hold.set()
    await first

    assert again.text == "" and core.attachments.fetched == [photo.url]
    await core.relayed()
    (mail,) = core.outlook.mails
    assert mail.recent[-1].text == "[photo] look" and len(mail.media) == 1
    assert (await core.group("ann", "lunch")).has_member(email("bob"))


# Outlook links


async def test_a_mail_link_stops_opening_once_someone_it_was_mailed_to_has_left(
    store: DocumentStore, clock: FakeClock
) -> None:
    core = build_core(store, clock)
    await core.say("new lunch: bob@x.com, cy@x.com")
    await core.say_with_photo("the view", key="p2")
    await core.relayed()
    lunch = await core.group("ann", "lunch")
    (message,) = [m for m in await store.messages_of(lunch.group_id) if m.media]
    item = message.media[0]

    async def open_from_mail() -> object:
        opened = await core.built.media.open(
            lunch.tenant_id, lunch.group_id, message.message_id, item.media_id, OUTLOOK_VIEWER
        )
        if isinstance(opened, Opened):
            await opened.rest.aclose()
            return opened.first
        return opened

    assert await open_from_mail() == png_bytes()
    await core.say("remove lunch: bob@x.com")
    assert await open_from_mail() is Denial.LEFT_SINCE
