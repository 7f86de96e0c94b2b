"""Downloading what a person attached in Teams: pasted pictures and files.

(Web Chat clients such as the Agents Playground put an upload in the activity itself, as
a `data:` URL; it is read from there.)

A pasted picture's `contentUrl` is on the Bot Connector of the activity's `serviceUrl`
and opens only with the bot's connector token; a file's `downloadUrl` is pre-authorised
(OneDrive) and takes no token. The token goes only to the connector the activity came
from, never to another host, and that download follows no redirect. A file is fetched
only from where Teams keeps files (`file_hosts.py`: https, the listed hosts, public
addresses, every redirect checked again). Bytes are read up to the limit and no further,
so an oversize item costs at most the limit.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
from urllib.parse import urljoin, urlsplit

import aiohttp

from bot.core.texts import Value, text
from bot.core.turn.requests import IncomingMedia
from bot.media.ports import MediaRefused
from bot.media.rules import shown_as, too_large
from bot.teams.connector import BotTokens
from bot.teams.file_hosts import FileHosts

log = logging.getLogger("send.teams.downloads")

_CHUNK = 64 * 1024
_TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=10, sock_read=20)
# SharePoint answers a download link with the file, or sends it on once or twice.
_MOST_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class TeamsDownloads:
    """`connector` is the app's session (pasted pictures come from the Bot Connector the
    activity named, already checked); `files` a session of its own whose resolver keeps
    only public addresses (`PublicResolver`), for the files' pre-authorised links."""

    def __init__(
        self,
        connector: aiohttp.ClientSession,
        files: aiohttp.ClientSession,
        tokens: BotTokens,
        hosts: FileHosts,
    ) -> None:
        self._connector = connector
        self._files = files
        self._tokens = tokens
        self._hosts = hosts

    async def fetch(self, item: IncomingMedia, service_url: str, max_bytes: int) -> bytes:
        shown = shown_as(item.name) if item.name else text("media.your_picture")
        if item.url[:5].lower() == "data:":
            return _inline_data(item.url, shown, max_bytes)
        if not item.needs_bot_token:
            return await self._file(item.url, shown, max_bytes)
        url = urlsplit(item.url)
        if url.scheme != "https" and not (url.scheme == "http" and _loopback(url.hostname)):
            raise MediaRefused(text("media.bad_link", name=shown))
        if url.netloc.lower() != urlsplit(service_url).netloc.lower():
            # The connector token opens the sender's whole conversation history: it is
            # never sent to a host other than the connector the activity came from.
            raise MediaRefused(text("media.not_teams", name=shown))
        headers = await self._tokens.header()
        try:
            async with self._connector.get(
                item.url, headers=headers, allow_redirects=False, timeout=_TIMEOUT
            ) as response:
                return await _body(response, shown, max_bytes)
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("attachment download failed", extra={"error": type(error).__name__})
            raise MediaRefused(text("media.no_download", name=shown)) from error

    async def _file(self, url: str, shown: Value, max_bytes: int) -> bytes:
        """A file's link, and each place it redirects to, only where Teams keeps files."""
        for _ in range(_MOST_REDIRECTS + 1):
            if not self._hosts.allows(url):
                log.warning("file link refused", extra={"host": urlsplit(url).hostname or ""})
                raise MediaRefused(text("media.not_teams", name=shown))
            try:
                async with self._files.get(
                    url, allow_redirects=False, timeout=_TIMEOUT
                ) as response:
                    if response.status in _REDIRECTS and "Location" in response.headers:
                        url = urljoin(str(response.url), response.headers["Location"])
                        continue
                    return await _body(response, shown, max_bytes)
            except (aiohttp.ClientError, TimeoutError, ValueError) as error:
                log.warning("file download failed", extra={"error": type(error).__name__})
                raise MediaRefused(text("media.no_download", name=shown)) from error
        raise MediaRefused(text("media.no_download", name=shown))


async def _body(response: aiohttp.ClientResponse, shown: Value, max_bytes: int) -> bytes:
    """The answer's bytes, read up to the limit and no further."""
    if response.status != 200:
        log.warning("attachment download refused", extra={"status": response.status})
        raise MediaRefused(text("media.not_handed", name=shown, status=response.status))
    if response.content_length is not None and response.content_length > max_bytes:
        raise MediaRefused(too_large(shown, response.content_length, max_bytes))
    data = bytearray()
    async for chunk in response.content.iter_chunked(_CHUNK):
        data += chunk
        if len(data) > max_bytes:
            raise MediaRefused(too_large(shown, None, max_bytes))
    return bytes(data)


def _inline_data(url: str, shown: Value, max_bytes: int) -> bytes:
    """A `data:` URL, as Web Chat clients (the Agents Playground) send an uploaded file:
    the bytes are in the activity itself, so there is nothing to download or to leak."""
    header, comma, payload = url.partition(",")
    if not comma or not header.lower().endswith(";base64"):
        raise MediaRefused(text("media.bad_form", name=shown))
    # Base64 takes 4 characters for 3 bytes: a payload longer than that is over the limit.
    if len(payload) > (max_bytes // 3 + 1) * 4:
        raise MediaRefused(too_large(shown, len(payload) * 3 // 4, max_bytes))
    try:
        data = base64.b64decode(payload, validate=True)
    except binascii.Error:
        raise MediaRefused(text("media.arrived_damaged", name=shown)) from None
    if len(data) > max_bytes:
        raise MediaRefused(too_large(shown, len(data), max_bytes))
    return data


def _loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
