"""What a mail from Graph says of itself, read without asking Graph anything: its
addresses, whether its subject marks it automatic, and what the receiving Exchange's
`Authentication-Results` said of its From domain."""

from __future__ import annotations

import re
from collections.abc import Sequence
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


def authentication_verdict(headers: Sequence[Any], domain: str) -> str:
    """What the receiving Exchange said of mail From `domain`: "pass", "fail" or "none".

    Only the first Authentication-Results header counts: it is the one Exchange added on
    arrival (headers are prepended); any further one was written by whoever sent the
    mail. Exchange spells it `spf=... smtp.mailfrom=d; dkim=...; dmarc=pass action=none
    header.from=d;compauth=pass reason=100`; composite authentication is Exchange's
    verdict on the same From domain when the domain publishes no DMARC policy.
    """
    value = next(
        (
            str(h.get("value", ""))
            for h in headers
            if isinstance(h, dict) and str(h.get("name", "")).lower() == "authentication-results"
        ),
        None,
    )
    if value is None:
        return "none"
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
    if not domain or from_domain != domain.lower():
        return "none"
    verdicts = {results.get("dmarc"), results.get("compauth")}
    if "pass" in verdicts:
        return "pass"
    return "fail" if "fail" in verdicts else "none"
