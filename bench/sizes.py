"""CPU per delivered copy by group size, Outlook copies on and off, and with full mailboxes.

    .venv/bin/python -m bench.sizes          (from the repository root; about 2 minutes)

Through the real app (as a process, embedded store, Outlook copies as local .eml files)
and the fake Bot Connector: for groups of 5, 10 and 20 members, the CPU seconds of the
app per delivered Teams copy while a burst of messages goes out, with every member's
Outlook copy on, then off; then the 20-member group again after each member's mailbox
folder was given 2,000 more mails. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path

from bench.run import TENANT, app_env, process, relay_cpu, serve
from tests.fakes.connector import FakeConnector, TeamsPerson
from tests.services import free_port
from tests.teams_world import TeamsWorld

SIZES = (5, 10, 20)
MAILBOX_MAILS = 2_000


async def group_of(world: TeamsWorld, size: int) -> list[TeamsPerson]:
    people = world.people(size, f"Size{size}")
    for person in people:
        await world.install(person)
    await world.say(people[0], f"new Size {size}: " + ", ".join(p.email for p in people[1:]))
    return people


async def cpu_per_copy(
    world: TeamsWorld, pid: int, people: list[TeamsPerson], messages: int, marker: str
) -> float:
    return await relay_cpu(world, pid, people[0], messages, marker, len(people) - 1)


def fill_mailboxes(data: Path, people: list[TeamsPerson], mails: int) -> None:
    """`mails` more mails in each member's folder (hard links of one small mail, as the
    recorder itself writes them), so that a folder's size is what changes."""
    seed = data / "seed.eml"
    seed.write_bytes(b"From: Send <send@localhost>\r\nSubject: [Send] old\r\n\r\nold\r\n")
    for person in people:
        folder = data / "outlook" / person.email.lower()
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(mails):
            os.link(seed, folder / f"0000-old-{n:05d}.eml")


async def measure(work: Path, messages: int) -> list[tuple[str, float]]:
    rows: list[tuple[str, float]] = []
    fake = FakeConnector(tenant_id=TENANT)
    async with serve(fake.app()) as connector_url:
        port = free_port()
        env = app_env(port, work)
        async with (
            process(["app.py"], port, env) as proc,
            TeamsWorld(f"http://127.0.0.1:{port}", fake, connector_url, TENANT) as world,
        ):
            groups = {size: await group_of(world, size) for size in SIZES}
            for size, people in groups.items():
                on = await cpu_per_copy(world, proc.pid, people, messages, f"on-{size}-")
                rows.append((f"{size} members, Outlook copies on", on))
            people = groups[20]
            fill_mailboxes(work, people, MAILBOX_MAILS)
            full = await cpu_per_copy(world, proc.pid, people, messages, "full-20-")
            rows.append(
                (f"20 members, Outlook copies on, +{MAILBOX_MAILS:,} mails a mailbox", full)
            )
            for size, people in groups.items():
                for person in people:
                    await world.say(person, "outlook off")
                off = await cpu_per_copy(world, proc.pid, people, messages, f"off-{size}-")
                rows.append((f"{size} members, Outlook copies off", off))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=40, help="messages per measure")
    a = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = asyncio.run(measure(Path(tmp), a.messages))
    print(f"\n{a.messages} messages per measure\n\n| group | CPU per delivered copy |\n|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds * 1000:.2f} ms |")


if __name__ == "__main__":
    main()
