"""The group's Outlook thread written as .eml files when Graph is not configured."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from tests.conftest import running_app
from tests.fakes.connector import FakeConnector
from tests.outlook_helpers import (
    action_of,
    card_in,
    card_texts,
    eml_files,
    eventually,
    html_of,
    read_eml,
)
from tests.teams_world import TeamsWorld

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
    assert "</script><script>" not in html.split("<body>", 1)[1]
