"""The aiohttp application keys, in their own module so the app and its routes share them."""

from __future__ import annotations

from aiohttp import web

from bot.compose import Services

SERVICES = web.AppKey("services", Services)
