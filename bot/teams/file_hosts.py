"""Where Send may download a file a person attached: only where Teams keeps files.

A file attachment names its own `downloadUrl`, and a crafted activity can name any
address, so the URL alone decides nothing. A download goes only over https to a host
`FILE_DOWNLOAD_HOSTS` lists (a name and its subdomains: SharePoint and OneDrive by
default); every redirect is checked by the same rule; and the name must resolve to a
public address, checked for every connection (`PublicResolver`), so a name that points
at this machine, the private network or the cloud's metadata service is never
connected to. An address written as such is taken only when the operator listed that
very address (tests list 127.0.0.1, where the fakes serve over http).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult


class FileHosts:
    def __init__(self, hosts: tuple[str, ...]) -> None:
        self._hosts = tuple(h.lower().rstrip(".") for h in hosts)

    def allows(self, url: str) -> bool:
        """Whether a download (or a redirect) may go to `url`."""
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower().rstrip(".")
            if parts.port == 0:  # reading it raises for a malformed port or IPv6 address
                return False
        except ValueError:
            return False
        if not host or parts.username is not None or parts.password is not None:
            return False
        address = _address(host)
        if address is not None:
            # Only an address the operator wrote down; plain http only to this machine.
            plain = parts.scheme == "http" and address.is_loopback
            return host in self._hosts and (parts.scheme == "https" or plain)
        if parts.scheme != "https":
            return False
        return any(host == h or host.endswith("." + h) for h in self._hosts)


class PublicResolver(AbstractResolver):
    """Resolves as usual, then keeps only public addresses: no connection is made to
    loopback, private, link-local (169.254.169.254, the cloud's metadata service),
    shared, reserved or multicast addresses, whatever the name's DNS says today."""

    def __init__(self, inner: AbstractResolver) -> None:
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found: list[ResolveResult] = await self._inner.resolve(host, port, family)
        public = [entry for entry in found if is_public(str(entry["host"]))]
        if not public:
            raise OSError(f"{host} resolves to no public address")
        return public

    async def close(self) -> None:
        await self._inner.close()


def is_public(text: str) -> bool:
    address = _address(text.split("%", 1)[0])
    if address is None:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
