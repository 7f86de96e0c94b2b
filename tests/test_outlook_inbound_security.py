"""Whether the receiving Exchange Online vouches for a mail that would be relayed: sent
inside the organisation, or composite authentication passed for its From domain."""

from __future__ import annotations

import pytest

from bot.outlook.mail_checks import exchange_verdict

PASS = (
    "spf=pass (sender IP is 203.0.113.25) smtp.mailfrom=fabrikam.com; dkim=pass (signature "
    "was verified) header.d=fabrikam.com;dmarc=pass action=none header.from=fabrikam.com;"
    "compauth=pass reason=100"
)
INTRA = (
    "dkim=none (message not signed) header.d=none;dmarc=none action=none header.from=contoso.com;"
)
SPOOF = (
    "spf=fail (sender IP is 198.51.100.9) smtp.mailfrom=contoso.com; dkim=none (message not "
    "signed) header.d=none;dmarc=fail action=quarantine header.from=contoso.com;compauth=fail "
    "reason=000"
)
# No DMARC policy, but Exchange's composite authentication vouches for the From domain.
COMPAUTH = (
    "spf=pass (sender IP is 203.0.113.25) smtp.mailfrom=fabrikam.com; dkim=none (message not "
    "signed) header.d=none;dmarc=none action=none header.from=fabrikam.com;compauth=pass "
    "reason=109"
)


SOFTPASS = (
    "spf=none (sender IP is 198.51.100.9) smtp.mailfrom=contoso.com; dkim=none (message not "
    "signed) header.d=none;dmarc=none action=none header.from=contoso.com;compauth=softpass "
    "reason=201"
)
NONE_905 = (
    "spf=none (sender IP is 198.51.100.9) smtp.mailfrom=contoso.com; dkim=none (message not "
    "signed) header.d=none;dmarc=none action=none header.from=contoso.com;compauth=none reason=905"
)
TEMPERROR = (
    "spf=temperror (sender IP is 198.51.100.9) smtp.mailfrom=contoso.com; dkim=none (message "
    "not signed) header.d=none;dmarc=temperror action=none header.from=contoso.com;"
    "compauth=none reason=905"
)


def headers(*values: str, auth_as: str = "Anonymous") -> list[dict[str, str]]:
    received = {"name": "Received", "value": "from a by b"}
    found = [received, *({"name": "Authentication-Results", "value": v} for v in values)]
    return [*found, {"name": "X-MS-Exchange-Organization-AuthAs", "value": auth_as}]


CASES = [
    ("dmarc passed", headers(PASS), "fabrikam.com", True),
    ("domain spelled in capitals", headers(PASS.upper()), "Fabrikam.com", True),
    ("compauth passed", headers(COMPAUTH), "fabrikam.com", True),
    ("inside the organisation", headers(INTRA, auth_as="Internal"), "contoso.com", True),
    ("inside, any case", headers(INTRA, auth_as=" internal "), "contoso.com", True),
    ("intra-organisation results alone", headers(INTRA), "contoso.com", False),
    ("dmarc failed", headers(SPOOF), "contoso.com", False),
    ("compauth softpass", headers(SOFTPASS), "contoso.com", False),
    ("compauth none, reason 905", headers(NONE_905), "contoso.com", False),
    ("dmarc temperror", headers(TEMPERROR), "contoso.com", False),
    # A pass for some other From domain says nothing about this one.
    ("another domain passed", headers(PASS), "contoso.com", False),
    # Exchange's own header is the first; the sender may have written any below it.
    ("a pass written under Exchange's", headers(INTRA, PASS), "fabrikam.com", False),
    ("a pass written under a failure", headers(SPOOF, PASS), "contoso.com", False),
    ("with an authserv-id", headers(f"mx.contoso.com; {PASS}"), "fabrikam.com", True),
    ("no header", headers(), "fabrikam.com", False),
    ("not a header list", [{"name": 1}, "junk"], "fabrikam.com", False),
]


@pytest.mark.parametrize(("case", "given", "domain", "vouched"), CASES, ids=[c[0] for c in CASES])
def test_exchange_verdict(case: str, given: list[object], domain: str, vouched: bool) -> None:
    assert exchange_verdict(given, domain).vouched is vouched


def test_the_verdict_says_what_exchange_said() -> None:
    assert exchange_verdict(headers(SOFTPASS), "contoso.com").said == "compauth=softpass"
    assert exchange_verdict(headers(PASS), "contoso.com").said == "header.from=fabrikam.com"
    assert exchange_verdict(headers(INTRA, auth_as="Internal"), "contoso.com").said == "internal"
