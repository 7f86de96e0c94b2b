"""Two versions of Send compared on this machine, their rounds taken in turns.

    .venv/bin/python -m bench.ab ../before                (this tree against another checkout)
    .venv/bin/python -m bench.ab ../a ../b --messages 40 --rounds 6 --at-once 16

On a shared virtual machine the CPU a copy costs drifts by 10-20% within minutes (and by
half within an hour), so a "before" and an "after" measured one after the other compare
the machine's moods as much as the code. Here each tree runs as its own app process
(embedded store, Outlook copies off, its own fake Bot Connector) side by side, and the
rounds alternate between them (A B, B A, A B, ...). A round is what `bench.run` measures:
the app's CPU per delivered copy while a burst of messages goes to a 20-member group, one
message after another (as a person's client sends them), or `--at-once` senders at a time.
Prints each round and the medians. A tree against a copy of itself shows the noise: on the
project's machine the medians agreed within 1% while single rounds varied by ±15%.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

from bench.run import (
    TENANT,
    app_env,
    process,
    relay_cpu,
    serve,
)
from bench.sizes import group_of
from tests.fakes.connector import FakeConnector, TeamsPerson
from tests.services import ROOT, free_port
from tests.teams_world import TeamsWorld

SIZE = 20


@dataclass
class Version:
    tree: Path
    pid: int
    world: TeamsWorld
    people: list[TeamsPerson]
    rounds: list[float] = field(default_factory=list)  # ms of CPU per copy


async def start(stack: AsyncExitStack, tree: Path, data: Path) -> Version:
    fake = FakeConnector(tenant_id=TENANT)
    connector_url = await stack.enter_async_context(serve(fake.app()))
    port = free_port()
    env = {**app_env(port, data), "PYTHONPATH": str(tree)}
    proc = await stack.enter_async_context(process([str(tree / "app.py")], port, env))
    world = await stack.enter_async_context(
        TeamsWorld(f"http://127.0.0.1:{port}", fake, connector_url, TENANT)
    )
    people = await group_of(world, SIZE)
    for person in people:
        await world.say(person, "outlook off")
    return Version(tree, proc.pid, world, people)


async def run(trees: list[Path], a: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with AsyncExitStack() as stack:
            versions = [
                await start(stack, tree, Path(tmp) / f"data-{n}") for n, tree in enumerate(trees)
            ]
            for n in range(a.rounds):
                for version in versions if n % 2 == 0 else versions[::-1]:
                    cpu = await relay_cpu(
                        version.world,
                        version.pid,
                        version.people[0],
                        a.messages,
                        f"r{n}-",
                        SIZE - 1,
                        at_once=a.at_once,
                    )
                    version.rounds.append(cpu * 1000)
                print(
                    f"round {n + 1}: "
                    + ", ".join(f"{v.tree.name} {v.rounds[-1]:.3f} ms" for v in versions),
                    flush=True,
                )
    for version in versions:
        rounds = version.rounds
        print(
            f"{version.tree}: median {statistics.median(rounds):.3f} ms of CPU per copy "
            f"(rounds {min(rounds):.3f}-{max(rounds):.3f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+", help="one tree (against this one) or two")
    parser.add_argument("--messages", type=int, default=40, help="messages a round")
    parser.add_argument("--rounds", type=int, default=6, help="rounds each")
    parser.add_argument("--at-once", type=int, default=1, help="messages sent at a time")
    a = parser.parse_args()
    if len(a.trees) > 2:
        parser.error("at most two trees")
    trees = [Path(t).resolve() for t in a.trees]
    asyncio.run(run([ROOT, *trees] if len(trees) == 1 else trees, a))


if __name__ == "__main__":
    main()
