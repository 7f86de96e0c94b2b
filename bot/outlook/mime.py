"""A mail's bytes, written straight from what Send already knows.

The standard library's `EmailMessage` parses every header value it is given back into a
tree, chooses each text part's encoding by encoding it twice, and folds everything again
when the mail is written: about two thirds of a mail's cost to 20 people. Send's mails
have one shape (a text and an HTML part, pictures beside the HTML, files attached), so
this writes that shape directly:

- a header is written as it is when it is plain ASCII on one short line (what the
  standard library would write too), and by the policy's own header classes otherwise
  (encoded-words for other scripts, RFC 2231 parameters, the msg-id folding of
  `eml.MAIL_POLICY`);
- a text part is 7bit or 8bit in short lines, else quoted-printable (CRLF line ends),
  the large HTML part base64;
- a picture or file part is the standard library's own `MIMEPart` (rare, and its bytes
  dominate its cost);
- boundaries are random and checked against what they enclose.
"""

from __future__ import annotations

import base64
import quopri
import random
from collections.abc import Sequence
from email.message import MIMEPart
from email.policy import Policy

CRLF = b"\r\n"
_SHORT_LINE = 78  # RFC 5322 2.1.1: a line should be at most 78 characters


def header(name: str, value: str, policy: Policy) -> bytes:
    """One header field, folded and encoded as the policy's header classes would."""
    if "\r" in value or "\n" in value:  # as the standard library refuses them
        raise ValueError(f"{name}: a header value may not contain a line break")
    line = f"{name}: {value}"
    plain = (
        len(line) <= _SHORT_LINE
        and value.isascii()
        and value.isprintable()  # no control character
        and "=?" not in value  # what could read as an encoded-word goes the careful way
        and value == value.strip()
    )
    if plain:
        return line.encode("ascii") + CRLF
    folded = policy.header_factory(name, value).fold(policy=policy)  # type: ignore[attr-defined]
    return str(folded).encode("ascii")


def text_part(text: str, subtype: str, *, base64_body: bool = False) -> bytes:
    """A text/`subtype` part in UTF-8, its lines ended by CRLF: 7bit when it is ASCII in
    short lines, 8bit when its lines are short, else quoted-printable (what the standard
    library chooses for a short text, and a raw file stays readable); base64 when asked
    (a large HTML part)."""
    lines = text.splitlines()
    body = "\r\n".join(lines) + "\r\n"
    short = all(len(line) <= _SHORT_LINE for line in lines)
    if base64_body:
        encoding, data = "base64", _base64(body.encode("utf-8"))
    elif short and body.isascii():
        encoding, data = "7bit", body.encode("ascii")
    elif short:
        encoding, data = "8bit", body.encode("utf-8")
    else:
        encoding = "quoted-printable"
        data = quopri.encodestring(body.encode("utf-8")).replace(b"\r\n", b"\n")
        data = data.replace(b"\n", CRLF)
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n"
    )
    return head.encode("ascii") + CRLF + data


def media_part(
    data: bytes,
    main: str,
    sub: str,
    policy: Policy,
    *,
    disposition: str,
    filename: str,
    cid: str | None = None,
) -> bytes:
    """A picture (`disposition="inline"`, with its Content-ID) or an attached file."""
    part = MIMEPart(policy=policy)
    part.set_content(data, main, sub, cid=cid, disposition=disposition, filename=filename)
    return part.as_bytes(policy=policy)


def multipart(subtype: str, parts: Sequence[bytes]) -> bytes:
    """A multipart/`subtype` part holding `parts` (each its headers, a blank line, its body)."""
    boundary = _boundary(parts)
    head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n'.encode("ascii")
    delimiter = b"--" + boundary.encode("ascii")
    out = [head, CRLF]
    for part in parts:
        # The line break before a delimiter is the delimiter's (RFC 2046 5.1.1): one more,
        # so a part's own last line break stays its own.
        out += [delimiter, CRLF, part, CRLF]
    out += [delimiter, b"--", CRLF]
    return b"".join(out)


def mail(headers: Sequence[tuple[str, str]], body: bytes, policy: Policy) -> bytes:
    """The whole mail: its header fields, then the MIME headers and body of `body` (a part
    from `text_part` or `multipart`)."""
    fields = [header(name, value, policy) for name, value in headers]
    return b"".join([*fields, b"MIME-Version: 1.0", CRLF, body])


def _base64(data: bytes) -> bytes:
    """Base64 in 76-character lines ended by CRLF (RFC 2045 6.8)."""
    return base64.encodebytes(data).replace(b"\n", CRLF)


def _boundary(parts: Sequence[bytes]) -> str:
    """A boundary that occurs in none of the parts (RFC 2046 5.1.1)."""
    while True:
        # Not a secret: it is checked against every part below, so any value is safe, and
        # the module's generator spares a system call per part.
        boundary = f"=_send_{random.getrandbits(96):024x}"
        marker = boundary.encode("ascii")
        if not any(marker in part for part in parts):
            return boundary
