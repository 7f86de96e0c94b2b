"""`python app.py` as a person runs it: start-up, configuration errors, restarts, SIGTERM.

How fast it starts is a figure bench/run.py prints, not something asserted here.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from bot.store.repository import DocumentStore
from bot.store.sqlite_documents import SqliteDocuments
from bot.web.app import SHUTDOWN_GRACE_SECONDS
from tests.fakes.connector import FakeConnector
from tests.services import ROOT, free_port
from tests.teams_world import TeamsWorld, card_text
from tests.waiting import wait_until


def app_env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    return {**keep, "PORT": str(port), "DATA_DIR": str(tmp_path / "data"), **extra}


# Starting Python, importing botbuilder, opening the store: seconds on a loaded machine.
START_TIMEOUT = 60.0
PROBE = aiohttp.ClientTimeout(total=10)


async def wait_healthy(
    url: str, process: subprocess.Popen[bytes], timeout: float = START_TIMEOUT
) -> None:
    """Waits for /healthz to answer 200; fails at once if the process exits instead."""
    async with aiohttp.ClientSession(timeout=PROBE) as session:

        async def healthy() -> bool:
            assert process.poll() is None, f"the app exited with code {process.returncode}"
            try:
                async with session.get(f"{url}/healthz") as response:
                    return response.status == 200
            except (aiohttp.ClientConnectionError, TimeoutError):
                return False

        await wait_until(healthy, timeout, f"{url}/healthz to answer 200")


async def refuses_connections(url: str) -> bool:
    """True once nothing accepts a new connection at `url` (a new session each time)."""
    try:
        async with aiohttp.ClientSession(timeout=PROBE) as session, session.get(f"{url}/healthz"):
            return False
    except (aiohttp.ClientConnectionError, TimeoutError):
        return True


def start_app(tmp_path: Path, port: int, **env: str) -> subprocess.Popen[bytes]:
    """Starts `python app.py`; its JSON log goes to app.log in the test's folder."""
    with (tmp_path / "app.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, str(ROOT / "app.py")],
            cwd=tmp_path,
            env=app_env(tmp_path, port, **env),
            stderr=log,
        )


@asynccontextmanager
async def app_process(tmp_path: Path, port: int, **env: str) -> AsyncIterator[str]:
    process = start_app(tmp_path, port, **env)
    try:
        await wait_healthy(f"http://127.0.0.1:{port}", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


async def test_starts_with_no_environment(tmp_path: Path) -> None:
    """Nothing configured but a free PORT. How long it takes: bench/run.py's start-up row."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")],
        cwd=tmp_path,
        env={k: v for k, v in app_env(tmp_path, port).items() if k not in ("DATA_DIR",)},
        stderr=subprocess.PIPE,
    )
    try:
        await wait_healthy(f"http://127.0.0.1:{port}", process)
        assert (tmp_path / "data" / "send.sqlite3").exists()  # DATA_DIR defaults to ./data
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0
    assert b'"event": "starting"' in stderr


def test_configuration_error_is_one_line_without_the_secret(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "app.py")],
        cwd=tmp_path,
        env=app_env(tmp_path, free_port(), COSMOS_KEY="top-secret-key"),
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert lines == ["send: configuration error: COSMOS_KEY is set but COSMOS_ENDPOINT is empty"]
    assert b"top-secret-key" not in result.stderr + result.stdout


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("MAX_MESSAGE_CHARS=lots\n")
    result = subprocess.run(
        [sys.executable, str(ROOT / "app.py")],
        cwd=tmp_path,
        env=app_env(tmp_path, free_port()),
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert b"MAX_MESSAGE_CHARS must be a whole number" in result.stderr


@pytest.mark.slow
async def test_nothing_acknowledged_is_lost_across_a_hard_kill(
    tmp_path: Path, connector: tuple[FakeConnector, str]
) -> None:
    fake, connector_url = connector
    port = free_port()
    async with app_process(tmp_path, port) as url, TeamsWorld(url, fake, connector_url) as world:
        alice, bob = world.person("Alice"), world.person("Bob")
        await world.install(bob)
        assert await world.say(alice, "new lunch: bob@contoso.com") == 200
        assert await world.say(alice, "see you at noon") == 200
        await world.wait_relayed(bob, 1)
    # Kill -9 the next process right after an acknowledged command: it must be there after.
    process = start_app(tmp_path, port)
    try:
        await wait_healthy(f"http://127.0.0.1:{port}", process)
        async with TeamsWorld(f"http://127.0.0.1:{port}", fake, connector_url) as world:
            alice = world.person("Alice")
            assert await world.say(alice, "rename lunch: brunch") == 200
    finally:
        process.kill()
        process.wait(timeout=10)
    async with app_process(tmp_path, port) as url, TeamsWorld(url, fake, connector_url) as world:
        alice = world.person("Alice")
        await world.say(alice, "groups")
        assert "brunch: 2 members" in world.last_reply(alice)
        await world.say(alice, "history")
        assert "see you at noon" in world.last_reply(alice)


@pytest.mark.slow
async def test_kill_during_a_burst_loses_no_acknowledged_message(
    tmp_path: Path, connector: tuple[FakeConnector, str]
) -> None:
    """kill -9 while 100 messages arrive from three members; restart; count what arrived."""
    fake, connector_url = connector
    port = free_port()
    # A burst on purpose: fair use would refuse most of it (and rightly).
    env = {"TEAMS_SENDS_PER_SECOND": "50", "MESSAGES_PER_MINUTE_PER_SENDER": "1000"}
    members = ["Alice", "Bob", "Carol"]
    async with (
        app_process(tmp_path, port, **env) as url,
        TeamsWorld(url, fake, connector_url) as world,
    ):
        people = [world.person(name) for name in members]
        for person in people:
            await world.install(person)
        await world.say(people[0], "new Burst: " + ", ".join(p.email for p in people[1:]))
        await world.say(people[1], "use burst")
        await world.say(people[2], "use burst")
    acknowledged: list[tuple[str, str]] = []  # (sender, text)
    process = start_app(tmp_path, port, **env)
    await wait_healthy(f"http://127.0.0.1:{port}", process)
    async with TeamsWorld(f"http://127.0.0.1:{port}", fake, connector_url) as world:
        people = [world.person(name) for name in members]
        slots = asyncio.Semaphore(10)

        async def send(n: int) -> None:
            sender = people[n % 3]
            async with slots:
                if process.poll() is not None:
                    return
                try:
                    status = await world.say(sender, f"burst {n}")
                except aiohttp.ClientError:
                    return  # cut off by the kill: never acknowledged
                if status == 200:
                    acknowledged.append((sender.user_id, f"burst {n}"))
                if len(acknowledged) == 60:
                    process.kill()  # kill -9 in the middle of the burst

        await asyncio.gather(*(send(n) for n in range(100)))
    process.wait(timeout=10)
    assert 50 <= len(acknowledged) < 100
    # Restarted, and stopped with kill -9 once the copies are in: messages stored but never
    # acknowledged may still be on their way then, and a graceful stop would wait for them.
    process = start_app(tmp_path, port, **env)
    try:
        await wait_healthy(f"http://127.0.0.1:{port}", process)
        expected = {
            (fake.chat_of(p), text)
            for sender, text in acknowledged
            for p in fake.people
            if p != sender
        }

        def delivered() -> Counter[tuple[str, str]]:
            return Counter(
                (
                    r.conversation_id,
                    card_text(r.activity["attachments"][0]["content"]).split(" in Burst ")[-1],
                )
                for r in fake.received
                if r.activity.get("attachments")
            )

        await fake.wait_for(lambda: expected <= set(delivered()), timeout=60, what="every copy")
    finally:
        process.kill()
        process.wait(timeout=10)
    copies = delivered()
    duplicates = sum(n - 1 for n in copies.values())
    lost = expected - set(copies)
    print(f"acknowledged={len(acknowledged)} copies={sum(copies.values())} duplicates={duplicates}")
    assert not lost
    # Only copies in flight at the kill can repeat: at most the worker's 64 messages x 2.
    assert duplicates <= 64 * 2


@pytest.mark.slow
async def test_sigterm_finishes_or_releases_deliveries_and_exits(
    tmp_path: Path, connector: tuple[FakeConnector, str]
) -> None:
    """SIGTERM while a copy hangs at the connector: the process stops accepting, waits
    its grace period, releases the claims of what is unfinished, and exits."""
    fake, connector_url = connector
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_app(tmp_path, port)
    hang = asyncio.Event()  # the connector answers no send until this is set
    try:
        await wait_healthy(url, process)
        async with TeamsWorld(url, fake, connector_url) as world:
            ann, bob = world.person("Ann"), world.person("Bob")
            await world.install(ann)
            await world.install(bob)
            await world.say(ann, f"new Lunch: {bob.email}")
            fake.hold = hang  # the copy cannot arrive within the grace period, however slow
            assert await world.say(ann, "stuck on its way") == 200
            await wait_until(lambda: fake.held >= 1, what="Bob's copy to reach the connector")
            stopped_at = time.monotonic()
            process.send_signal(signal.SIGTERM)
            await wait_until(lambda: refuses_connections(url), what="the app to stop listening")
            with pytest.raises(aiohttp.ClientError):
                await world.say(ann, "too late")
        # A guard against hanging, not a measure of speed: the grace period plus lots.
        guard = SHUTDOWN_GRACE_SECONDS + 60
        try:
            returncode = await asyncio.to_thread(process.wait, guard)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the app had not exited {guard:g} s after SIGTERM")
        took = time.monotonic() - stopped_at
    finally:
        hang.set()  # the connector's hanging request may finish now
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert returncode == 0
    # Load only makes this longer: it waited for the copy before giving up on it.
    assert took >= SHUTDOWN_GRACE_SECONDS, f"exited {took:.1f} s after SIGTERM"
    documents = SqliteDocuments(tmp_path / "data" / "send.sqlite3")
    await documents.open()
    try:
        pending = await DocumentStore(documents).pending_messages()
    finally:
        await documents.close()
    assert [m.text for m in pending] == ["stuck on its way"]
    assert pending[0].claimed_until is not None
    assert pending[0].claimed_until <= datetime.now(UTC)  # released: anyone may take it over


@pytest.mark.slow
async def test_a_delete_cut_off_by_kill_9_is_finished_by_the_next_start(
    tmp_path: Path, connector: tuple[FakeConnector, str]
) -> None:
    """The delete is stored before anything is taken back: killed while Teams holds the
    retractions, the app takes every copy back once it starts again."""
    fake, connector_url = connector
    port = free_port()
    process = start_app(tmp_path, port)
    try:
        await wait_healthy(f"http://127.0.0.1:{port}", process)
        async with TeamsWorld(f"http://127.0.0.1:{port}", fake, connector_url) as world:
            ann, bob, cy = world.person("Ann"), world.person("Bob"), world.person("Cy")
            for person in (ann, bob, cy):
                await world.install(person)
            await world.say(ann, f"new lunch: {bob.email}, {cy.email}")
            first = world.activity(ann, world.personal(ann), text="the secret plan")
            assert await world.post(first) == 200
            await world.wait_relayed(bob, 1)
            await world.wait_relayed(cy, 1)

            async def stored() -> bool:  # the copies' ids are written down
                await world.say(ann, "status")
                return "- In Teams: Bob, Cy" in world.last_reply(ann)

            await wait_until(stored, what="the copies stored as sent")
            fake.hold = asyncio.Event()  # Teams takes nothing back for now
            channel = {**first["channelData"], "eventType": "softDeleteMessage"}
            deleted = {**first, "type": "messageDelete", "channelData": channel}
            deleted.pop("text")
            assert await world.post(deleted) == 200
            # Both retractions held before the kill: one still on its way would reach the
            # connector after it and be done, as a real one would do it.
            await wait_until(lambda: fake.held_deletes == 2, what="both retractions held")
    finally:
        process.kill()  # kill -9 with the copies still in Bob's and Cy's chats
        process.wait(timeout=10)
    assert fake.deleted == []
    fake.abandon()
    await wait_until(lambda: fake.held == 0, what="the killed app's requests to end")
    assert fake.deleted == []
    async with app_process(tmp_path, port) as url, TeamsWorld(url, fake, connector_url) as world:
        await wait_until(
            lambda: len({r.conversation_id for r in fake.deleted}) == 2,
            what="both copies taken back",
        )
        ann, bob = world.person("Ann"), world.person("Bob")
        assert world.relayed(bob) == [] and world.relayed(world.person("Cy")) == []
        await world.say(ann, "history")
        assert "secret" not in world.last_reply(ann)
