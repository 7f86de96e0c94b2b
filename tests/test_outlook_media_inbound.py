"""Photos and files in a mail written in Outlook reach the group (fake Graph, real store)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest

from bot.core.features.media import Media
from bot.core.model import Group, MediaKind, Member, Message, Person, StoredMedia, TeamsReach
from bot.core.ports import OpenedChat, RelayedMessage, SendOutcome, SendResult
from bot.graph.client import GRAPH_SCOPE, GraphClient
from bot.identity import ClientCredentials
from bot.media.disk import DiskMediaStore
from bot.outlook.directory import GraphDirectory
from bot.outlook.inbound import OutlookInbox
from bot.store.repository import DocumentStore
from bot.store.sqlite_documents import SqliteDocuments
from tests.conftest import GRAPH_CLIENT, GRAPH_SECRET, GRAPH_TENANT, OUTLOOK_SENDER
from tests.contracts.media_contract import png_bytes
from tests.fakes.entra import FakeEntra
from tests.fakes.graph import FakeGraph
from tests.fakes.graph_inbound import MailAttachment
from tests.outlook_helpers import MovableClock
from tests.unit.core_fakes import relay_over
from tests.unit.media_fakes import FakeAttachments

SENDER = OUTLOOK_SENDER
CY = "cy@contoso.com"


@dataclass
class Queue:
    submitted: list[Message] = field(default_factory=list)

    def claim(self, now: datetime) -> tuple[str, datetime]:
        return "test", now

    def submit(self, message: Message, group: Group, people: Sequence[Person]) -> None:
        self.submitted.append(message)

    def resume(self, message: Message, group: Group, people: Sequence[Person]) -> None:
        self.submitted.append(message)

    def submit_unfiled(
        self, message: Message, group: Group, people: Sequence[Person]
    ) -> asyncio.Future[Message | None]:
        self.submitted.append(message)  # a delivery that never ends: the group holds it
        return asyncio.get_running_loop().create_future()


@dataclass
class Notices:
    sent: list[tuple[str, str]] = field(default_factory=list)

    async def send_message(self, person: Person, message: RelayedMessage) -> SendResult:
        raise AssertionError("the inbox sends no messages itself")

    async def update_message(
        self, person: Person, activity_id: str, message: RelayedMessage
    ) -> SendResult:
        raise AssertionError("the inbox updates no messages")

    async def delete_message(self, person: Person, activity_id: str) -> SendResult:
        raise AssertionError("the inbox deletes no messages")

    async def send_notice(self, person: Person, text: str) -> SendResult:
        self.sent.append((person.person_id, text))
        return SendResult(SendOutcome.SENT)

    async def send_receipt(self, person: Person, text: str) -> SendResult:
        raise AssertionError("a message from Outlook has no receipt in Teams")

    async def update_receipt(self, person: Person, activity_id: str, text: str) -> SendResult:
        raise AssertionError("a message from Outlook has no receipt in Teams")

    async def open_chat(self, person: Person, service_url: str, bot_id: str) -> OpenedChat:
        raise AssertionError("the inbox opens no chats")


class Links:
    def link(self, item: StoredMedia, message_id: str, viewer_id: str) -> str:
        return f"https://send.example/media/{item.media_id}"


@dataclass
class Scene:
    graph: FakeGraph
    inbox: OutlookInbox
    store: DocumentStore
    vault: DiskMediaStore
    queue: Queue
    notices: Notices
    thread: str  # the id of the thread's first mail in Cy's inbox


@pytest.fixture
async def scene(tmp_path: Path, entra: FakeEntra, graph: FakeGraph) -> AsyncIterator[Scene]:
    for address in (SENDER, CY, "ann@contoso.com"):
        graph.add_user(address)
    documents = SqliteDocuments(tmp_path / "send.sqlite3")
    await documents.open()
    store = DocumentStore(documents)
    vault = DiskMediaStore(tmp_path / "media")
    await vault.open()
    clock = MovableClock()
    now = clock.now()
    reach = TeamsReach("29:cy", "https://smba.example", conversation_id="a:cy")
    people = [
        Person(GRAPH_TENANT, CY, "Cy", email=CY, teams=reach),
        Person(GRAPH_TENANT, "ann@contoso.com", "Ann", email="ann@contoso.com"),
    ]
    for person in people:
        await store.save_person(person)
    # The thread's first mail, from Send to Cy and Ann: its conversation is the group's.
    (first,) = [await graph.user_send(SENDER, [CY, "ann@contoso.com"], "[Send] Lunch", "<p>hi</p>")]
    members = tuple(Member(p.person_id, p.display_name, now) for p in people)
    await store.save_group(
        Group(
            GRAPH_TENANT,
            "g1",
            "Lunch",
            "ann@contoso.com",
            members,
            now,
            outlook_thread=first["id"],
            outlook_conversation=first["conversationId"],
        )
    )
    queue, notices = Queue(), Notices()
    relay = relay_over(store, clock, queue, 2000)
    media = Media(store, vault, Links(), FakeAttachments(), b"s" * 32, 10 * 1024 * 1024)
    credentials = ClientCredentials(
        GRAPH_CLIENT, GRAPH_SECRET, entra.base_url, GRAPH_TENANT, GRAPH_SCOPE
    )
    try:
        async with aiohttp.ClientSession() as session:
            client = GraphClient(session, credentials, graph.base_url)
            inbox = OutlookInbox(
                client,
                store,
                relay,
                SENDER,
                "http://127.0.0.1:1/api/outlook/notifications",
                "state",
                clock,
                notices,
                directory=GraphDirectory(client, SENDER, GRAPH_TENANT),
                media=media,
            )
            assert await inbox.catch_up() == 0  # the first sync learns where "now" is
            thread = graph.mailbox(CY)[0]["id"]
            yield Scene(graph, inbox, store, vault, queue, notices, str(thread))
    finally:
        credentials.close()
        await documents.close()


async def test_a_reply_all_with_a_png_is_relayed_with_the_stored_photo(scene: Scene) -> None:
    picture = png_bytes((40, 30))
    await scene.graph.user_reply_all(
        CY,
        scene.thread,
        "<p>the view</p>",
        attachments=[MailAttachment("view.png", "image/png", picture)],
    )
    assert await scene.inbox.catch_up() == 1
    (message,) = scene.queue.submitted
    assert message.text == "the view" and message.sender_id == CY
    (item,) = message.media
    assert (item.kind, item.name, item.content_type) == (MediaKind.PHOTO, "view.png", "image/png")
    assert await scene.vault.read(item) == picture  # Pillow's PNG has no metadata to strip
    stored = await scene.store.get_message("g1", message.message_id)
    assert stored is not None and stored.media == message.media


async def test_a_pasted_picture_alone_is_relayed_and_quoted_ones_are_not(scene: Scene) -> None:
    pasted, quoted = png_bytes((8, 8)), png_bytes((9, 9))
    await scene.graph.user_reply_all(
        CY,
        scene.thread,
        '<p><img src="cid:image001.png@01DA0000.ABCDEF00"></p>',
        attachments=[
            MailAttachment(
                "image001.png", "image/png", pasted, True, "image001.png@01DA0000.ABCDEF00"
            ),
            MailAttachment("image002.png", "image/png", quoted, True, "image002.png@01DA.1"),
        ],
    )
    sent = scene.graph.mailbox(SENDER)[-1]
    assert sent["hasAttachments"] is False  # only inline ones: Graph says none
    assert await scene.inbox.catch_up() == 1
    (message,) = scene.queue.submitted
    assert message.text == ""
    (item,) = message.media
    assert await scene.vault.read(item) == pasted


async def test_a_refused_file_is_told_and_the_text_still_goes(scene: Scene) -> None:
    program = b"MZ\x90\x00" + bytes(200)
    await scene.graph.user_reply_all(
        CY,
        scene.thread,
        "<p>see attached</p>",
        attachments=[MailAttachment("tool.exe", "application/octet-stream", program)],
    )
    assert await scene.inbox.catch_up() == 1
    (message,) = scene.queue.submitted
    assert message.text == "see attached" and message.media == ()
    ((person, notice),) = scene.notices.sent
    assert person == CY
    assert notice.startswith("Your Outlook reply to Lunch was relayed to Teams without its")
    assert "Nothing was sent" not in notice


async def test_a_refused_file_alone_relays_nothing(scene: Scene) -> None:
    program = b"MZ\x90\x00" + bytes(200)
    await scene.graph.user_reply_all(
        CY,
        scene.thread,
        "",
        attachments=[MailAttachment("tool.exe", "application/octet-stream", program)],
    )
    assert await scene.inbox.catch_up() == 0
    assert scene.queue.submitted == []
    ((_, notice),) = scene.notices.sent
    assert notice.startswith("Your Outlook reply to Lunch was not relayed to Teams.")


async def test_many_attachments_are_read_page_by_page(scene: Scene) -> None:
    pictures = [png_bytes((10 + n, 10)) for n in range(10)]
    await scene.graph.user_reply_all(
        CY,
        scene.thread,
        "<p>album</p>",
        attachments=[
            *(MailAttachment(f"p{n}.png", "image/png", p) for n, p in enumerate(pictures[:5])),
            MailAttachment("forwarded", "message/rfc822", kind="item"),
            MailAttachment("plan.docx", "application/octet-stream", kind="reference"),
            *(
                MailAttachment(f"p{n}.png", "image/png", p)
                for n, p in enumerate(pictures)
                if n >= 5
            ),
        ],
    )
    scene.graph.calls.clear()
    assert await scene.inbox.catch_up() == 1
    (message,) = scene.queue.submitted
    assert [await scene.vault.read(m) for m in message.media] == pictures
    pages = [c for c in scene.graph.calls if c.path.split("?")[0].endswith("/attachments")]
    assert len(pages) == 2 and all(c.status == 200 for c in pages)  # 12 at 10 a page


async def test_the_fake_lists_attachments_strictly(scene: Scene, entra: FakeEntra) -> None:
    credentials = ClientCredentials(
        GRAPH_CLIENT, GRAPH_SECRET, entra.base_url, GRAPH_TENANT, GRAPH_SCOPE
    )
    try:
        auth = await credentials.header()
    finally:
        credentials.close()
    base = f"{scene.graph.base_url}/users/{SENDER}/messages"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/AAkALgnosuchmessage/attachments", headers=auth) as r:
            assert r.status == 404
            assert (await r.json())["error"]["code"] == "ErrorItemNotFound"
        await scene.graph.user_reply_all(
            CY,
            scene.thread,
            "<p>x</p>",
            attachments=[MailAttachment(f"p{n}.png", "image/png", png_bytes()) for n in range(3)],
        )
        mail_id = scene.graph.mailbox(SENDER)[-1]["id"]
        async with http.get(f"{base}/{mail_id}/attachments?$top=2", headers=auth) as r:
            page = await r.json()
        assert [a["name"] for a in page["value"]] == ["p0.png", "p1.png"]
        first = page["value"][0]
        assert first["@odata.type"] == "#microsoft.graph.fileAttachment"
        assert {"contentBytes", "isInline", "contentId", "size", "contentType"} <= set(first)
        assert "$skip=2" in page["@odata.nextLink"]
