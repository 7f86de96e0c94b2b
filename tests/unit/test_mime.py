"""The mail writer: what it writes, the standard library's parser reads back as given."""

from __future__ import annotations

from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.outlook import mime
from bot.outlook.eml import MAIL_POLICY


def parsed(data: bytes) -> EmailMessage:
    found = message_from_bytes(data, policy=default)
    assert isinstance(found, EmailMessage)
    assert not found.defects, found.defects
    return found


def a_mail(subject: str, plain: str, html: str = "<p>hi</p>") -> EmailMessage:
    body = mime.multipart(
        "alternative", [mime.text_part(plain, "plain"), mime.text_part(html, "html")]
    )
    headers = [("From", "Send <send@contoso.com>"), ("Subject", subject)]
    data = mime.mail(headers, body, MAIL_POLICY)
    assert all(len(line) <= 998 for line in data.split(b"\r\n")), "a line too long"
    assert b"\n" not in data.replace(b"\r\n", b""), "a bare line feed"
    return parsed(data)


def test_a_plain_subject_and_short_ascii_text_are_written_as_they_are() -> None:
    data = mime.mail(
        [("Subject", "[Send] Lunch")], mime.text_part("Are you in?\nYes", "plain"), MAIL_POLICY
    )
    assert b"Subject: [Send] Lunch\r\n" in data
    assert b"Content-Transfer-Encoding: 7bit\r\n" in data
    assert data.endswith(b"\r\n\r\nAre you in?\r\nYes\r\n")


def test_other_scripts_are_encoded_and_read_back() -> None:
    mail = a_mail("[Send] Déjeuner 🍕 à midi", "Ça marche ?\nOui 👍")
    assert mail["Subject"] == "[Send] Déjeuner 🍕 à midi"
    text, html = (part.get_content() for part in mail.iter_parts())
    assert text == "Ça marche ?\r\nOui 👍\r\n" or text == "Ça marche ?\nOui 👍\n"
    assert html.strip() == "<p>hi</p>"


def test_what_would_read_as_an_encoded_word_stays_text() -> None:
    # Written as it is, a reader would decode "=?utf-8?q?x?=" into "x".
    mail = a_mail("[Send] =?utf-8?q?x?= y", "hi")
    assert "y" in str(mail["Subject"])
    assert mail.get_content_type() == "multipart/alternative"


def test_a_header_never_carries_a_line_break_in_a_value() -> None:
    with pytest.raises(ValueError, match="line break"):
        mime.header("Thread-Topic", "a\r\nBcc: someone@example.com", MAIL_POLICY)


def test_long_lines_go_quoted_printable_and_the_html_in_base64() -> None:
    line = "word " * 40 + "café"
    part = mime.text_part(line, "plain")
    assert b"Content-Transfer-Encoding: quoted-printable" in part
    assert all(len(raw) <= 76 for raw in part.split(b"\r\n"))
    assert parsed(b"MIME-Version: 1.0\r\n" + part).get_content().rstrip("\r\n") == line
    short = mime.text_part("Ça marche", "plain")
    assert b"Content-Transfer-Encoding: 8bit" in short and "Ça".encode() in short
    html = mime.text_part("<p>Ça</p>", "html", base64_body=True)
    assert b"Content-Transfer-Encoding: base64" in html
    assert parsed(b"MIME-Version: 1.0\r\n" + html).get_content().strip() == "<p>Ça</p>"


def test_parts_nest_and_the_boundary_is_in_none_of_them() -> None:
    picture = mime.media_part(
        b"\x89PNG...",
        "image",
        "png",
        MAIL_POLICY,
        disposition="inline",
        filename="ü.png",
        cid="<pic@send.local>",
    )
    related = mime.multipart(
        "related", [mime.text_part("<img src=cid:pic@send.local>", "html"), picture]
    )
    file = mime.media_part(
        b"%PDF", "application", "pdf", MAIL_POLICY, disposition="attachment", filename="plan.pdf"
    )
    body = mime.multipart(
        "mixed", [mime.multipart("alternative", [mime.text_part("hi", "plain"), related]), file]
    )
    mail = parsed(mime.mail([("Subject", "s")], body, MAIL_POLICY))
    assert [p.get_content_type() for p in mail.walk()] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "multipart/related",
        "text/html",
        "image/png",
        "application/pdf",
    ]
    image = next(p for p in mail.walk() if p.get_content_type() == "image/png")
    assert image["Content-ID"] == "<pic@send.local>"
    assert image.get_filename() == "ü.png"
    assert image.get_content() == b"\x89PNG..."
    attached = next(p for p in mail.walk() if p.get_content_type() == "application/pdf")
    assert attached.get_content_disposition() == "attachment"
    assert attached.get_content() == b"%PDF"


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=400))
def test_any_text_reads_back_as_written(text: str) -> None:
    part = mime.text_part(text, "plain")
    read = parsed(b"MIME-Version: 1.0\r\n" + part).get_content()
    # Line ends become CRLF or LF (both are a line end); nothing else changes.
    assert read.replace("\r\n", "\n").splitlines() == (text.splitlines() or [""])


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=200))
def test_any_subject_reads_back_as_written(subject: str) -> None:
    data = mime.mail([("Subject", subject)], mime.text_part("hi", "plain"), MAIL_POLICY)
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    read = parsed(data)["Subject"]
    assert " ".join(str(read).split()) == " ".join(subject.split())
