"""Plain text from Outlook's HTML: the answer, without markup or the quoted earlier mail."""

from __future__ import annotations

import pytest

from bot.outlook.html_text import html_to_text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        (
            "<html><head><style>p{color:red}</style></head><body><p>Yes, noon works.</p></body></html>",
            "Yes, noon works.",
        ),
        ("<div>Line one<br>Line&nbsp;two &amp; three</div>", "Line one\nLine two & three"),
        ('<p>Sure!</p><div id="divRplyFwdMsg"><b>From:</b> Send<br>Pizza at 12?</div>', "Sure!"),
        ("<p>See below</p><hr><p>From: Send</p><p>old text</p>", "See below"),
        ("<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>", "<script>alert(1)</script>"),
        ("<p>   spaced    out   </p><p></p><p></p><p>end</p>", "spaced out\n\nend"),
        ("plain text, no tags", "plain text, no tags"),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text
