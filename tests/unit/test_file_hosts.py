"""Which file links Send may download, and which addresses it may connect to for them."""

from __future__ import annotations

import socket

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.config import FILE_DOWNLOAD_HOSTS
from bot.teams.file_hosts import FileHosts, PublicResolver, is_public

TEAMS = FileHosts(FILE_DOWNLOAD_HOSTS)


@pytest.mark.parametrize(
    "url",
    [
        "https://contoso-my.sharepoint.com/personal/ann/_layouts/15/download.aspx?UniqueId=1",
        "https://contoso.sharepoint.com/sites/x/f.pdf",
        "https://CONTOSO-MY.SharePoint.com./f.pdf",
        "https://contoso.sharepoint.us/f.pdf",
        "https://sharepoint.com/f.pdf",
    ],
)
def test_teams_file_hosts_are_allowed(url: str) -> None:
    assert TEAMS.allows(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://contoso.sharepoint.com/f.pdf",  # not https
        "https://contoso.sharepoint.com.evil.example/f.pdf",
        "https://evilsharepoint.com/f.pdf",
        "https://user:pw@contoso.sharepoint.com/f.pdf",
        "https://169.254.169.254/latest/meta-data/",
        "https://127.0.0.1/f.pdf",
        "https://[::1]/f.pdf",
        "https://10.0.0.5/f.pdf",
        "file:///etc/passwd",
        "https:///f.pdf",
        "not a url",
    ],
)
def test_everything_else_is_refused(url: str) -> None:
    assert not TEAMS.allows(url)


def test_an_address_is_taken_only_when_listed_and_http_only_to_this_machine() -> None:
    listed = FileHosts(("127.0.0.1", "192.0.2.7"))
    assert listed.allows("http://127.0.0.1:8080/onedrive/1")
    assert listed.allows("https://192.0.2.7/f")
    assert not listed.allows("http://192.0.2.7/f")  # plain http off this machine
    assert not listed.allows("http://127.0.0.2/f")
    assert not listed.allows("http://localhost/f")  # a name is not the address


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("20.190.160.1", True),
        ("2603:1030::1", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),  # shared address space (carrier NAT)
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),  # loopback written as IPv6
        ("::ffff:20.190.160.1", True),
        ("nonsense", False),
    ],
)
def test_what_counts_as_a_public_address(address: str, public: bool) -> None:
    assert is_public(address) is public


class Answers(AbstractResolver):
    """A resolver whose DNS says what the test wants."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(hostname=host, host=a, port=port, family=family, proto=0, flags=0)
            for a in self.addresses
        ]

    async def close(self) -> None:
        return None


async def test_the_resolver_keeps_only_public_addresses() -> None:
    mixed = PublicResolver(Answers("10.0.0.8", "20.190.160.1", "127.0.0.1"))
    found = await mixed.resolve("contoso.sharepoint.com", 443)
    assert [entry["host"] for entry in found] == ["20.190.160.1"]


async def test_a_name_that_resolves_only_to_private_addresses_is_not_connected_to() -> None:
    rebound = PublicResolver(Answers("169.254.169.254", "127.0.0.1"))
    with pytest.raises(OSError, match="no public address"):
        await rebound.resolve("contoso.sharepoint.com", 443)


@pytest.mark.parametrize("url", ["https://[::1/f.pdf", "https://contoso.sharepoint.com:99999/f"])
def test_a_malformed_link_is_refused_not_an_error(url: str) -> None:
    assert not TEAMS.allows(url)
