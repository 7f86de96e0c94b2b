"""Member lists as people type them: addresses separated by commas, semicolons or
spaces, plus Teams @mentions (which the Teams adapter hands over already resolved)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address

_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


@dataclass(frozen=True)
class Mention:
    """A Teams @mention, resolved by the adapter to the person's Teams identity."""

    teams_user_id: str
    display_name: str
    email: str = ""
    aad_object_id: str = ""
    # Where the mention was made: enough to open a 1:1 chat with the person later.
    service_url: str = ""
    bot_id: str = ""
    # The person Send knows them as, once registered.
    person_id: str = ""


@dataclass(frozen=True)
class MemberList:
    addresses: tuple[str, ...]
    mentions: tuple[Mention, ...]
    malformed: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not (self.addresses or self.mentions or self.malformed)


def normalize_address(address: str) -> str:
    return address.strip().strip("<>").lower()


def is_address(text: str) -> bool:
    """An address both our pattern and Python's mail parser accept (it writes the mail)."""
    if not _ADDRESS.match(text):
        return False
    try:
        Address(addr_spec=text)
    except (ValueError, IndexError, HeaderParseError):
        return False
    return True


_MAILTO = re.compile(r"^mailto:", re.IGNORECASE)
_TOKEN = re.compile(r"<[^<>]*>|[^\s<>]+")


def parse_members(text: str, mentions: tuple[Mention, ...] = ()) -> MemberList:
    addresses: list[str] = []
    malformed: list[str] = []
    for chunk in re.split(r"[,;\n]+", text):
        # "Ann Smith <ann@x.com>", as Outlook pastes it: beside an address in brackets,
        # words without an @ are the display name, not members.
        tokens = _TOKEN.findall(chunk)
        named = any(t.startswith("<") and "@" in t for t in tokens)
        for token in tokens:
            if named and "@" not in token:
                continue
            token = token.strip()
            if not token or token.lower() in ("and", "&"):
                continue
            address = normalize_address(_MAILTO.sub("", normalize_address(token)))
            if is_address(address):
                if address not in addresses:
                    addresses.append(address)
            else:
                malformed.append(token)
    return MemberList(tuple(addresses), mentions, tuple(malformed))
