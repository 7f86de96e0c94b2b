"""`python app.py`'s own part: what start-up made is frozen out of the garbage collector's
sight once the app has started (a full collection scanned 90,000 such objects)."""

from __future__ import annotations

import gc
from pathlib import Path

from aiohttp import web

import app as entry
from bot.config import Settings


async def test_start_up_freezes_what_it_made_after_the_app_has_started(tmp_path: Path) -> None:
    served = entry.serving_app(Settings(data_dir=tmp_path))
    handlers = list(served.on_startup)
    # The app's own start-up (its services) runs first, then the freeze.
    assert handlers[-1] is entry.freeze_startup_objects
    assert len(handlers) >= 2
    before = gc.get_freeze_count()
    try:
        await entry.freeze_startup_objects(web.Application())
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()
