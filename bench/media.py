"""Photos and files: what checking, cleaning, relaying and serving them costs.

    .venv/bin/python -m bench.media          (from the repository root; about a minute)

Prints, for a 12-megapixel phone photo with GPS data, a 1080p PNG screenshot and a 5 MB
PDF: the time `check` takes (content sniffing, metadata stripped, a JPEG re-encoded) and
the process's peak memory; then, through the real app and the fake Bot Connector, the
time from a photo pasted in a 20-member group to its 19th Teams copy, and how fast the 19
members' links serve it at once. Not part of the test suite (no durations are asserted).
"""

from __future__ import annotations

import asyncio
import io
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image

from bench.run import percentile, setup_group
from bot.config import Settings
from bot.media.rules import check
from bot.tuning import Tuning
from bot.web.app import create_app
from tests.conftest import serve as serve_on  # serves an app on a port chosen beforehand
from tests.fakes.connector import FakeConnector
from tests.services import free_port
from tests.teams_world import TeamsWorld

RUNS = 5


def phone_photo() -> bytes:
    """4000 x 3000 with texture (so it compresses like a photo) and GPS in its EXIF."""
    rng = random.Random(12)
    small = Image.frombytes("RGB", (400, 300), rng.randbytes(400 * 300 * 3))
    image = small.resize((4000, 3000), Image.Resampling.BICUBIC)
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 22.0, 3.5), 3: "E", 4: (4.0, 53.0, 2.25)})
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88, exif=exif.tobytes())
    return out.getvalue()


def screenshot() -> bytes:
    rng = random.Random(3)
    image = Image.new("RGB", (1920, 1080), (245, 245, 245))
    for _ in range(400):
        x, y = rng.randrange(1900), rng.randrange(1060)
        image.paste((rng.randrange(256), 90, 160), (x, y, x + 60, y + 14))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def pdf(size: int) -> bytes:
    body = b"%PDF-1.7\n1 0 obj <<>> endobj\n"
    return body + b"% " + b"x" * (size - len(body) - 30) + b"\ntrailer <<>>\n%%EOF\n"


def check_ms(name: str, data: bytes) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        check(name, data)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def relay_and_serve(work: Path, photo: bytes) -> dict[str, float]:
    fake = FakeConnector(tenant_id="bench-tenant")
    connector_port = free_port()
    fake.base_url = f"http://127.0.0.1:{connector_port}"
    app_port = free_port()
    settings = Settings(
        data_dir=work / "data", port=app_port, public_base_url=f"http://127.0.0.1:{app_port}"
    )
    latencies, rates = [], []
    async with (
        serve_on(fake.app(), connector_port) as connector_url,
        serve_on(create_app(settings, tuning=Tuning()), app_port) as app_url,
        TeamsWorld(app_url, fake, connector_url) as world,
    ):
        people = await setup_group(world, 20)
        sender, readers = people[0], people[1:]
        for n in range(RUNS):
            started = time.monotonic()
            await world.paste(sender, photo, f"photo-{n}")
            marker = f"photo-{n}"

            def arrived(marker: str = marker) -> bool:
                return all(any(marker in str(c) for c in world.relayed(r)) for r in readers)

            await fake.wait_for(arrived, 120, "19 copies")
            latencies.append(time.monotonic() - started)
            links = [_image_link(world.relayed(r)[-1]) for r in readers]
            async with aiohttp.ClientSession() as session:
                started = time.monotonic()
                sizes = await asyncio.gather(*(_get(session, link) for link in links))
                rates.append(sum(sizes) / (time.monotonic() - started) / 1e6)
    return {
        "paste_to_19th_copy_p50_s": percentile(latencies, 0.5),
        "paste_to_19th_copy_max_s": max(latencies),
        "serve_19_links_mb_per_s": statistics.median(rates),
    }


def _image_link(card: dict[str, Any]) -> str:
    return next(str(b["url"]) for b in card["body"] if b["type"] == "Image")


async def _get(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(url) as response:
        assert response.status == 200
        return len(await response.read())


def main() -> None:
    photo, shot, document = phone_photo(), screenshot(), pdf(5 * 1024 * 1024)
    stripped = check("IMG_0001.jpg", photo).data
    print(f"phone photo: {len(photo) / 1e6:.1f} MB in, {len(stripped) / 1e6:.1f} MB stored")
    print(f"check, 12 MP JPEG with GPS (re-encoded): {check_ms('IMG_0001.jpg', photo):.0f} ms")
    print(
        f"check, 1080p PNG screenshot ({len(shot) / 1e3:.0f} KB): {check_ms('s.png', shot):.0f} ms"
    )
    print(f"check, 5 MB PDF: {check_ms('report.pdf', document):.1f} ms")
    print(
        f"peak RSS after the checks: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    with tempfile.TemporaryDirectory() as folder:
        figures = asyncio.run(relay_and_serve(Path(folder), stripped))
    print(
        "paste a {:.1f} MB photo in a 20-member group, to the 19th Teams copy: "
        "p50 {:.2f} s, max {:.2f} s".format(
            len(stripped) / 1e6,
            figures["paste_to_19th_copy_p50_s"],
            figures["paste_to_19th_copy_max_s"],
        )
    )
    print(f"19 members open their links at once: {figures['serve_19_links_mb_per_s']:.0f} MB/s")


if __name__ == "__main__":
    main()
