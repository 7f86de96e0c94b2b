"""A message's life: what a burst of reactions, an edit and read receipts cost.

    .venv/bin/python -m bench.life           (from the repository root; about 40 seconds)

Through the real app (as a process) and the fake Bot Connector, on a 20-member group:
19 members react to the same message at once, then its sender edits it, then the 19 read
it. Prints, for each, the Teams updates Send made (card updates of the members' copies,
and updates of the sender's receipt) and the CPU seconds of the app process, measured
until everything asked for was done. Not part of the test suite.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from bench.run import TENANT, cpu_seconds, process, serve, setup_group, wait_copies
from tests.fakes.connector import FakeConnector, is_receipt
from tests.services import free_port
from tests.teams_world import TeamsWorld

Json = dict[str, Any]
SETTLE = 7.0  # seconds: two of a receipt's pauses between updates (3 s), and the rounds


def counts(fake: FakeConnector) -> tuple[int, int]:
    """(updates of copies, updates of receipts) the connector received so far."""
    receipts = sum(is_receipt(u.activity) for u in fake.updates)
    return len(fake.updates) - receipts, receipts


async def measure(work: Path) -> dict[str, tuple[int, int, float]]:
    fake = FakeConnector(tenant_id=TENANT)
    results: dict[str, tuple[int, int, float]] = {}
    async with serve(fake.app()) as connector_url:
        fake.base_url = connector_url
        port = free_port()
        env = {"PORT": str(port), "DATA_DIR": str(work), "LOG_LEVEL": "WARNING"}
        async with (
            process(["app.py"], port, env) as proc,
            TeamsWorld(f"http://127.0.0.1:{port}", fake, connector_url, TENANT) as world,
        ):
            people = await setup_group(world, 20)
            sender, members = people[0], people[1:]
            original = world.activity(sender, world.personal(sender), text="life-0 lunch?")
            await world.post(original)
            await wait_copies(fake, "life-0", 19)
            await asyncio.sleep(SETTLE)
            copy_of = {
                r.conversation_id: r.id
                for r in fake.received
                if r.activity.get("attachments") and "life-0" in str(r.activity)
            }

            async def step(name: str, activities: list[Json]) -> None:
                before_cards, before_receipts = counts(fake)
                cpu = cpu_seconds(proc.pid)
                await asyncio.gather(*(world.post(a) for a in activities))
                await asyncio.sleep(SETTLE)
                cards, receipts = counts(fake)
                used = cpu_seconds(proc.pid) - cpu
                results[name] = (cards - before_cards, receipts - before_receipts, used)

            reactions = []
            for member in members:
                reaction = world.activity(
                    member,
                    world.personal(member),
                    type="messageReaction",
                    replyToId=copy_of[fake.chat_of(member.user_id)],
                    reactionsAdded=[{"type": "like"}],
                )
                reaction.pop("text", None)
                reactions.append(reaction)
            await step("19 reactions at once", reactions)
            edit = {
                **original,
                "type": "messageUpdate",
                "text": "life-0 lunch at 13:00?",
                "channelData": {**original["channelData"], "eventType": "editMessage"},
            }
            await step("1 edit", [edit])
            reads = [
                world.activity(
                    member,
                    world.personal(member),
                    type="event",
                    name="application/vnd.microsoft.readReceipt",
                    value={"lastReadMessageId": copy_of[fake.chat_of(member.user_id)]},
                )
                for member in members
            ]
            await step("19 read receipts at once", reads)
    return results


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        results = asyncio.run(measure(Path(work)))
    print("\n| event (20-member group) | copies updated | receipt updates | CPU |")
    print("|---|---|---|---|")
    for name, (cards, receipts, cpu) in results.items():
        print(f"| {name} | {cards} | {receipts} | {cpu * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
