"""The aiohttp application keys, in their own module so the app and its routes share them."""

from __future__ import annotations

from aiohttp import web

from bot.compose import Services
from bot.web.transfers import Transfers

SERVICES = web.AppKey("services", Services)
# The media downloads this app serves at once, and how long a reader may take per chunk.
MEDIA_TRANSFERS = web.AppKey("media_transfers", Transfers)
MEDIA_WRITE_TIMEOUT = web.AppKey("media_write_timeout", float)
