"""What a mail from Graph says of itself, read without asking Graph anything: its
addresses, whether its subject marks it automatic, and whether the receiving Exchange
vouches that it comes from its From address."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_COMMENT = re.compile(r"\([^()]*\)")
# Subjects Exchange and Outlook give to automatic mail in a conversation.
AUTOMATIC = (
    "automatic reply:",
    "auto:",
    "out of office",
    "undeliverable:",
    "delivery status notification",
    "read:",
    "not read:",
    "delivered:",
)


class NotNow(Exception):
    """Graph did not answer a question about a mail; read it again on the next pass."""


def relative(link: str) -> str:
    """Graph's links are absolute; the client wants paths under GRAPH_ENDPOINT."""
    marker = "/users/"
    at = link.find(marker)
    return link[at:] if at >= 0 else link


def address_of(recipient: Any) -> str:
    """The lower-case address of a Graph `recipient` ({emailAddress: {address}}), or ""."""
    email = recipient.get("emailAddress") if isinstance(recipient, dict) else None
    address = email.get("address") if isinstance(email, dict) else None
    return address.lower() if isinstance(address, str) else ""


def addresses_of(recipients: Any) -> set[str]:
    """The lower-case addresses of a Graph recipient list (toRecipients, ccRecipients)."""
    return {address_of(r) for r in recipients} if isinstance(recipients, list) else set()


@dataclass(frozen=True)
class Verdict:
    """Whether the receiving Exchange vouches that a mail comes from its From address, and
    what it said (for the log and the person told)."""

    vouched: bool
    said: str


def _first(headers: Sequence[Any], name: str) -> str | None:
    """The topmost header of that name: the one the receiving Exchange wrote (headers are
    prepended on the way in; any below were written by whoever sent the mail)."""
    return next(
        (
            str(h.get("value", ""))
            for h in headers
            if isinstance(h, dict) and str(h.get("name", "")).lower() == name
        ),
        None,
    )


def exchange_verdict(headers: Sequence[Any], domain: str) -> Verdict:
    """Exchange vouches for mail from inside the organisation
    (`X-MS-Exchange-Organization-AuthAs: Internal`, a header Exchange removes from mail
    arriving from outside), or for mail whose composite authentication passed for its
    From domain (`compauth=pass`). Not on softpass, none, temperror or fail, and not
    when its Authentication-Results speak of another From domain.

    Exchange spells it `spf=... smtp.mailfrom=d; dkim=...; dmarc=pass action=none
    header.from=d;compauth=pass reason=100`.
    """
    auth_as = _first(headers, "x-ms-exchange-organization-authas")
    if auth_as is not None and auth_as.strip().lower() == "internal":
        return Verdict(True, "internal")
    value = _first(headers, "authentication-results")
    if value is None:
        return Verdict(False, "no Authentication-Results")
    results: dict[str, str] = {}
    from_domain = ""
    for part in _COMMENT.sub(" ", value).split(";"):
        words = part.split()
        if not words or "=" not in words[0]:
            continue  # an authserv-id, or nothing
        method, _, result = words[0].lower().partition("=")
        results.setdefault(method, result)
        for word in words[1:]:
            name, _, property_value = word.lower().partition("=")
            if method == "dmarc" and name == "header.from":
                from_domain = property_value
    if from_domain and from_domain != domain.lower():
        return Verdict(False, f"header.from={from_domain}")
    compauth = results.get("compauth")
    if compauth is None:
        return Verdict(False, "no compauth")
    return Verdict(compauth == "pass", f"compauth={compauth}")
