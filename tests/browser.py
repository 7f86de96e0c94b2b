"""A real browser for looking at what people see: Debian's Chromium, driven by Playwright.

Playwright's own browser download is never used (`executable_path`): scripts/setup.sh
installs Debian's `chromium` on CI machines. The flags keep it off the network this
machine does not have (background updates, sync, QUIC).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from tests.services import unavailable

if TYPE_CHECKING:
    from playwright.async_api import Page

FLAGS = [
    "--headless=new",
    "--no-sandbox",  # root in a container
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or ""
    if not found:
        unavailable("Chromium is not installed (scripts/setup.sh installs Debian's chromium)")
    return found


@asynccontextmanager
async def browser_page(width: int = 1280, height: int = 900) -> AsyncIterator[Page]:
    from playwright.async_api import async_playwright

    path = chromium_path()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=path, args=FLAGS)
        try:
            page = await browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            await browser.close()
