"""French and English side by side, through the real app: each person reads Send in the
language and time zone their Teams client says; the Outlook mail in most members' language."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.core.texts.fr import NBSP
from tests.conftest import running_app
from tests.fakes.connector import FakeConnector
from tests.outlook_helpers import action_of, card_in, eml_files, eventually, html_of, read_eml
from tests.teams_world import TeamsWorld, card_text


async def test_each_member_reads_send_in_their_own_language(world: TeamsWorld) -> None:
    ann, bob = world.person("Ann"), world.person("Bob")
    world.client(ann, "fr-FR", "Asia/Tokyo")
    for person in (ann, bob):
        await world.install(person)
    assert world.last_reply(ann).startswith("Bonjour, je suis Send.")
    assert world.last_reply(bob).startswith("Hi, I am Send.")

    await world.say(ann, "aide")
    assert world.last_reply(ann).startswith("Send transmet vos messages")
    await world.say(ann, "help")  # an English word, answered in her language
    assert "- nouveau <nom>" in world.last_reply(ann)

    await world.say(ann, f"nouveau Cantine : {bob.email}")
    assert world.last_reply(ann).startswith("Cantine est créé avec Bob.")
    await world.connector.wait_for(
        lambda: any("added you to Cantine" in t for t in world.replies(bob)),
        what="Bob's welcome, in English",
    )
    await world.say(ann, "membres")
    assert world.last_reply(ann).startswith(f"Cantine a 2 membres{NBSP}:")
    await world.say(bob, "members Cantine")
    assert world.last_reply(bob).startswith("Cantine has 2 members:")

    await world.say(ann, "On y va à midi ?")
    await world.wait_relayed(bob, 1)
    card = world.relayed(bob)[0]
    assert "  in Cantine" in card_text(card)
    assert card["actions"][0]["title"] == "Reply"
    await world.say(bob, "Yes, see you there")
    await world.wait_relayed(ann, 1)
    french = world.relayed(ann)[0]
    assert "  dans Cantine" in card_text(french)
    assert french["actions"][0]["title"] == "Répondre"
    # The line Teams shows in the chat list and notifications, in each reader's language
    # (of the relayed copies: a sender's receipt has a line of its own).
    summaries = {
        r.conversation_id: r.activity.get("summary")
        for r in world.connector.received
        if any(
            a.get("data", {}).get("sendAction") == "reply"
            for att in r.activity.get("attachments") or []
            for a in (att.get("content") or {}).get("actions", [])
        )
    }
    assert summaries[world.connector.chat_of(ann.user_id)] == "Bob dans Cantine"
    assert summaries[world.connector.chat_of(bob.user_id)] == "Ann in Cantine"
    answers = [a["title"] for a in french["body"][2]["actions"]]
    assert answers == ["Oui", "Non", "J'arrive", "Bien reçu"]

    await world.say(ann, "historique")
    await world.say(bob, "history Cantine")
    ann_lines = world.last_reply(ann).splitlines()
    bob_lines = world.last_reply(bob).splitlines()
    assert ann_lines[0] == f"Les 2 derniers messages dans Cantine{NBSP}:"
    assert bob_lines[0] == "The last 2 messages in Cantine:"
    # Same messages; Bob's zone is unknown (UTC, said so), Ann's is Tokyo (UTC+9).
    utc = re.match(r"- (\d\d):(\d\d) UTC Ann: ", bob_lines[1])
    tokyo = re.match(rf"- (\d\d):(\d\d) Ann{NBSP}: ", ann_lines[1])
    assert utc and tokyo, (bob_lines, ann_lines)
    assert int(tokyo[1]) == (int(utc[1]) + 9) % 24 and tokyo[2] == utc[2]
    assert "UTC" not in world.last_reply(ann)


async def test_pour_needs_its_colon_and_a_group(world: TeamsWorld) -> None:
    ann, bob = world.person("Ann"), world.person("Bob")
    world.client(ann, "fr-CA")
    for person in (ann, bob):
        await world.install(person)
    await world.say(ann, f"nouveau Cantine : {bob.email}")
    await world.say(ann, "pour info : la salle a changé")  # no group "info": a message
    await world.say(ann, "pour Cantine : on garde midi")
    await world.wait_relayed(bob, 2)
    texts = [card_text(c) for c in world.relayed(bob)]
    assert "pour info : la salle a changé" in texts[0] and "on garde midi" in texts[1]


@pytest.fixture
async def local(
    tmp_path: Path, connector: tuple[FakeConnector, str]
) -> AsyncIterator[tuple[TeamsWorld, Path]]:
    fake, connector_url = connector
    settings = Settings(
        data_dir=tmp_path, public_base_url="https://send.example", outlook_sender="send@contoso.com"
    )
    async with running_app(settings) as url, TeamsWorld(url, fake, connector_url) as world:
        yield world, tmp_path


async def test_a_mostly_french_group_gets_a_french_mail_that_says_so(
    local: tuple[TeamsWorld, Path],
) -> None:
    world, data = local
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    world.client(ann, "fr-FR", "Europe/Paris")
    world.client(bob, "fr-BE", "Europe/Paris")
    for person in (ann, bob, cy):
        await world.install(person)
    await world.say(ann, f"nouveau Cantine : {bob.email}, {cy.email}")
    await world.say(ann, "On y va ?")
    await eventually(lambda: len(eml_files(data, cy.email)) == 1, cy.email)
    mail = read_eml(eml_files(data, cy.email)[0])
    assert mail["Subject"] == "[Send] Cantine"  # the contract's subject, in every language
    html = html_of(mail)
    assert "Répondez à tous pour écrire au groupe" in html
    assert "Send écrit ce fil en français, la langue de la plupart de ses membres." in html
    card = card_in(html)
    assert action_of(card)["title"] == "Envoyer la réponse"
    assert [a["title"] for a in card["actions"][1:]] == [
        "Oui",
        "Non",
        "J'arrive",
        "Bien reçu",
        "Gérer",
    ]
    plain = mail.get_body(("plain",))
    assert plain is not None and "Send écrit ce fil en français" in str(plain.get_content())
    # All recipients with a known zone are in Paris: the time is Paris time, no "UTC".
    assert "UTC" not in html
