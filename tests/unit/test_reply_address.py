"""Reply addresses: the service mailbox plus a signed tag naming a group (and a poll)."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from bot.core.features.manage import Manage
from bot.outlook.reply_address import ReplyAddresses, ReplyTarget, mailto

GROUP = "0123456789abcdef0123456789abcdef"
POLL = "fedcba9876543210fedcba9876543210"


def test_an_address_names_its_group_and_reads_back_in_any_case() -> None:
    replies = ReplyAddresses("send@contoso.com", b"k" * 32)
    address = replies.address(GROUP)
    local, _, domain = address.partition("@")
    assert domain == "contoso.com" and local.startswith("send+") and len(local) <= 64
    assert replies.read(address) == ReplyTarget(GROUP)
    assert replies.read(address.upper()) == ReplyTarget(GROUP)  # servers may change the case


def test_a_vote_address_names_the_poll_and_the_option() -> None:
    replies = ReplyAddresses("send@contoso.com", b"k" * 32)
    target = replies.read(replies.vote_address(GROUP, POLL, 2))
    assert target is not None and target.group_id == GROUP and target.change is None
    assert target.is_poll(POLL) and not target.is_poll("0" * 32) and target.option == 2
    assert len(replies.vote_address(GROUP, POLL, 2).split("@")[0]) <= 64


def test_a_change_address_names_the_change_whatever_the_mail_says() -> None:
    replies = ReplyAddresses("send@contoso.com", b"k" * 32)
    for change in (Manage.MUTE, Manage.OUTLOOK_OFF, Manage.LEAVE):
        target = replies.read(replies.change_address(GROUP, change))
        assert target == ReplyTarget(GROUP, change=change)
    addresses = {
        replies.address(GROUP),
        replies.change_address(GROUP, Manage.MUTE),
        replies.change_address(GROUP, Manage.LEAVE),
        replies.vote_address(GROUP, POLL, 0),
        replies.vote_address(GROUP, POLL, 1),
    }
    assert len(addresses) == 5  # each does one thing


def test_an_address_not_signed_by_this_service_names_nothing() -> None:
    ours = ReplyAddresses("send@contoso.com", b"k" * 32)
    theirs = ReplyAddresses("send@contoso.com", b"x" * 32)
    address = theirs.address(GROUP)
    assert ours.read(address) is None
    tag = address.split("+")[1].split("@")[0]
    flipped = tag[:-1] + ("a" if tag[-1] != "a" else "b")
    assert ours.read(f"send+{flipped}@contoso.com") is None
    assert ours.read(f"other+{tag}@contoso.com") is None  # another mailbox
    assert ours.read(f"send+{tag}@fabrikam.com") is None
    assert ours.read("send@contoso.com") is None
    assert ours.read("send+!!@contoso.com") is None


def test_no_address_for_ids_send_did_not_make_or_a_mailbox_too_long_for_a_tag() -> None:
    assert ReplyAddresses("send@contoso.com", b"k" * 32).address("not-hex") == ""
    assert ReplyAddresses("send@contoso.com", b"k" * 32).vote_address(GROUP, "send-x", 0) == ""
    assert ReplyAddresses("a" * 40 + "@contoso.com", b"k" * 32).address(GROUP) == ""
    assert ReplyAddresses("", b"k" * 32).address(GROUP) == ""


def test_mailto_carries_the_subject_and_body_escaped() -> None:
    link = mailto("send+abc@contoso.com", "RE: [Send] Lunch & co", "Oui, à 12 h")
    parts = urlsplit(link)
    assert parts.scheme == "mailto" and unquote(parts.path) == "send+abc@contoso.com"
    query = parse_qs(parts.query)
    assert query == {"subject": ["RE: [Send] Lunch & co"], "body": ["Oui, à 12 h"]}


@given(st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16))
def test_every_group_and_poll_reads_back(group: bytes, poll: bytes) -> None:
    replies = ReplyAddresses("send@contoso.com", b"k" * 32)
    target = replies.read(replies.vote_address(group.hex(), poll.hex(), 3))
    assert target is not None and target.group_id == group.hex() and target.is_poll(poll.hex())
    assert target.option == 3
