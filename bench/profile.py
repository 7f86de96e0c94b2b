"""Where the CPU of a burst goes: the app under py-spy while messages go to a group.

    .venv/bin/python -m bench.profile                 (from the repository root; a minute)
    .venv/bin/python -m bench.profile --outlook off --messages 200 --size 20

Through the real app (as a process, embedded store, local .eml Outlook record) and the
fake Bot Connector, py-spy samples the thread holding the GIL 400 times a second while a
burst of messages goes to a group, then this prints the top ten functions by their own
time, and the top ten of Send's own code by time spent in them and what they call.
Needs py-spy (installed by `scripts/setup.sh dev`) and the right to trace a child
process. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.run import TENANT, app_env, process, serve
from bench.sizes import cpu_per_copy, group_of
from tests.fakes.connector import FakeConnector
from tests.services import free_port
from tests.teams_world import TeamsWorld

TOP = 10


def py_spy() -> str:
    found = Path(sys.executable).parent / "py-spy"
    if not found.exists():
        raise SystemExit("py-spy is not installed: run scripts/setup.sh dev")
    return str(found)


async def record(work: Path, a: argparse.Namespace) -> tuple[Path, float]:
    samples = work / "samples.txt"
    fake = FakeConnector(tenant_id=TENANT)
    async with serve(fake.app()) as connector_url:
        port = free_port()
        env = app_env(port, work / "data")
        async with (
            process(["app.py"], port, env) as proc,
            TeamsWorld(f"http://127.0.0.1:{port}", fake, connector_url, TENANT) as world,
        ):
            people = await group_of(world, a.size)
            if a.outlook == "off":
                for person in people:
                    await world.say(person, "outlook off")
            spy = subprocess.Popen(
                [py_spy(), "record", "--pid", str(proc.pid), "--rate", "400", "--gil",
                 "--nonblocking", "--format", "raw", "--output", str(samples)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            await asyncio.sleep(1.0)  # attached
            per_copy = await cpu_per_copy(world, proc.pid, people, a.messages, "profiled-")
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
    return samples, per_copy


def report(samples: Path, per_copy: float, a: argparse.Namespace) -> None:
    own: collections.Counter[str] = collections.Counter()
    inside: collections.Counter[str] = collections.Counter()
    total = 0
    for line in samples.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        # A frame reads "function (file:line)": counted by function and file.
        frames = [f.rsplit(" (", 1) for f in stack.split(";") if " (" in f]
        names = [f"{name} ({where.rsplit(':', 1)[0]})" for name, where in frames]
        if names:
            own[names[-1]] += n
        for name in set(names):
            if "(bot/" in name:
                inside[name] += n
    print(
        f"\n{a.messages} messages to {a.size} members, Outlook copies {a.outlook}: "
        f"{per_copy * 1000:.2f} ms of CPU per delivered copy; {total} samples\n"
    )
    print("| own time | function |\n|---|---|")
    for name, n in own.most_common(TOP):
        print(f"| {100 * n / total:.1f}% | {name} |")
    print("\n| with what it calls | Send's function |\n|---|---|")
    for name, n in inside.most_common(TOP):
        print(f"| {100 * n / total:.1f}% | {name} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--size", type=int, default=20, help="members of the group")
    parser.add_argument("--outlook", choices=("on", "off"), default="off")
    a = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        samples, per_copy = asyncio.run(record(Path(tmp), a))
        report(samples, per_copy, a)


if __name__ == "__main__":
    main()
