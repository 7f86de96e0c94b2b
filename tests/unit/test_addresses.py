"""Member lists as people type or paste them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.core.membership.addresses import Mention, is_address, normalize_address, parse_members


def test_addresses_are_separated_by_commas_semicolons_and_spaces() -> None:
    text = "ann@contoso.com,bob@contoso.com; cy@contoso.com  dee@contoso.com\n\teve@contoso.com"
    parsed = parse_members(text)
    assert parsed.addresses == tuple(
        f"{name}@contoso.com" for name in ("ann", "bob", "cy", "dee", "eve")
    )
    assert parsed.malformed == ()


def test_and_between_addresses_is_not_a_member() -> None:
    parsed = parse_members("ann@contoso.com and bob@contoso.com AND cy@contoso.com & dee@x.org")
    assert parsed.addresses == ("ann@contoso.com", "bob@contoso.com", "cy@contoso.com", "dee@x.org")
    assert parsed.malformed == ()


def test_pasted_mailto_and_angle_brackets_are_unwrapped() -> None:
    parsed = parse_members("mailto:ann@contoso.com <bob@contoso.com>; mailto:<cy@contoso.com>")
    assert parsed.addresses == ("ann@contoso.com", "bob@contoso.com", "cy@contoso.com")


def test_duplicates_count_once_whatever_their_case() -> None:
    parsed = parse_members("Ann@Contoso.com, ann@contoso.com <ANN@CONTOSO.COM> bob@contoso.com")
    assert parsed.addresses == ("ann@contoso.com", "bob@contoso.com")


def test_malformed_tokens_are_reported_as_typed() -> None:
    parsed = parse_members("ann@ @contoso.com ann@contoso ann@@contoso.com <Bob> ok@contoso.com")
    assert parsed.addresses == ("ok@contoso.com",)
    assert parsed.malformed == ("ann@", "@contoso.com", "ann@contoso", "ann@@contoso.com", "<Bob>")


def test_an_empty_list_and_mentions() -> None:
    assert parse_members(" ,; \n").empty
    mention = Mention("29:ann", "Ann")
    parsed = parse_members("", (mention,))
    assert parsed.mentions == (mention,) and not parsed.empty


def test_normalize_address() -> None:
    assert normalize_address("  <Ann@Contoso.COM> ") == "ann@contoso.com"
    assert normalize_address("bob@contoso.com") == "bob@contoso.com"


# Addresses as people write them: any case, some pasted with mailto: or <brackets>.
# A local part is dot-separated atoms: no leading, trailing or doubled dots.
local_parts = st.lists(st.text("abcxyz019_+-", min_size=1, max_size=5), min_size=1, max_size=3).map(
    ".".join
)
domains = st.lists(st.text("abcxyz019-", min_size=1, max_size=8), min_size=2, max_size=4)
addresses = st.builds(lambda local, labels: f"{local}@{'.'.join(labels)}", local_parts, domains)
wrappings = st.sampled_from(["{}", "mailto:{}", "<{}>", "mailto:<{}>"])
separators = st.sampled_from([",", ";", " ", ", ", " ; ", "\n", "\t", " and ", " & ", ",,"])


@given(st.lists(st.tuples(addresses, st.booleans(), wrappings, separators), max_size=20))
def test_no_valid_address_is_ever_lost(typed: list[tuple[str, bool, str, str]]) -> None:
    text = "".join(
        wrap.format(address.upper() if shout else address) + separator
        for address, shout, wrap, separator in typed
    )
    parsed = parse_members(text)
    assert parsed.addresses == tuple(dict.fromkeys(address for address, *_ in typed))
    assert parsed.malformed == ()


@given(st.text())
def test_any_text_parses_into_distinct_valid_addresses(text: str) -> None:
    parsed = parse_members(text)
    assert all(is_address(a) and a == a.lower() for a in parsed.addresses)
    assert len(set(parsed.addresses)) == len(parsed.addresses)
    assert all(token and not any(c in token for c in ",; \n\t") for token in parsed.malformed)


def test_addresses_pasted_from_outlook_keep_only_the_addresses() -> None:
    parsed = parse_members("Ann Smith <ann@contoso.com>; Bob <BOB@contoso.com>, cy@contoso.com")
    assert parsed.addresses == ("ann@contoso.com", "bob@contoso.com", "cy@contoso.com")
    assert parsed.malformed == ()


def test_mailto_is_dropped_whatever_its_case() -> None:
    parsed = parse_members("MAILTO:ann@contoso.com <mailto:bob@contoso.com> Mailto:cy@contoso.com")
    assert parsed.addresses == ("ann@contoso.com", "bob@contoso.com", "cy@contoso.com")
