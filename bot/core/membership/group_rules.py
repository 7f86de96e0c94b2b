"""The rules a group's name and members must pass, checked before anything is looked up."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from bot.core.errors import Refused
from bot.core.membership.addresses import MemberList
from bot.core.model import MAX_GROUP_NAME, MAX_MEMBERS, Person
from bot.core.texts import Listed, Text, text


def name_key(name: str) -> str:
    """How group names compare: Unicode-normalised, case-insensitive, blanks folded."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def name_skeleton(name: str) -> str:
    """What a name looks like (after Unicode TR39's confusable "skeletons"): each character
    replaced by the plainest one it is confused with (its lowest code point among its
    homoglyphs, from Unicode's confusables table), so "lunсh" with a Cyrillic с and
    "lunch" have the same skeleton, and so do "O" and "0"."""
    # Imported when a name is first checked: loading the table takes about 0.1 s, which
    # a start (and most requests) need not wait for.
    from confusable_homoglyphs import confusables

    homoglyphs = confusables.confusables_data
    shown = []
    for ch in name_key(name):
        look_alikes = [h["c"] for h in homoglyphs.get(ch, ()) if len(h["c"]) == 1]
        shown.append(min([ch, *look_alikes]))
    return "".join(shown)


def check_name(name: str) -> str:
    name = " ".join(unicodedata.normalize("NFC", name).split())
    # Control, format (zero-width, bidi overrides) and unassigned characters would make
    # two names look alike, or a name look like something else.
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cn", "Co", "Cs") for ch in name):
        raise Refused(text("name.invisible"))
    if not name:
        raise Refused(text("name.empty"))
    if len(name) > MAX_GROUP_NAME:
        raise Refused(text("name.too_long", most=MAX_GROUP_NAME, length=len(name)))
    if ":" in name:
        raise Refused(text("name.colon"))
    return name


def check_member_list(owner: Person, members: MemberList) -> None:
    """The rules a typed member list must pass before anyone is looked up.

    `create` and the `new` dialog both apply them, so both refuse alike.
    """
    if members.empty:
        raise Refused(text("members.none_named"))
    if members.malformed:
        raise Refused(problems([text("members.not_address", token=t) for t in members.malformed]))
    others = [a for a in members.addresses if a != owner.email] + list(members.mentions)
    if len(others) + 1 > MAX_MEMBERS:
        raise Refused(text("too_many_new", most=MAX_MEMBERS, count=len(others) + 1))


def check_chat_size(people: int) -> None:
    if people > MAX_MEMBERS:
        raise Refused(text("chat_too_big", most=MAX_MEMBERS))


def problems(found: Sequence[Text]) -> Text:
    """One refusal for several problems: "a; b. Nothing was changed." """
    return text("nothing_changed", problems=Listed(tuple(found)))
