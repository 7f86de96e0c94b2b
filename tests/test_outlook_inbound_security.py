"""Reading Exchange Online's Authentication-Results on a mail that would be relayed."""

from __future__ import annotations

import pytest

from bot.outlook.inbound import authentication_verdict

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


def headers(*values: str) -> list[dict[str, str]]:
    received = {"name": "Received", "value": "from a by b"}
    return [received, *({"name": "Authentication-Results", "value": v} for v in values)]


CASES = [
    ("dmarc passed", headers(PASS), "fabrikam.com", "pass"),
    ("domain spelled in capitals", headers(PASS.upper()), "Fabrikam.com", "pass"),
    ("compauth passed", headers(COMPAUTH), "fabrikam.com", "pass"),
    ("inside the organisation", headers(INTRA), "contoso.com", "none"),
    ("dmarc failed", headers(SPOOF), "contoso.com", "fail"),
    # A pass for some other From domain says nothing about this one.
    ("another domain passed", headers(PASS), "contoso.com", "none"),
    # Exchange's own header is the first; the sender may have written any below it.
    ("a pass written under Exchange's", headers(INTRA, PASS), "fabrikam.com", "none"),
    ("a pass written under a failure", headers(SPOOF, PASS), "contoso.com", "fail"),
    ("with an authserv-id", headers(f"mx.contoso.com; {PASS}"), "fabrikam.com", "pass"),
    ("no header", headers(), "fabrikam.com", "none"),
    ("not a header list", [{"name": 1}, "junk"], "fabrikam.com", "none"),
]


@pytest.mark.parametrize(("case", "given", "domain", "verdict"), CASES, ids=[c[0] for c in CASES])
def test_authentication_verdict(case: str, given: list[object], domain: str, verdict: str) -> None:
    assert authentication_verdict(given, domain) == verdict
