"""What a thread's mail looks like in a mail client without cards: its HTML checked as
email-safe (no script, no external resource, alt text and sizes on every picture) and
drawn by a real browser (Debian's Chromium) at a phone's 375 px and a desktop's 1024 px,
in light and dark mode: nothing wider than the screen, the new message first.

With SEND_SCREENSHOTS=<folder> the screenshots go there (docs/images is made this way:
`SEND_SCREENSHOTS=docs/images scripts/test.sh tests/test_mail_look.py`, with Debian's
`fonts-noto-color-emoji` installed so reactions draw as mail clients draw them; the
checks here do not depend on it).
"""

from __future__ import annotations

import base64
import io
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from bot.core.model import MessageSummary, Quote, Source, Styled
from bot.core.ports import MailMedia, MailReaders, PollChoice, PollMail, PollView, ThreadMail
from bot.core.texts import Language
from bot.outlook.card import OutlookCards
from bot.outlook.eml import EmlRecorder
from bot.outlook.reply_address import ReplyAddresses
from bot.outlook.tokens import CardTokens
from tests.browser import browser_page
from tests.outlook_helpers import MovableClock, eml_files, html_of, read_eml
from tests.unit.media_fakes import MemoryVault

pytestmark = pytest.mark.slow

GROUP = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
SENT = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)


def _id(n: int) -> str:
    return f"{n:032x}"


def _photo() -> bytes:
    picture = Image.new("RGB", (1600, 1000))
    for x in range(0, 1600, 40):
        for y in range(0, 1000, 40):
            picture.paste((x // 7 % 256, y // 4 % 256, 160), (x, y, x + 40, y + 40))
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def _line(n: int, who: str, words: str, minutes: int, edited: bool = False) -> MessageSummary:
    return MessageSummary(
        _id(n), who.lower(), who, words, SENT + timedelta(minutes=minutes), Source.TEAMS, edited
    )


async def _mail(tmp_path: Path, mail: ThreadMail, vault: MemoryVault) -> EmailMessage:
    replies = ReplyAddresses("send@contoso.com", b"k" * 32)
    cards = OutlookCards("originator", "https://send.example", CardTokens(b"k" * 32), 2000, replies)
    recorder = EmlRecorder(tmp_path, "send@contoso.com", cards, MovableClock(), vault)
    await recorder.record(mail)
    (path,) = eml_files(tmp_path, mail.addresses[0])[-1:]
    return read_eml(path)


async def _lunch_mail(tmp_path: Path) -> tuple[EmailMessage, ThreadMail]:
    vault = MemoryVault()
    stored = await vault.put("tenant-a", GROUP, "terrace.png", _photo(), by="bob@contoso.com")
    earlier = (
        _line(1, "Ann", "Lunch on the terrace on Friday?", 0),
        replace(_line(2, "Cleo", "Yes!", 2), reactions=(("👍", 2), ("❤️", 1))),
        _line(3, "Dev", "I can book the table for 12:30", 5, edited=True),
    )
    new = _line(4, "Bob", "Booked: **table 4**, see the view", 9)
    text = "Booked: table 4, see the view"
    mail = ThreadMail(
        tenant_id="tenant-a",
        group_id=GROUP,
        group_name="Lunch",
        message_id=new.message_id,
        thread_id="",
        addresses=("ann@contoso.com", "cleo@contoso.com", "dev@contoso.com"),
        recent=(*earlier, new),
        media=(MailMedia(stored, "https://send.example/media/x?sig=1", True),),
        readers=MailReaders(Language.EN, "Europe/Paris"),
        styled=(Styled("Booked: "), Styled("table 4", bold=True), Styled(", see the view")),
        text=text,
        reply_to=Quote(_id(3), "Dev", "I can book the table for 12:30"),
        members=("Ann", "Bob", "Cleo", "Dev"),
    )
    return await _mail(tmp_path, mail, vault), mail


class _Audit(HTMLParser):
    """Every tag with its attributes, and the text of <script> and <style> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.inside: list[str] = []
        self.code: dict[str, str] = {"script": "", "style": ""}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self.inside.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.inside and self.inside[-1] == tag:
            self.inside.pop()

    def handle_data(self, data: str) -> None:
        if self.inside and self.inside[-1] in self.code:
            self.code[self.inside[-1]] += data


async def test_the_mail_is_email_safe_html(tmp_path: Path) -> None:
    email, _ = await _lunch_mail(tmp_path)
    audit = _Audit()
    audit.feed(html_of(email))
    tags = audit.tags
    scripts = [a for t, a in tags if t == "script"]
    assert scripts == [{"type": "application/adaptivecard+json"}]  # data, never code
    assert not [t for t, _ in tags if t in {"link", "iframe", "object", "embed", "form"}]
    assert "url(" not in audit.code["style"] and "@import" not in audit.code["style"]
    for tag, attrs in tags:
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)  # no event handlers
        if tag == "img":
            assert attrs["src"].startswith("cid:"), attrs  # carried in the mail, not fetched
            assert attrs["alt"] and attrs["width"] and attrs["height"], attrs
            assert int(attrs["width"]) <= 560
        if tag == "a":
            assert attrs["href"].startswith(("mailto:", "https://")), attrs
    # The 1600 x 1000 photo is drawn at the column's 560 px, its shape kept.
    (img,) = [a for t, a in tags if t == "img"]
    assert (img["width"], img["height"]) == ("560", "350")


async def test_the_new_message_comes_first_then_the_earlier_ones_newest_first(
    tmp_path: Path,
) -> None:
    email, _ = await _lunch_mail(tmp_path)
    page = html_of(email).split("<body", 1)[1]  # the head holds the card
    new, earlier = page.split("Earlier in Lunch")
    assert "Booked: <b>table 4</b>" in new and "Dev</b>: I can book the table" in new  # quoted
    order = [earlier.index(t) for t in ("I can book the table", "Yes!", "Lunch on the terrace")]
    assert order == sorted(order)
    assert "Tue 8 Dec, 10:09" in page  # the day, in the readers' zone (Paris, UTC+1)
    assert "edited" in page and "👍 2 ❤️ 1" in earlier  # as Teams shows them
    plain = email.get_body(("plain",))
    assert plain is not None
    words = str(plain.get_content())
    assert words.index("Bob · Tue 8 Dec, 10:09") < words.index("Earlier in Lunch")
    assert words.index("Dev · Tue 8 Dec, 10:05") < words.index("Ann · Tue 8 Dec, 10:00")
    assert "> Dev: I can book the table for 12:30" in words
    assert "mailto:send+" in words and "Members: Ann, Bob, Cleo, Dev" in words


def _drawable(email: EmailMessage) -> str:
    """The HTML with its `cid:` pictures as data: URLs, which a browser can draw."""
    page = html_of(email)
    for part in email.walk():
        cid = part.get("Content-ID")
        if cid:
            data = part.get_payload(decode=True)
            assert isinstance(data, bytes)
            url = f"data:{part.get_content_type()};base64,{base64.b64encode(data).decode()}"
            page = page.replace(f"cid:{cid.strip('<>')}", url)
    return page


def _shots(tmp_path: Path) -> Path:
    return Path(os.environ.get("SEND_SCREENSHOTS") or tmp_path)


@pytest.mark.parametrize("width", [375, 1024])
async def test_the_mail_fits_a_phone_and_a_desktop_in_light_and_dark(
    tmp_path: Path, width: int
) -> None:
    email, _ = await _lunch_mail(tmp_path)
    async with browser_page(width=width, height=400) as page:
        await page.set_content(_drawable(email))
        await page.wait_for_load_state("load")
        scroll = await page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"{scroll} px wide on a {width} px screen"
        sheet = await page.evaluate(
            "(() => { const r = document.querySelector('.send-sheet').getBoundingClientRect();"
            " return [r.width, r.left]; })()"
        )
        assert sheet[0] <= 600 and sheet[0] <= width
        image = await page.evaluate(
            "(() => { const i = document.querySelector('img');"
            " return [i.naturalWidth, i.getBoundingClientRect().width]; })()"
        )
        assert image[0] == 1600 and 0 < image[1] <= min(560, width - 16)
        await page.screenshot(path=str(_shots(tmp_path) / f"mail-{width}.png"), full_page=True)
        await page.emulate_media(color_scheme="dark")
        background = await page.evaluate(
            "getComputedStyle(document.querySelector('.send-sheet')).backgroundColor"
        )
        assert background == "rgb(31, 31, 31)"
        if width == 375:
            await page.screenshot(path=str(_shots(tmp_path) / "mail-375-dark.png"), full_page=True)


async def test_a_french_poll_mail_shows_its_tally_and_its_options_as_links(
    tmp_path: Path,
) -> None:
    poll_id = _id(9)
    question = _line(9, "Ann", "Vendredi ?", 0)
    view = PollView(
        choices=(PollChoice("Oui", ("Ann", "Cleo")), PollChoice("Non", ("Dev",))),
        waiting=("Bob",),
    )
    mail = ThreadMail(
        tenant_id="tenant-a",
        group_id=GROUP,
        group_name="Déjeuner",
        message_id=poll_id,
        thread_id="",
        addresses=("ann@contoso.com",),
        recent=(question,),
        poll=PollMail(poll_id, "Vendredi ?", view),
        readers=MailReaders(Language.FR, "Europe/Paris"),
        text="Vendredi ?",
        members=("Ann", "Bob", "Cleo", "Dev"),
    )
    email = await _mail(tmp_path, mail, MemoryVault())
    page = html_of(email)
    assert "mar. 8 déc., 10:00" in page
    assert "Sondage\u00a0: Vendredi ?" in page
    assert "Pas encore répondu" in page or "Bob" in page
    links = [a for t, a in _tags(page) if t == "a" and a["href"].startswith("mailto:")]
    bodies = [a["href"].rsplit("body=", 1)[1] for a in links]
    assert bodies[:2] == ["Oui", "Non"]
    async with browser_page(width=375, height=400) as browser:
        await browser.set_content(_drawable(email))
        assert await browser.evaluate("document.documentElement.scrollWidth") <= 375
        await browser.screenshot(path=str(_shots(tmp_path) / "mail-poll-fr.png"), full_page=True)


def _tags(page: str) -> list[tuple[str, dict[str, str]]]:
    audit = _Audit()
    audit.feed(page)
    return audit.tags


async def test_hostile_names_and_words_stay_text_in_the_html(tmp_path: Path) -> None:
    evil = '"><img src=x onerror=alert(1)><a href="javascript:alert(2)">x</a><script>y</script>'
    vault = MemoryVault()
    stored = await vault.put("tenant-a", GROUP, f"{evil}.png", _photo(), by="bob@contoso.com")
    line = _line(4, f"Bob{evil}", f"hi {evil}", 9)
    view = PollView(choices=(PollChoice(f"yes{evil}", (f"Ann{evil}",)),), waiting=(evil,))
    mail = ThreadMail(
        tenant_id="tenant-a",
        group_id=GROUP,
        group_name=f"Lunch{evil}",
        message_id=line.message_id,
        thread_id="",
        addresses=("ann@contoso.com",),
        recent=(_line(1, evil, evil, 0), line),
        media=(MailMedia(stored, "https://send.example/media/x?sig=1", True),),
        readers=MailReaders(Language.EN, "Europe/Paris"),
        styled=(Styled("hi "), Styled(evil, bold=True, link="https://example.com/?q=<b>")),
        text=f"hi {evil}",
        reply_to=Quote(_id(1), evil, evil),
        members=(evil, "Ann"),
        poll=PollMail(line.message_id, evil, view),
    )
    email = await _mail(tmp_path, mail, vault)
    tags = _tags(html_of(email))
    assert [t for t, _ in tags].count("script") == 1  # the card's data block only
    assert [a for t, a in tags if t == "img"] == [
        a for t, a in tags if t == "img" and a["src"].startswith("cid:")
    ]
    for tag, attrs in tags:
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
        assert "javascript:" not in attrs.get("href", ""), attrs
    body = html_of(email).split("<body", 1)[1]
    assert "<img src=x" not in body and "<script>y" not in body  # shown, escaped
    assert "&lt;img src=x onerror=alert(1)&gt;" in body
    plain = email.get_body(("plain",))
    assert plain is not None and evil in str(plain.get_content())  # as typed, in plain text
