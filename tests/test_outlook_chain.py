"""The local thread as a chain: each .eml answers the one before it (In-Reply-To the
previous mail, References the chain from the first, trimmed), with Thread-Topic and a
Thread-Index one reply block longer each time, across a restart and a retried mail."""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from itertools import pairwise
from pathlib import Path

from bot.config import Settings
from bot.core.model import MessageSummary, Source
from bot.core.ports import SendOutcome, ThreadMail
from bot.outlook.card import OutlookCards
from bot.outlook.eml import REFERENCES_KEPT, EmlRecorder
from bot.outlook.thread_index import read_index
from bot.outlook.tokens import CardTokens
from tests import mail_indexer
from tests.conftest import running_app
from tests.fakes.connector import FakeConnector
from tests.outlook_helpers import MovableClock, eml_files, eventually, read_eml
from tests.services import unavailable
from tests.teams_world import TeamsWorld
from tests.unit.media_fakes import MemoryVault

GROUP = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"


def index_depth(mail: EmailMessage) -> int:
    value = str(mail["Thread-Index"])
    assert len(base64.b64decode(value)) == 22 + 5 * read_index(value)[2]
    return read_index(value)[2]


def assert_chained(thread: list[EmailMessage]) -> None:
    """Each mail answers the one before; References run from the first; one GUID."""
    first = thread[0]
    assert first["In-Reply-To"] is None and first["References"] is None
    guid = read_index(str(first["Thread-Index"]))[1]
    for n, (parent, mail) in enumerate(pairwise(thread), start=1):
        assert mail["In-Reply-To"] == parent["Message-ID"], n
        refs = str(mail["References"]).split()
        assert refs[0] == first["Message-ID"] and refs[-1] == parent["Message-ID"]
        assert len(refs) == min(n, REFERENCES_KEPT)
        assert index_depth(mail) == n and read_index(str(mail["Thread-Index"]))[1] == guid
        assert str(mail["Thread-Index"]).startswith(str(first["Thread-Index"])[:28])
    for mail in thread:
        assert mail["Thread-Topic"] == "[Send] Lunch"


async def mails(data: Path, address: str, count: int) -> None:
    await eventually(lambda: len(eml_files(data, address)) == count, f"{count} mails")


def settings_for(data: Path) -> Settings:
    return Settings(
        data_dir=data,
        am_originator="originator",
        public_base_url="https://send.example",
        outlook_sender="send@contoso.com",
    )


async def test_every_mail_answers_the_previous_one_across_a_restart(
    tmp_path: Path, connector: tuple[FakeConnector, str]
) -> None:
    if not mail_indexer.available():
        unavailable(mail_indexer.MISSING)
    fake, connector_url = connector
    async with (
        running_app(settings_for(tmp_path)) as url,
        TeamsWorld(url, fake, connector_url) as world,
    ):
        ann, bob = world.person("Ann"), world.person("Bob")
        await world.install(ann)
        await world.install(bob)
        await world.say(ann, f"new Lunch: {bob.email}")
        for n, words in enumerate(("Pizza at 12?", "Or sushi?", "Sushi then"), start=1):
            await world.say(ann if n % 2 else bob, words)
            await mails(tmp_path, bob.email, n)
    # The same data directory, a new process: the chain goes on from the last mail.
    async with (
        running_app(settings_for(tmp_path)) as url,
        TeamsWorld(url, fake, connector_url) as world,
    ):
        bob = world.person("Bob")
        await world.install(bob)
        await world.say(bob, "See you there")
        await eventually(lambda: len(eml_files(tmp_path, bob.email)) == 4, "the 4th mail")
    for address in ("ann@contoso.com", "bob@contoso.com"):
        thread = [read_eml(p) for p in eml_files(tmp_path, address)]
        assert len(thread) == 4
        assert_chained(thread)
        # As a mail client sees it: notmuch finds one thread, in order, parent by parent.
        (indexed,) = mail_indexer.threads(eml_files(tmp_path, address)[0].parent)
        ids = [str(m["Message-ID"]).strip("<>") for m in thread]
        assert indexed.ids == ids
        assert [m.parent for m in indexed.messages] == [None, *ids[:-1]]
        assert [m.depth for m in indexed.messages] == [0, 1, 2, 3]


def _mail(n: int, thread_id: str) -> ThreadMail:
    line = MessageSummary(
        f"{n:032x}", "ann", "Ann", f"message {n}", datetime.now(UTC), Source.TEAMS
    )
    return ThreadMail(
        tenant_id="tenant-a",
        group_id=GROUP,
        group_name="Lunch",
        message_id=line.message_id,
        thread_id=thread_id,
        addresses=("ann@contoso.com",),
        recent=(line,),
    )


async def test_a_long_thread_trims_references_and_a_retry_keeps_its_place(
    tmp_path: Path,
) -> None:
    cards = OutlookCards("originator", "https://send.example", CardTokens(b"k" * 32), 2000)
    clock = MovableClock()
    recorder = EmlRecorder(tmp_path, "send@contoso.com", cards, clock, MemoryVault())
    first = await recorder.record(_mail(0, ""))
    assert first.outcome is SendOutcome.SENT
    for n in range(1, 15):
        assert (await recorder.record(_mail(n, first.thread_id))).outcome is SendOutcome.SENT
    # The last mail again (a retried delivery): the same file, the same place.
    last = read_eml(eml_files(tmp_path, "ann@contoso.com")[-1])
    await recorder.record(_mail(14, first.thread_id))
    files = eml_files(tmp_path, "ann@contoso.com")
    assert len(files) == 15
    again = read_eml(files[-1])
    for header in ("Message-ID", "In-Reply-To", "References", "Thread-Index"):
        assert again[header] == last[header], header
    thread = [read_eml(p) for p in files]
    assert_chained(thread)
    assert len(str(thread[-1]["References"]).split()) == REFERENCES_KEPT


async def test_a_mail_written_again_after_later_ones_keeps_its_place(tmp_path: Path) -> None:
    """A delivery resumed after a crash writes an earlier message's mail again, after
    later mails: it answers what it answered, in its own file, and the thread has no
    loop; a rename keeps the conversation's topic (Exchange keeps it too)."""
    cards = OutlookCards("originator", "https://send.example", CardTokens(b"k" * 32), 2000)
    recorder = EmlRecorder(tmp_path, "send@contoso.com", cards, MovableClock(), MemoryVault())
    first = await recorder.record(_mail(0, ""))
    await recorder.record(_mail(1, first.thread_id))
    await recorder.record(replace(_mail(2, first.thread_id), group_name="Dinner"))
    before = {p.name: p.read_bytes() for p in eml_files(tmp_path, "ann@contoso.com")}
    await recorder.record(_mail(1, first.thread_id))
    after = {p.name: p.read_bytes() for p in eml_files(tmp_path, "ann@contoso.com")}
    assert set(after) == set(before)  # the same files, none moved
    thread = [read_eml(p) for p in eml_files(tmp_path, "ann@contoso.com")]
    assert_chained(thread)
    assert thread[2]["Subject"] == "RE: [Send] Dinner"


async def test_one_mail_is_written_once_and_linked_into_every_mailbox(tmp_path: Path) -> None:
    cards = OutlookCards("originator", "https://send.example", CardTokens(b"k" * 32), 2000)
    recorder = EmlRecorder(tmp_path, "send@contoso.com", cards, MovableClock(), MemoryVault())
    people = tuple(f"member{n}@contoso.com" for n in range(20))
    result = await recorder.record(replace(_mail(0, ""), addresses=people))
    assert result.outcome is SendOutcome.SENT
    files = [eml_files(tmp_path, a) for a in people]
    assert all(len(f) == 1 for f in files)
    assert len({f[0].stat().st_ino for f in files}) == 1  # one file, 20 names
    assert files[0][0].stat().st_nlink == 20
    mail = read_eml(files[0][0])
    # To: written as given, folded between addresses, read back whole by a mail parser.
    assert [a.addr_spec for a in mail["To"].addresses] == list(people)
    lines = files[0][0].read_bytes().split(b"\r\n")
    start = next(n for n, line in enumerate(lines) if line.startswith(b"To: "))
    end = next(n for n in range(start + 1, len(lines)) if not lines[n].startswith(b" "))
    assert end - start > 1 and all(len(line) <= 78 for line in lines[start:end])
    # A retry replaces its own file in every mailbox: still one name each, one file.
    await recorder.record(replace(_mail(0, ""), addresses=people))
    again = [eml_files(tmp_path, a) for a in people]
    assert again == files


async def test_a_temporary_file_left_by_a_crash_is_replaced_not_written_into(
    tmp_path: Path,
) -> None:
    """A crash between linking a mail under its temporary name and renaming it leaves a
    link to that mail (in every other folder too): the retry writes a file of its own
    there, and the mail the link shared is untouched."""
    cards = OutlookCards("originator", "https://send.example", CardTokens(b"k" * 32), 2000)
    recorder = EmlRecorder(tmp_path, "send@contoso.com", cards, MovableClock(), MemoryVault())
    people = ("ann@contoso.com", "bob@contoso.com")
    first = await recorder.record(replace(_mail(0, ""), addresses=people))
    second = replace(_mail(1, first.thread_id), addresses=people)
    await recorder.record(second)
    old, new = eml_files(tmp_path, "ann@contoso.com")
    kept = old.read_bytes()
    new.unlink()
    leftover = new.with_name(f".{new.name}.tmp")
    leftover.hardlink_to(eml_files(tmp_path, "bob@contoso.com")[0])  # the first mail
    assert (await recorder.record(second)).outcome is SendOutcome.SENT
    assert eml_files(tmp_path, "bob@contoso.com")[0].read_bytes() == kept
    assert old.read_bytes() == kept
    assert read_eml(new)["Message-ID"] != read_eml(old)["Message-ID"]
    assert not leftover.exists()


async def test_a_mailbox_folder_removed_meanwhile_is_made_again(tmp_path: Path) -> None:
    cards = OutlookCards("originator", "https://send.example", CardTokens(b"k" * 32), 2000)
    recorder = EmlRecorder(tmp_path, "send@contoso.com", cards, MovableClock(), MemoryVault())
    first = await recorder.record(_mail(0, ""))
    for path in eml_files(tmp_path, "ann@contoso.com"):
        path.unlink()
    recorder.mailbox("ann@contoso.com").rmdir()
    retried = await recorder.record(_mail(1, first.thread_id))
    assert retried.outcome is SendOutcome.RETRY  # said, not lost: the delivery tries again
    assert (await recorder.record(_mail(1, first.thread_id))).outcome is SendOutcome.SENT
    assert len(eml_files(tmp_path, "ann@contoso.com")) == 1
