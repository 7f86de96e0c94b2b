"""A picture goes around the whole product: pasted in Teams, it is in every other member's
Teams card and in the Outlook thread's mail; attached to a Reply All in Outlook, it is in
the Teams members' cards. The bytes behind every link are the bytes that were sent."""

from __future__ import annotations

from email.message import EmailMessage

import aiohttp
import pytest

from bot.config import Settings
from tests.conftest import Inbound
from tests.contracts.media_contract import png_bytes
from tests.fakes.graph import FakeGraph
from tests.fakes.graph_inbound import MailAttachment
from tests.outlook_helpers import eml_files, eventually, read_eml
from tests.teams_world import TeamsWorld, card_text

CY = "cy@contoso.com"  # in Outlook only: she never opened Send in Teams


async def fetch(url: str) -> bytes:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200, await response.text()
        return await response.read()


def picture_links(card: dict[str, object]) -> list[str]:
    body = card["body"]
    assert isinstance(body, list)
    return [str(b["url"]) for b in body if b["type"] == "Image"]


async def test_a_pasted_picture_is_in_teams_and_in_the_graph_thread(inbound: Inbound) -> None:
    world, graph = inbound.world, inbound.graph
    ann, bob = world.person("Ann"), world.person("Bob")
    await world.install(ann)
    await world.install(bob)
    await world.say(ann, f"new Lunch: {bob.email}, {CY}")
    picture = png_bytes((80, 60))
    assert await world.paste(ann, picture, "The terrace is free") == 200

    await world.wait_relayed(bob, 1)
    (link,) = picture_links(world.relayed(bob)[0])
    assert await fetch(link) == picture
    await eventually(lambda: len(graph.mailbox(CY)) == 1, "the thread's mail")
    mail = graph.mailbox(CY)[0]
    (attached,) = FakeGraph.attachments(mail)
    assert (attached.data, attached.is_inline, attached.content_type) == (
        picture,
        True,
        "image/png",
    )
    assert f"cid:{attached.content_id}" in mail["body"]["content"]
    assert "The terrace is free" in mail["body"]["content"]


async def test_a_picture_in_a_reply_all_reaches_teams(inbound: Inbound) -> None:
    world, graph = inbound.world, inbound.graph
    ann, bob = world.person("Ann"), world.person("Bob")
    await world.install(ann)
    await world.install(bob)
    await world.say(ann, f"new Lunch: {bob.email}, {CY}")
    await world.say(ann, "Where do we sit?")
    await eventually(lambda: len(graph.mailbox(CY)) == 1, "the first mail")
    picture = png_bytes((40, 30))
    await graph.user_reply_all(
        CY,
        graph.mailbox(CY)[0]["id"],
        "<p>Here, by the window</p>",
        attachments=[MailAttachment("window.png", "image/png", picture)],
    )
    for person in (ann, bob):
        await world.wait_relayed(person, 1 if person is ann else 2)
        card = world.relayed(person)[-1]
        assert card_text(card).startswith("Cy ") and "Here, by the window" in card_text(card)
        (link,) = picture_links(card)
        assert await fetch(link) == picture
    await world.say(ann, "history")
    assert "Cy: [photo] Here, by the window" in world.last_reply(ann)


@pytest.mark.both_stores
async def test_a_pasted_picture_is_an_image_part_of_the_local_mail(
    world: TeamsWorld, settings: Settings
) -> None:
    ann, bob = world.person("Ann"), world.person("Bob")
    await world.install(ann)
    await world.install(bob)
    await world.say(ann, f"new Lunch: {bob.email}")
    picture = png_bytes((20, 20))
    await world.paste(ann, picture)
    await eventually(lambda: len(eml_files(settings.data_dir, bob.email)) == 1, "the mail")
    mail = read_eml(eml_files(settings.data_dir, bob.email)[0])
    assert isinstance(mail, EmailMessage)
    images = [p for p in mail.walk() if p.get_content_type() == "image/png"]
    (image,) = images
    assert image.get_payload(decode=True) == picture
    html = next(p for p in mail.walk() if p.get_content_type() == "text/html")
    content_id = str(image["Content-ID"]).strip("<>")
    assert f"cid:{content_id}" in str(html.get_content())
