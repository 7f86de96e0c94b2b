"""The group's Outlook thread written as .eml files when Graph is not configured."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from bot.config import Settings
from bot.core.model import MessageSummary, Source
from bot.core.ports import SendOutcome, ThreadMail
from bot.outlook.card import OutlookCards
from bot.outlook.eml import LOG_LINES, MAIL_POLICY, EmlRecorder
from bot.outlook.thread_index import root_index
from bot.outlook.tokens import CardTokens
from tests.conftest import running_app
from tests.fakes.connector import FakeConnector
from tests.outlook_helpers import (
    MovableClock,
    action_of,
    card_in,
    card_texts,
    eml_files,
    eventually,
    html_of,
    is_msg_id,
    msg_ids,
    raw_headers,
    read_eml,
)
from tests.teams_world import TeamsWorld
from tests.unit.media_fakes import MemoryVault

ORIGINATOR = "8a2b1c3d-aaaa-4bbb-8ccc-0123456789ab"


@pytest.fixture
async def local(
    tmp_path: Path, connector: tuple[FakeConnector, str]
) -> AsyncIterator[tuple[TeamsWorld, Path]]:
    fake, connector_url = connector
    settings = Settings(
        data_dir=tmp_path,
        am_originator=ORIGINATOR,
        public_base_url="https://send.example",
        outlook_sender="send@contoso.com",
    )
    async with running_app(settings) as url, TeamsWorld(url, fake, connector_url) as world:
        yield world, tmp_path


async def test_two_messages_make_one_thread_in_every_mailbox(
    local: tuple[TeamsWorld, Path],
) -> None:
    world, data = local
    ann, bob = world.person("Ann"), world.person("Bob")
    await world.install(ann)
    await world.install(bob)
    await world.say(ann, f"new Lunch: {bob.email}, carol@contoso.com")
    await world.say(ann, "Pizza at 12?")
    await world.say(bob, "Yes!")
    await world.wait_relayed(ann, 1)
    for address in (ann.email, bob.email, "carol@contoso.com"):
        await eventually(lambda a=address: len(eml_files(data, a)) == 2, address)  # type: ignore[misc]
        first, second = (read_eml(p) for p in eml_files(data, address))
        assert first["Subject"] == "[Send] Lunch"
        assert second["Subject"] == "RE: [Send] Lunch"
        assert second["In-Reply-To"] == first["Message-ID"]
        assert second["References"] == first["Message-ID"]
        assert first["From"] == "Send <send@contoso.com>"
        assert address in second["To"]
        root = written_ids(eml_files(data, address)[0].read_bytes())
        answer = written_ids(eml_files(data, address)[1].read_bytes())
        assert answer["In-Reply-To"] == answer["References"] == root["Message-ID"]
    mail = read_eml(eml_files(data, "carol@contoso.com")[1])
    card = card_in(html_of(mail))
    assert card["version"] == "1.0" and card["originator"] == ORIGINATOR
    assert card_texts(card)[0] == "Lunch"
    assert "Pizza at 12?" in card_texts(card)[2] and "Yes\\!" in card_texts(card)[4]
    action = action_of(card)
    assert action["url"] == "https://send.example/api/outlook/actions"
    assert action["method"] == "POST"
    assert '"reply": "{{reply.value}}"' in action["body"]
    assert any(b.get("type") == "Input.Text" and b["id"] == "reply" for b in card["body"])
    plain = mail.get_body(("plain",))
    assert plain is not None and "Yes!" in str(plain.get_content())


async def test_membership_changes_and_outlook_off(local: tuple[TeamsWorld, Path]) -> None:
    world, data = local
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    for person in (ann, bob, cy):
        await world.install(person)
    await world.say(ann, f"new Lunch: {bob.email}")
    await world.say(ann, "one")
    await eventually(lambda: len(eml_files(data, bob.email)) == 1, "mail")
    await world.say(ann, f"add lunch: {cy.email}")
    await world.say(bob, "outlook off")
    await world.say(ann, "two")
    await eventually(lambda: len(eml_files(data, cy.email)) == 1, "mail")
    root = read_eml(eml_files(data, ann.email)[0])["Message-ID"]
    assert read_eml(eml_files(data, cy.email)[0])["In-Reply-To"] == root
    await world.say(ann, f"remove lunch: {cy.email}")
    await world.say(bob, "outlook on")
    await world.say(ann, "three")
    await eventually(lambda: len(eml_files(data, ann.email)) == 3, "mail")
    await eventually(lambda: len(eml_files(data, bob.email)) == 2, "mail")
    assert len(eml_files(data, cy.email)) == 1  # removed: no more mail
    texts = [card_texts(card_in(html_of(read_eml(p))))[-1] for p in eml_files(data, bob.email)]
    assert texts == ["one", "three"]  # nothing while Outlook copies were off


@pytest.mark.parametrize(
    "hostile",
    [
        "</script><script>alert('x')</script>",
        'He said "hi" & left <b>bold</b> \\ back',
        "🎉 emoji and שלום עולם and مرحبا",
        "**not bold** [not a link](https://evil.example)",
    ],
)
async def test_hostile_text_stays_text(local: tuple[TeamsWorld, Path], hostile: str) -> None:
    world, data = local
    ann, bob = world.person("Ann"), world.person("Bob")
    await world.install(ann)
    await world.say(ann, f"new Lunch: {bob.email}")
    await world.say(ann, hostile)
    await eventually(lambda: len(eml_files(data, bob.email)) == 1, "mail")
    html = html_of(read_eml(eml_files(data, bob.email)[0]))
    card = card_in(html)  # exactly one script element, and its JSON parses
    shown = card_texts(card)[-1]
    # Markdown escapes only: removing the backslashes gives back what was typed.
    assert shown.replace("\\", "") == hostile.replace("\\", "")
    assert "<script>alert" not in html.split("</script>", 1)[1]
    assert "</script><script>" not in html.split("<body", 1)[1]


# Message-ID, In-Reply-To and References: plain msg-ids, never encoded-words.

MSG_ID_HEADERS = ("Message-ID", "In-Reply-To", "References")


def written_ids(data: bytes) -> dict[str, list[str]]:
    """The msg-ids of each msg-id header of a written mail, read strictly (RFC 5322)."""
    fields = raw_headers(data)
    for name in MSG_ID_HEADERS:
        assert [n for n, _ in fields].count(name) <= 1, f"{name} twice"
    return {name: msg_ids(value) for name, value in fields if name in MSG_ID_HEADERS}


def an_id(length: int, seed: str = "a") -> str:
    """A plain msg-id of exactly `length` characters."""
    domain = "@send.local>"
    left = (seed + "0123456789abcdef.x") * 20
    left = left[: length - 1 - len(domain)].strip(".")
    left = left + "z" * (length - 1 - len(domain) - len(left))
    made = f"<{left}@send.local>"
    assert len(made) == length and is_msg_id(made), made
    return made


def recorder(tmp_path: Path) -> EmlRecorder:
    cards = OutlookCards(ORIGINATOR, "https://send.example", CardTokens(b"k" * 32), 2000)
    return EmlRecorder(tmp_path, "send@contoso.com", cards, MovableClock(), MemoryVault())


def thread_mail(message_id: str, group_id: str, thread_id: str) -> ThreadMail:
    summary = MessageSummary(message_id, "ann", "Ann", "hi", datetime.now(UTC), Source.TEAMS)
    return ThreadMail(
        tenant_id="tenant-a",
        group_id=group_id,
        group_name="Lunch",
        message_id=message_id,
        thread_id=thread_id,
        addresses=("ann@contoso.com",),
        recent=(summary,),
    )


@pytest.mark.slow
async def test_msg_ids_of_every_length_are_written_plain(tmp_path: Path) -> None:
    mail_dir = recorder(tmp_path)
    for length in range(20, 301):
        # Message-ID is <message id.group id@send.local>: 14 characters around the ids.
        message_id, group_id = f"m{length}".ljust(length - 16, "f"), "g1"
        thread_id = an_id(length, seed="r")
        before = set(eml_files(tmp_path, "ann@contoso.com"))
        result = await mail_dir.record(thread_mail(message_id, group_id, thread_id))
        assert result.outcome is SendOutcome.SENT and result.thread_id == thread_id
        (path,) = set(eml_files(tmp_path, "ann@contoso.com")) - before
        ids = written_ids(path.read_bytes())
        assert ids == {
            "Message-ID": [f"<{message_id}.{group_id}@send.local>"],
            "In-Reply-To": [thread_id],
            "References": [thread_id],
        }, length
        assert len(ids["Message-ID"][0]) == length
        # What a mail client reads back is the same id.
        assert read_eml(path)["In-Reply-To"] == thread_id


async def test_a_first_mail_of_every_length_starts_the_thread_with_its_own_id(
    tmp_path: Path,
) -> None:
    mail_dir = recorder(tmp_path)
    for length in range(20, 301, 7):
        message_id = f"m{length}".ljust(length - 16, "e")
        before = set(eml_files(tmp_path, "ann@contoso.com"))
        result = await mail_dir.record(thread_mail(message_id, "g1", ""))
        (path,) = set(eml_files(tmp_path, "ann@contoso.com")) - before
        assert written_ids(path.read_bytes()) == {"Message-ID": [result.thread_id]}
        assert len(result.thread_id) == length


async def test_a_thread_id_that_is_no_msg_id_starts_the_thread_again(tmp_path: Path) -> None:
    """A Graph message id (kept from when Graph was configured) is not answered in a file."""
    graph_id = "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AAAA="
    result = await recorder(tmp_path).record(thread_mail("m1", "g1", graph_id))
    assert result.outcome is SendOutcome.SENT and result.thread_id == "<m1.g1@send.local>"
    (path,) = eml_files(tmp_path, "ann@contoso.com")
    assert written_ids(path.read_bytes()) == {"Message-ID": ["<m1.g1@send.local>"]}
    assert read_eml(path)["Subject"] == "[Send] Lunch"


def test_references_of_1_to_50_ids_fold_between_ids() -> None:
    lengths = list(range(20, 301, 11))
    for count in range(1, 51):
        ids = [an_id(lengths[(count + n) % len(lengths)], seed=f"{n}") for n in range(count)]
        mail = EmailMessage(policy=MAIL_POLICY)
        mail["Message-ID"] = ids[0]
        mail["In-Reply-To"] = ids[-1]
        mail["References"] = " ".join(ids)
        mail.set_content("x")
        data = bytes(mail)
        assert written_ids(data) == {
            "Message-ID": [ids[0]],
            "In-Reply-To": [ids[-1]],
            "References": ids,
        }
        # Folded only between ids: every continuation line is one space and one id, and
        # a line is longer than 78 characters only when one id alone makes it so.
        head = data.partition(b"\r\n\r\n")[0].decode("ascii").split("\r\n")
        start = next(n for n, line in enumerate(head) if line.startswith("References:"))
        block = [head[start]]
        for line in head[start + 1 :]:
            if not line.startswith(" "):
                break
            block.append(line)
        assert [id_ for line in block for id_ in line.removeprefix("References:").split()] == ids
        for line in block[1:]:
            assert line.startswith(" <") and line.endswith(">") and not line.startswith("  ")
        for line in block:
            assert len(line) <= 78 or len(line.removeprefix("References:").split()) == 1
        # A mail client reads the same list back.
        parsed = message_from_bytes(data, policy=policy.default)
        assert parsed["References"].split() == ids


def test_a_value_that_is_no_msg_id_is_refused_not_encoded() -> None:
    mail = EmailMessage(policy=MAIL_POLICY)
    mail["In-Reply-To"] = "not a msg-id"
    mail.set_content("x")
    with pytest.raises(ValueError, match="plain msg-ids"):
        bytes(mail)


async def test_the_thread_goes_on_from_its_log_after_many_mails_a_cut_line_and_a_restart(
    tmp_path: Path,
) -> None:
    """Each mail's place is appended to its group's log; the log is written again, short,
    past `LOG_LINES`; a line cut short by a crash is skipped and never joined."""
    first = recorder(tmp_path)
    thread = (await first.record(thread_mail("m0", "g1", ""))).thread_id
    for n in range(1, LOG_LINES + 10):
        await first.record(thread_mail(f"m{n}", "g1", thread))
    log = tmp_path / "outlook" / ".threads" / "g1.jsonl"
    assert 0 < len(log.read_text().splitlines()) <= LOG_LINES
    last = f"<m{LOG_LINES + 9}.g1@send.local>"
    with log.open("a") as cut:
        cut.write('{"id": "<m999.g1@send.local>", "root"')  # the crash
    again = recorder(tmp_path)
    await again.record(thread_mail("next", "g1", thread))
    (path,) = [p for p in eml_files(tmp_path, "ann@contoso.com") if p.name.endswith("next.eml")]
    assert read_eml(path)["In-Reply-To"] == last
    lines = log.read_text().splitlines()
    assert log.read_text().endswith("\n")
    assert json.loads(lines[-1])["id"] == "<next.g1@send.local>"
    assert all(isinstance(json.loads(line), dict) for line in lines)


async def test_a_chain_kept_the_older_way_is_read_once(tmp_path: Path) -> None:
    """Before the log, a group's places were one JSON file: the thread goes on from it."""
    older = tmp_path / "outlook" / ".threads" / "g1.json"
    older.parent.mkdir(parents=True)
    place = {
        "id": "<m7.g1@send.local>",
        "root": "<m0.g1@send.local>",
        "references": ["<m0.g1@send.local>"],
        "index": root_index(datetime(2026, 12, 1, tzinfo=UTC), b"g" * 16),
        "topic": "[Send] Lunch",
        "stamp": "20261201T100000000000",
    }
    older.write_text(json.dumps({"places": [place]}))
    await recorder(tmp_path).record(thread_mail("m8", "g1", "<m0.g1@send.local>"))
    (path,) = eml_files(tmp_path, "ann@contoso.com")
    mail = read_eml(path)
    assert mail["In-Reply-To"] == "<m7.g1@send.local>"
    assert mail["References"].split() == ["<m0.g1@send.local>", "<m7.g1@send.local>"]
    assert mail["Thread-Topic"] == "[Send] Lunch"
