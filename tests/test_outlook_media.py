"""Photos and files in the group's Outlook thread: .eml files, and Graph (fake Graph and Entra)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from bot.core.model import MessageSummary, Source, StoredMedia
from bot.core.ports import MailMedia, SendOutcome, ThreadMail
from bot.media.disk import DiskMediaStore
from bot.media.ports import MediaNotFound
from bot.outlook.card import OutlookCards
from bot.outlook.eml import EmlRecorder
from bot.outlook.graph import GraphMail
from bot.outlook.graph_attachments import UPLOAD_CHUNK
from bot.outlook.tokens import CardTokens
from tests.conftest import OUTLOOK_SENDER, graph_client
from tests.contracts.media_contract import png_bytes
from tests.fakes.entra import FakeEntra
from tests.fakes.graph import FakeGraph, lose_answer
from tests.outlook_helpers import MovableClock, eml_files, html_of, read_eml

SENDER = OUTLOOK_SENDER
TENANT, GROUP = "tenant-a", "g1"
ADDRESSES = ("ann@contoso.com", "bob@contoso.com")
MB = 1024 * 1024


def pdf_bytes(size: int) -> bytes:
    head = b"%PDF-1.4\n"
    return head + b"%" + bytes(i % 251 for i in range(size - len(head) - 1))


@pytest.fixture
async def vault(tmp_path: Path) -> DiskMediaStore:
    store = DiskMediaStore(tmp_path / "media")
    await store.open()
    return store


def cards() -> OutlookCards:
    return OutlookCards("originator-id", "https://send.example", CardTokens(b"k" * 32), 2000)


def mail_of(
    message_id: str, thread_id: str, media: Sequence[MailMedia] = (), text: str = "look"
) -> ThreadMail:
    label = " ".join(m.item.label for m in media)
    summary = MessageSummary(
        message_id, "ann", "Ann", f"{label} {text}".strip(), datetime.now(UTC), Source.TEAMS
    )
    return ThreadMail(
        tenant_id=TENANT,
        group_id=GROUP,
        group_name="Lunch",
        message_id=message_id,
        thread_id=thread_id,
        addresses=ADDRESSES,
        recent=(summary,),
        media=tuple(media),
    )


def shown(item: StoredMedia, inline: bool) -> MailMedia:
    return MailMedia(item, f"https://send.example/media/{item.media_id}?sig=x", inline)


# .eml files


def parts(mail: EmailMessage) -> list[EmailMessage]:
    return [p for p in mail.walk() if isinstance(p, EmailMessage)]


async def test_an_inline_photo_is_an_image_part_the_html_shows(
    tmp_path: Path, vault: DiskMediaStore
) -> None:
    photo = await vault.put(TENANT, GROUP, "beach.png", png_bytes(), by="ann")
    report = await vault.put(TENANT, GROUP, "Rapport d’été.pdf", pdf_bytes(20_000), by="ann")
    recorder = EmlRecorder(tmp_path, "send@contoso.com", cards(), MovableClock(), vault)
    mail = mail_of("m1", "", [shown(photo, True), shown(report, False)])
    result = await recorder.record(mail)
    assert result.outcome is SendOutcome.SENT and result.thread_id == "<m1.g1@send.local>"
    (path,) = eml_files(tmp_path, "ann@contoso.com")
    parsed = read_eml(path)
    assert parsed.get_content_type() == "multipart/mixed"
    related = [p for p in parts(parsed) if p.get_content_type() == "multipart/related"]
    assert len(related) == 1
    image = next(p for p in related[0].iter_parts() if p.get_content_type() == "image/png")
    assert isinstance(image, EmailMessage)
    assert image.get_content() == await vault.read(photo)
    cid = str(image["Content-ID"])
    assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", cid)
    html = html_of(parsed)
    assert f'src="cid:{cid[1:-1]}"' in html
    attachment = next(p for p in parts(parsed) if p.get_content_disposition() == "attachment")
    assert attachment.get_filename() == "Rapport d’été.pdf"
    assert attachment.get_content() == await vault.read(report)
    plain = parsed.get_body(("plain",))
    assert plain is not None
    text = str(plain.get_content())
    assert "beach.png" in text and "Rapport d’été.pdf" in text
    # The Message-ID policy holds: plain msg-ids, CRLF line ends.
    raw = path.read_bytes()
    assert b"\r\nMessage-ID: <m1.g1@send.local>\r\n" in raw
    assert b"\n" not in raw.replace(b"\r\n", b"")


async def test_a_file_over_3_mb_is_a_link_not_a_part(tmp_path: Path, vault: DiskMediaStore) -> None:
    big = await vault.put(TENANT, GROUP, "plans.pdf", pdf_bytes(4 * MB), by="ann")
    recorder = EmlRecorder(tmp_path, "send@contoso.com", cards(), MovableClock(), vault)
    medium = shown(big, False)
    assert (await recorder.record(mail_of("m1", "", [medium]))).outcome is SendOutcome.SENT
    (path,) = eml_files(tmp_path, "bob@contoso.com")
    parsed = read_eml(path)
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert path.stat().st_size < 200_000
    html = html_of(parsed)
    assert f'href="{medium.link}"' in html and "plans.pdf" in html and "4 MB" in html
    plain = parsed.get_body(("plain",))
    assert plain is not None and medium.link in str(plain.get_content())


async def test_an_item_that_cannot_be_read_writes_no_mail(
    tmp_path: Path, vault: DiskMediaStore
) -> None:
    photo = await vault.put(TENANT, GROUP, "beach.png", png_bytes(), by="ann")
    await vault.delete(photo)
    with pytest.raises(MediaNotFound):
        await vault.read(photo)
    recorder = EmlRecorder(tmp_path, "send@contoso.com", cards(), MovableClock(), vault)
    result = await recorder.record(mail_of("m1", "", [shown(photo, True)]))
    assert result.outcome is SendOutcome.RETRY and photo.media_id in result.detail
    assert eml_files(tmp_path, "ann@contoso.com") == []


# Graph


@pytest.fixture
async def graph_mail(
    entra: FakeEntra, graph: FakeGraph, vault: DiskMediaStore
) -> AsyncIterator[GraphMail]:
    for address in (SENDER, *ADDRESSES):
        graph.add_user(address)
    async with graph_client(entra, graph) as client:
        yield GraphMail(client, SENDER, cards(), MovableClock(), vault)


def endings(graph: FakeGraph, since: int = 0) -> list[str]:
    """What each request after the first `since` did: method and the path's last part."""
    return [f"{c.method} {c.path.split('?')[0].rsplit('/', 1)[-1]}" for c in graph.calls[since:]]


async def test_a_small_photo_is_an_inline_file_attachment(
    graph_mail: GraphMail, graph: FakeGraph, vault: DiskMediaStore
) -> None:
    photo = await vault.put(TENANT, GROUP, "beach.png", png_bytes((64, 48)), by="ann")
    result = await graph_mail.record(mail_of("m1", "", [shown(photo, True)]))
    assert result.outcome is SendOutcome.SENT and result.thread_id
    (sent,) = graph.sent(SENDER)
    (attached,) = graph.attachments(sent)
    assert attached.is_inline and attached.content_id
    assert attached.data == await vault.read(photo)
    assert (attached.name, attached.content_type) == ("beach.png", "image/png")
    assert f"cid:{attached.content_id}" in sent["body"]["content"]
    for address in ADDRESSES:
        (copy,) = graph.mailbox(address)
        assert graph.attachments(copy) == [attached]
        assert copy["hasAttachments"] is False  # as in Graph: inline ones do not count
    posts = [e for e in endings(graph) if e.startswith("POST")]
    assert posts == ["POST messages", "POST attachments", "POST send"]


async def test_a_5_mb_pdf_in_a_reply_goes_through_an_upload_session(
    graph_mail: GraphMail, graph: FakeGraph, vault: DiskMediaStore
) -> None:
    first = await graph_mail.record(mail_of("m1", "", text="Plans for Friday"))
    assert first.outcome is SendOutcome.SENT
    data = pdf_bytes(5 * MB)
    report = await vault.put(TENANT, GROUP, "plans.pdf", data, by="ann")
    before = len(graph.calls)
    reply = await graph_mail.record(mail_of("m2", first.thread_id, [shown(report, False)]))
    assert reply.outcome is SendOutcome.SENT and reply.thread_id == first.thread_id
    chunks = -(-len(data) // UPLOAD_CHUNK)
    assert chunks == 2
    calls = graph.calls[before:]
    assert [e for e in endings(graph, before) if e.startswith("POST")] == [
        "POST createReply",
        "POST createUploadSession",
        "POST send",
    ]
    puts = [c for c in calls if c.method == "PUT"]
    assert [c.status for c in puts] == [200, 201]
    assert all(c.path.startswith("/upload/") for c in puts)
    assert [c.method for c in calls] == ["POST", "POST", "PUT", "PUT", "POST"]
    assert len(graph.sent(SENDER)) == 2 and graph.drafts(SENDER) == []
    for address in ADDRESSES:
        mails = graph.mailbox(address)
        assert len(mails) == 2 and len({m["conversationId"] for m in mails}) == 1
        (attached,) = graph.attachments(mails[1])
        assert attached.data == data and not attached.is_inline
        assert mails[1]["hasAttachments"] is True
        assert mails[1]["subject"] == "RE: [Send] Lunch"
        assert graph.attachments(mails[0]) == []


async def test_a_media_reply_whose_send_is_unsure_is_sent_once(
    graph_mail: GraphMail, graph: FakeGraph, vault: DiskMediaStore
) -> None:
    first = await graph_mail.record(mail_of("m1", ""))
    photo = await vault.put(TENANT, GROUP, "beach.png", png_bytes(), by="ann")
    graph.lose_answers = lose_answer(1, path_ends="/send", how="504")
    mail = mail_of("m2", first.thread_id, [shown(photo, True)])
    assert (await graph_mail.record(mail)).outcome is SendOutcome.RETRY
    again = await graph_mail.record(mail)
    assert again.outcome is SendOutcome.SENT and again.thread_id == first.thread_id
    sends = [c for c in graph.calls if c.method == "POST" and c.path.endswith("/send")]
    assert len(sends) == 2  # the first mail's, and the reply's whose answer was lost
    for address in ADDRESSES:
        assert len(graph.mailbox(address)) == 2
    assert graph.drafts(SENDER) == []
