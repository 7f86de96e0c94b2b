"""Reading the `text/html` attachment Teams sends with every message: formatting kept
through an allow-list sanitiser, a Teams "Reply" read as the copy it quotes, anything
else (scripts, javascript: links, styles) dropped or shown as the text it is."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.model import Styled
from bot.teams.rich_text import read_html

# Shapes Teams sends (MicrosoftDocs/msteams-docs issues #3960 and #4164).
PUBLISHED = (
    "<div><div>Hello Teams TestBot. Sending <strong>bold</strong>-<em>italic</em> "
    "rich text.</div>\n</div>"
)
COPY_PASTE = (
    '<div>\r\n<div itemprop="copy-paste-block">\n\r\n'
    '<div style="font-size:14px"><strong>bold</strong></div>\n</div>\n</div>'
)
REPLY = (
    '<blockquote itemscope="" itemtype="http://schema.skype.com/Reply" itemid="1700000000123">'
    '<strong itemprop="mri" itemid="29:ann">Ann</strong>'
    '<span itemprop="time" itemid="1700000000123"></span>'
    '<p itemprop="preview">Pizza on Friday?</p></blockquote>'
    "<p>Count me <b>in</b></p>"
)


def test_the_published_shape_reads_as_bold_and_italic_runs() -> None:
    read = read_html(PUBLISHED)
    assert read is not None
    assert read.text == "Hello Teams TestBot. Sending bold-italic rich text."
    assert read.styled == (
        Styled("Hello Teams TestBot. Sending "),
        Styled("bold", bold=True),
        Styled("-"),
        Styled("italic", italic=True),
        Styled(" rich text."),
    )
    assert read.quoted == ""


def test_teams_layout_around_the_text_is_not_part_of_it() -> None:
    read = read_html(COPY_PASTE)
    assert read is not None and read.text == "bold" and read.styled == (Styled("bold", True),)


def test_links_lists_and_strikethrough() -> None:
    read = read_html(
        "<p>Plan:</p><ol><li><s>12:30</s> 13:00</li>"
        '<li>see <a href="https://contoso.com/menu?a=1&amp;b=2">the menu</a></li></ol>'
        "<ul><li>bring cash</li></ul>"
    )
    assert read is not None
    assert read.text == "Plan:\n1. 12:30 13:00\n2. see the menu\n• bring cash"
    assert Styled("12:30", strike=True) in read.styled
    assert Styled("the menu", link="https://contoso.com/menu?a=1&b=2") in read.styled


@pytest.mark.parametrize(
    "html",
    [
        '<p><a href="javascript:alert(1)">click</a></p>',
        '<p><a href="data:text/html,<script>alert(1)</script>">click</a></p>',
        '<p><a href="vbscript:msgbox">click</a></p>',
        '<p><a href=" JaVaScRiPt:alert(1)">click</a></p>',
        '<p><a href="//evil.example/x">click</a></p>',
        '<p><a href="/relative">click</a></p>',
        '<p><a href="https://">click</a></p>',
    ],
)
def test_a_link_that_is_not_http_is_plain_text(html: str) -> None:
    read = read_html(html)
    assert read is None or (read.text == "click" and read.styled == ())


def test_scripts_styles_and_handlers_are_dropped_typed_markup_is_text() -> None:
    read = read_html(
        '<p onclick="steal()" style="color:red"><b>hi</b></p><script>alert(1)</script>'
        "<style>p{}</style><p>&lt;script&gt;alert(2)&lt;/script&gt;</p>"
    )
    assert read is not None
    assert read.text == "hi\n<script>alert(2)</script>"
    assert read.styled == (Styled("hi", bold=True), Styled("\n<script>alert(2)</script>"))


def test_a_teams_reply_names_the_quoted_copy_and_leaves_the_quote_out() -> None:
    read = read_html(REPLY)
    assert read is not None
    assert read.quoted == "1700000000123"
    assert read.text == "Count me in"
    assert read.styled == (Styled("Count me "), Styled("in", bold=True))


@pytest.mark.parametrize(
    "html",
    [
        '<p>thanks <span itemtype="http://schema.skype.com/Mention" itemid="0">Bob</span></p>',
        '<p>look <img src="https://x/y.png"></p>',
    ],
)
def test_mentions_and_pictures_are_left_to_the_activity(html: str) -> None:
    assert read_html(html) is None


def test_formatting_past_what_a_card_holds_is_shown_plain() -> None:
    read = read_html("<p>" + "<b>x</b>y" * 300 + "</p>")
    assert read is not None and read.text == "xy" * 300 and read.styled == ()


def test_plain_text_is_left_to_the_activity() -> None:
    assert read_html("<div><div>just words &amp; <span>more</span></div></div>") is None


def test_a_link_alone_is_formatting() -> None:
    read = read_html('<p>see <a href="https://contoso.com">this</a></p>')
    assert read is not None and read.styled[-1] == Styled("this", link="https://contoso.com")


@given(st.text(max_size=300))
def test_any_html_reads_into_runs_that_are_its_text(html: str) -> None:
    read = read_html(html)
    if read is not None:
        assert "".join(s.text for s in read.styled) in ("", read.text)
        assert all(s.link.startswith(("http://", "https://")) for s in read.styled if s.link)
        assert read.text == read.text.strip()
