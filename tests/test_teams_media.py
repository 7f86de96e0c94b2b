"""Photos and files from Teams: stored once, shown to every other member through links of
Send's own that work for members only, and refused whole when they are not what they claim."""

from __future__ import annotations

import asyncio
import contextlib
import io
import random
import re
import socket
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import replace
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import aiohttp
import pytest
from aiohttp.resolver import DefaultResolver
from PIL import Image

from bot.config import Settings
from bot.core.turn.requests import IncomingMedia
from bot.media.ports import MediaRefused
from bot.teams.connector import BotTokens
from bot.teams.downloads import TeamsDownloads
from bot.teams.file_hosts import FileHosts, PublicResolver
from tests.conftest import running_app
from tests.contracts.media_contract import jpeg_with_gps, png_bytes, windows_program
from tests.fakes.connector import FakeConnector
from tests.outlook_helpers import eml_files, eventually, html_of, read_eml
from tests.teams_world import TeamsWorld, card_text

Json = dict[str, Any]
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n" + b"% filler\n" * 2000 + b"trailer <<>>\n%%EOF\n"


async def lunch(world: TeamsWorld) -> None:
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    for person in (ann, bob, cy):
        await world.install(person)
    await world.say(ann, f"new Lunch: {bob.email}, {cy.email}")


async def copy(world: TeamsWorld, person: Any, count: int) -> Json:
    """The person's `count`-th relayed card, once it arrived."""
    await world.wait_relayed(person, count)
    return world.relayed(person)[count - 1]


def media_files(data_dir: Path) -> list[Path]:
    root = data_dir / "media"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def images(card: Json) -> list[Json]:
    return [b for b in card["body"] if b["type"] == "Image"]


def downloads(card: Json) -> list[tuple[str, str]]:
    """(title, url) of each Download button in the card's body."""
    found = []
    for block in card["body"]:
        for item in block.get("items", []):
            for action in item.get("actions", []) if item.get("type") == "ActionSet" else []:
                if action["type"] == "Action.OpenUrl":
                    found.append((action["title"], action["url"]))
    return found


async def fetch(url: str) -> tuple[int, bytes, dict[str, str]]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.read(), dict(response.headers)


async def test_a_pasted_picture_with_a_caption_reaches_every_other_member(
    world: TeamsWorld, settings: Settings
) -> None:
    await lunch(world)
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    picture = png_bytes((64, 48))
    assert await world.paste(ann, picture, "Our table") == 200
    bob_card, cy_card = await copy(world, bob, 1), await copy(world, cy, 1)
    assert world.relayed(ann) == []  # no echo
    links = []
    for card in (bob_card, cy_card):
        (image,) = images(card)
        assert "Our table" in card_text(card)
        assert image["url"].startswith(f"{world.app_url}/media/")
        assert "/v3/attachments/" not in str(card)  # never the sender's Teams URL
        links.append(image["url"])
    assert links[0] != links[1]  # each reader's link is signed for them
    for link in links:
        status, body, headers = await fetch(link)
        assert status == 200
        assert body == picture  # a PNG without metadata is kept byte for byte
        assert headers["Content-Type"] == "image/png"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Content-Disposition"].startswith("inline;")
    assert len(media_files(settings.data_dir)) == 1  # stored once for all readers

    await world.say(ann, "history")
    assert "Ann: [photo] Our table" in world.last_reply(ann)


async def test_a_picture_loses_its_location_before_anyone_sees_it(world: TeamsWorld) -> None:
    await lunch(world)
    ann, bob = world.person("Ann"), world.person("Bob")
    await world.paste(ann, jpeg_with_gps())
    (image,) = images(await copy(world, bob, 1))
    status, body, _ = await fetch(image["url"])
    assert status == 200
    with Image.open(io.BytesIO(body)) as shown:
        assert shown.format == "JPEG"
        assert not shown.getexif().get_ifd(0x8825)  # no GPS block


async def test_a_file_reaches_members_as_a_download_card(
    world: TeamsWorld, settings: Settings
) -> None:
    await lunch(world)
    ann, bob = world.person("Ann"), world.person("Bob")
    assert await world.send_file(ann, "Menu été.pdf", PDF, "the menu") == 200
    card = await copy(world, bob, 1)
    text = card_text(card)
    assert "Menu été.pdf" in text and "17.6 KB" in text and "the menu" in text
    ((title, url),) = downloads(card)
    assert title == "Download"
    status, body, headers = await fetch(url)
    assert (status, body) == (200, PDF)
    assert headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"] == "attachment; filename*=UTF-8''Menu%20%C3%A9t%C3%A9.pdf"
    # The OneDrive link was opened without the bot's token (it is pre-authorised).
    assert world.connector.downloads == [("file", "")]
    await world.say(ann, "history")
    assert "[Menu été.pdf] the menu" in world.last_reply(ann)


async def test_a_program_named_png_is_refused_and_nothing_is_kept(
    world: TeamsWorld, settings: Settings
) -> None:
    await lunch(world)
    ann, bob = world.person("Ann"), world.person("Bob")
    assert await world.send_file(ann, "cat.png", windows_program(), "look") == 200
    reply = world.last_reply(ann)
    assert "cat.png" in reply and "Nothing was sent" in reply and "\n" not in reply
    # With a good picture in the same message: still nothing, not even the good one.
    url = world.connector.paste(png_bytes())
    bad = world.connector.upload_file(windows_program())
    activity = world.activity(
        ann,
        world.personal(ann),
        text="two",
        attachments=[
            {"contentType": "image/*", "contentUrl": url},
            {
                "contentType": "application/vnd.microsoft.teams.file.download.info",
                "name": "setup.pdf",
                "content": {"downloadUrl": bad, "fileType": "pdf"},
            },
        ],
    )
    assert await world.post(activity) == 200
    assert "setup.pdf" in world.last_reply(ann)
    await world.say(ann, "plain words")
    only = await copy(world, bob, 1)
    assert len(world.relayed(bob)) == 1 and "plain words" in card_text(only)
    assert images(only) == []
    assert media_files(settings.data_dir) == []


@pytest.fixture
async def small_world(
    settings: Settings, connector: tuple[FakeConnector, str]
) -> AsyncIterator[tuple[TeamsWorld, Settings]]:
    fake, connector_url = connector
    small = replace(settings, max_media_bytes=10_000)
    async with running_app(small) as url, TeamsWorld(url, fake, connector_url) as world:
        yield world, small


async def test_an_oversize_item_is_refused_with_the_limit(
    small_world: tuple[TeamsWorld, Settings],
) -> None:
    world, settings = small_world
    await lunch(world)
    ann, bob = world.person("Ann"), world.person("Bob")
    await world.send_file(ann, "big.pdf", PDF)
    assert world.last_reply(ann) == "big.pdf is 17.6 KB; the limit is 9.8 KB. Nothing was sent."
    noise = Image.frombytes("L", (200, 200), random.Random(15).randbytes(40_000))
    out = io.BytesIO()
    noise.save(out, "PNG")
    assert len(out.getvalue()) > 10_000
    await world.paste(ann, out.getvalue())
    assert world.last_reply(ann).startswith("Your picture is ")
    assert world.last_reply(ann).endswith("the limit is 9.8 KB. Nothing was sent.")
    assert world.relayed(bob) == []
    assert media_files(settings.data_dir) == []


async def test_a_removed_member_loses_the_picture(world: TeamsWorld) -> None:
    await lunch(world)
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    await world.paste(ann, png_bytes())
    (bob_image,) = images(await copy(world, bob, 1))
    (cy_image,) = images(await copy(world, cy, 1))
    assert (await fetch(bob_image["url"]))[0] == 200
    await world.say(ann, f"remove Lunch: {bob.email}")
    status, body, _ = await fetch(bob_image["url"])
    assert status == 403
    assert b"not one now" in body
    assert (await fetch(cy_image["url"]))[0] == 200  # the others keep theirs


async def test_a_changed_link_is_refused(world: TeamsWorld) -> None:
    await lunch(world)
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    await world.paste(ann, png_bytes())
    (image,) = images(await copy(world, bob, 1))
    split = urlsplit(image["url"])
    query = dict(parse_qsl(split.query))
    # Bob's link, made to look like Cy's: the signature no longer matches.
    cy_person_id = "aad-cy"
    forged = split._replace(query=urlencode({**query, "v": cy_person_id})).geturl()
    status, body, _ = await fetch(forged)
    assert status == 403 and b"not made by Send" in body
    status, _, _ = await fetch(split._replace(query="").geturl())
    assert status == 400
    assert len(world.relayed(cy)) == 1


async def test_deleting_the_group_deletes_its_pictures(
    world: TeamsWorld, settings: Settings
) -> None:
    await lunch(world)
    ann, bob = world.person("Ann"), world.person("Bob")
    await world.paste(ann, png_bytes())
    (image,) = images(await copy(world, bob, 1))
    assert len(media_files(settings.data_dir)) == 1
    await world.say(ann, "delete Lunch")
    assert media_files(settings.data_dir) == []
    assert (await fetch(image["url"]))[0] == 404


async def test_a_caption_that_starts_with_a_command_word_is_a_caption(world: TeamsWorld) -> None:
    await lunch(world)
    ann, bob = world.person("Ann"), world.person("Bob")
    await world.paste(ann, png_bytes(), "help me carry these")
    card = await copy(world, bob, 1)
    assert "help me carry these" in card_text(card) and len(images(card)) == 1


async def test_the_picker_holds_a_picture_until_a_group_is_picked(world: TeamsWorld) -> None:
    await lunch(world)
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    await world.say(ann, f"new Team: {cy.email}")
    await world.say(ann, f"new Temp: {cy.email}")
    await world.say(ann, "delete Temp")
    # Two groups and no active one: the picture waits on the picker.
    assert await world.paste(ann, png_bytes(), "which?") == 200
    picker = world.connector.cards_to(world.connector.chat_of(ann.user_id))[-1]
    pick = next(a for a in picker["actions"] if a["title"] == "Lunch")["data"]
    assert "[photo] which?" in card_text(picker)
    before = len(world.relayed(bob))

    forged = {**pick, "media": [{**pick["media"][0], "url": "http://127.0.0.1:1/secret"}]}
    await world.submit(ann, forged, "picker-1")
    assert "not made by Send for you" in world.last_reply(ann)
    assert len(world.relayed(bob)) == before

    await world.submit(ann, pick, "picker-1")
    card = await copy(world, bob, before + 1)
    assert len(images(card)) == 1 and "which?" in card_text(card)


async def test_a_token_goes_only_to_the_connector_the_activity_came_from(
    world: TeamsWorld,
) -> None:
    await lunch(world)
    ann, bob = world.person("Ann"), world.person("Bob")
    elsewhere = "http://127.0.0.2:9/v3/attachments/x/views/original"
    activity = world.activity(
        ann,
        world.personal(ann),
        text="",
        attachments=[{"contentType": "image/png", "contentUrl": elsewhere}],
    )
    assert await world.post(activity) == 200
    assert "not on Teams' own servers" in world.last_reply(ann)
    assert world.relayed(bob) == []


async def test_refusals_and_sizes_are_in_the_readers_language(world: TeamsWorld) -> None:
    """A French-speaking member reads the refusal, the size and the button in French; the
    same file reaches an English member's card in English."""
    ann, bob = world.person("Ann"), world.person("Bob")
    world.client(ann, "fr-FR", "Europe/Paris")
    await lunch(world)
    await world.send_file(ann, "chat.png", windows_program())
    assert world.last_reply(ann) == (
        "chat.png n'est ni une image ni un document que Send accepte "
        "(c'est un programme Windows). Rien n'a été envoyé."
    )
    world.client(bob, "fr-CA")
    await world.say(bob, "aide")  # Send learns his language from what Teams sends
    await world.send_file(ann, "Menu.pdf", PDF)
    card = await copy(world, bob, 1)
    assert "17,6 Ko" in card_text(card)
    assert downloads(card)[0][0] == "Télécharger"
    cy = world.person("Cy")
    english = await copy(world, cy, 1)
    assert "17.6 KB" in card_text(english) and downloads(english)[0][0] == "Download"


# where files are downloaded from


@pytest.mark.parametrize(
    "link",
    [
        "http://localhost:{port}/onedrive/{fid}?tempauth=v1",  # this machine, by name
        "https://127.0.0.2:{port}/onedrive/{fid}?tempauth=v1",  # an address nobody listed
        "https://169.254.169.254/latest/meta-data/",  # the cloud's metadata service
        "https://contoso.sharepoint.com.evil.example/f.pdf",
        "http://contoso.sharepoint.com/f.pdf",  # not https
        "ftp://127.0.0.1/f.pdf",
    ],
)
async def test_a_file_link_off_the_file_hosts_is_refused_and_never_requested(
    world: TeamsWorld, settings: Settings, link: str
) -> None:
    await lunch(world)
    ann, bob = world.person("Ann"), world.person("Bob")
    real = world.connector.upload_file(PDF)
    parts = urlsplit(real)
    url = link.format(port=parts.port, fid=parts.path.rsplit("/", 1)[-1])
    before = len(world.connector.downloads)

    assert await world.send_file_link(ann, "minutes.pdf", url, "see") == 200

    assert world.last_reply(ann) == (
        "minutes.pdf is not on Teams' own servers, so Send cannot open it. Nothing was sent."
    )
    assert len(world.connector.downloads) == before
    await world.say(ann, "plain words")
    assert "plain words" in card_text(await copy(world, bob, 1))
    assert media_files(settings.data_dir) == []


@pytest.mark.parametrize(
    "location",
    [
        "http://localhost:{port}/onedrive/{fid}?tempauth=v1",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "https://[::1]:{port}/onedrive/{fid}?tempauth=v1",
    ],
)
async def test_a_redirect_is_checked_like_the_link_itself(
    world: TeamsWorld, settings: Settings, location: str
) -> None:
    """SharePoint may redirect a download: where it goes is held to the same rule, so a
    listed link cannot send Send to this machine or the metadata service."""
    await lunch(world)
    ann = world.person("Ann")
    real = urlsplit(world.connector.upload_file(PDF))
    target = location.format(port=real.port, fid=real.path.rsplit("/", 1)[-1])
    moved = world.connector.moved_file(target)
    before = len(world.connector.downloads)

    assert await world.send_file_link(ann, "minutes.pdf", moved) == 200

    assert "not on Teams' own servers" in world.last_reply(ann)
    assert len(world.connector.downloads) == before + 1  # the listed link only
    assert media_files(settings.data_dir) == []


async def test_a_redirect_within_the_file_hosts_is_followed(
    world: TeamsWorld, settings: Settings
) -> None:
    await lunch(world)
    ann, bob = world.person("Ann"), world.person("Bob")
    moved = world.connector.moved_file(world.connector.upload_file(PDF))
    assert await world.send_file_link(ann, "minutes.pdf", moved, "minutes") == 200
    card = await copy(world, bob, 1)
    assert [title for title, _ in downloads(card)] == ["Download"]
    assert len(media_files(settings.data_dir)) == 1


async def test_a_listed_name_that_points_at_this_machine_is_never_connected_to() -> None:
    """The host rule reads names; DNS decides where a name goes. A listed name whose DNS
    answer is this machine (or the private network) is not connected to at all: a
    listener on this machine counts every connection made to it."""
    connections = 0

    async def count(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writer.close()

    listener = await asyncio.start_server(count, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    url = f"https://localhost:{port}/onedrive/1?tempauth=v1"
    file_connector = aiohttp.TCPConnector(resolver=PublicResolver(DefaultResolver()))
    try:
        async with (
            aiohttp.ClientSession() as plain,
            aiohttp.ClientSession(connector=file_connector) as files,
        ):
            downloads = TeamsDownloads(
                plain, files, BotTokens(Settings()), FileHosts(("localhost",))
            )
            item = IncomingMedia(url, "minutes.pdf", "pdf", needs_bot_token=False)
            with pytest.raises(MediaRefused) as refused:
                await downloads.fetch(item, "https://smba.trafficmanager.net/emea/", 1_000_000)
    finally:
        listener.close()
        await listener.wait_closed()
    assert refused.value.reason == "Send could not download minutes.pdf; send it again."
    assert connections == 0


def jpeg_of_scans(extra_scans: int) -> bytes:
    """A 4-megapixel progressive JPEG with its last scan repeated: about 5 ms of decoding
    per scan, so 10,000 of them would hold a core for close to a minute."""
    out = io.BytesIO()
    Image.new("RGB", (2000, 2000), (200, 120, 40)).save(out, "JPEG", progressive=True)
    data = out.getvalue()
    scan = data[data.rindex(b"\xff\xda") : -2]
    return data[:-2] + scan * extra_scans + b"\xff\xd9"


async def test_a_jpeg_of_10000_scans_is_refused_while_another_senders_photo_goes_through(
    world: TeamsWorld, settings: Settings
) -> None:
    await lunch(world)
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    bomb, photo = jpeg_of_scans(10_000), png_bytes()
    statuses = await asyncio.gather(
        world.send_file(ann, "IMG_0001.jpg", bomb, "look"),
        world.paste(bob, photo, "the view"),
    )
    assert list(statuses) == [200, 200]
    assert world.last_reply(ann) == (
        "IMG_0001.jpg is a JPEG of 10,010 scans, more than any camera writes; "
        "save it again as an ordinary JPEG. Nothing was sent."
    )
    from_bob = await copy(world, cy, 1)
    assert "the view" in card_text(from_bob) and len(images(from_bob)) == 1
    assert len(world.relayed(cy)) == 1  # nothing of Ann's
    assert len(media_files(settings.data_dir)) == 1


# serving media to slow readers


async def stalled_reader(link: str) -> socket.socket:
    """A client that asks for `link` and then never reads (a tiny receive window)."""
    parts = urlsplit(link)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (parts.hostname, parts.port))
    request = f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n"
    await loop.sock_sendall(sock, request.encode())
    return sock


async def status_of(link: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.get(link) as response:
        body = await response.read()
        return response.status, response.headers.get("Retry-After", "") or str(len(body))


@pytest.fixture
async def big_world(
    settings: Settings, connector: tuple[FakeConnector, str]
) -> AsyncIterator[tuple[TeamsWorld, str, str, bytes]]:
    """Files up to 40 MB, at most 5 downloads at once, 1 s per chunk for a reader; Ann has
    sent a 26 MB file to Bob and Cy: their two download links, and the file."""
    fake, connector_url = connector
    big = replace(settings, max_media_bytes=40 * 1024 * 1024)
    async with (
        running_app(big, media_write_timeout=1.0, media_transfers=5) as url,
        TeamsWorld(url, fake, connector_url) as world,
    ):
        await lunch(world)
        ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
        plans = b"%PDF-1.7\n" + b"% drawing of the new floor\n" * 1_000_000 + b"%%EOF\n"
        await world.send_file(ann, "plans.pdf", plans, "the plans")
        (_, bobs_link), (_, cys_link) = (
            downloads(await copy(world, bob, 1))[0],
            downloads(await copy(world, cy, 1))[0],
        )
        yield world, bobs_link, cys_link, plans


@contextlib.asynccontextmanager
async def stalled_readers(*links: str) -> AsyncIterator[list[socket.socket]]:
    readers: list[socket.socket] = []
    try:
        for link in links:
            readers.append(await stalled_reader(link))
        yield readers
    finally:
        for reader in readers:
            reader.close()


async def test_readers_that_never_read_hold_a_chunk_each_and_are_dropped(
    big_world: tuple[TeamsWorld, str, str, bytes],
) -> None:
    _, bobs_link, cys_link, plans = big_world
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        async with stalled_readers(bobs_link, bobs_link, cys_link, cys_link, cys_link):
            await asyncio.sleep(0.5)  # the server starts sending to each of them
            held, _ = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            # Whole files in memory would be 5 x 26 MB; a chunk each is about 1 MB in all.
            assert held - before < 8 * 1024 * 1024, held - before
            # Every slot is taken: a sixth download is told to come back in a minute.
            assert await status_of(bobs_link) == (503, "60")
            # Readers that take nothing within the write timeout are dropped.
            for _ in range(100):
                status, size = await status_of(bobs_link)
                if status == 200:
                    break
                await asyncio.sleep(0.2)
            assert (status, size) == (200, str(len(plans)))
    finally:
        tracemalloc.stop()


async def test_one_link_is_served_at_most_four_times_at_once(
    big_world: tuple[TeamsWorld, str, str, bytes],
) -> None:
    _, bobs_link, cys_link, plans = big_world
    async with stalled_readers(*[bobs_link] * 4):
        await asyncio.sleep(0.3)
        status, retry = await status_of(bobs_link)
        assert (status, retry) == (429, "60")
        assert await status_of(cys_link) == (200, str(len(plans)))


async def test_a_link_in_the_outlook_thread_stops_opening_once_a_recipient_has_left(
    world: TeamsWorld, settings: Settings
) -> None:
    """One mail serves everyone it went to, so its link cannot tell them apart: once one
    of them has left the group, the link answers 403 (they, and whoever they forwarded
    the mail to, read no more); members still have the file in Teams."""
    await lunch(world)
    ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
    big = b"%PDF-1.7\n" + b"% page of the report\n" * 200_000 + b"%%EOF\n"  # 4 MB: a link
    await world.send_file(ann, "report.pdf", big, "the report")
    await eventually(lambda: bool(eml_files(settings.data_dir, cy.email)), "Cy's mail")
    html = html_of(read_eml(eml_files(settings.data_dir, cy.email)[-1]))
    (link,) = {unescape(u) for u in re.findall(r'href="([^"]*/media/[^"]*)"', html)}
    assert "v=outlook-thread" in link
    assert await status_of(link) == (200, str(len(big)))
    async with aiohttp.ClientSession() as http, http.head(link) as response:
        assert response.status == 405  # a HEAD would get the streamed body

    await world.say(ann, f"remove Lunch: {bob.email}")
    async with aiohttp.ClientSession() as http, http.get(link) as response:
        assert response.status == 403
        assert "someone who has since left the group" in await response.text()
    # In Teams, Cy's own link still opens.
    (_, cys_link) = downloads(await copy(world, cy, 1))[0]
    assert await status_of(cys_link) == (200, str(len(big)))
