"""Starting and stopping the local test services (docs/configuration.md, "Local services") on free ports.

With CI=true a service that cannot start fails the run; on a laptop without
`npm ci` the tests that need it are skipped with the reason.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
NODE_BIN = ROOT / "node_modules" / ".bin"
# The documented emulator key; cosmosdb-server accepts any key.
COSMOS_KEY = (
    "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing service is a failure)")
    pytest.skip(reason)


def _port_block() -> range:
    """Ports below the kernel's ephemeral range (32768 and up), a block per process.
    Asking the kernel for port 0 races: the port it names is also handed to the next
    outbound connection (ours or another process's), and a server started a moment later
    finds it taken. Ports below that range are never handed out, and each pytest-xdist
    worker owns its block (other processes, such as a second test run or the benchmark,
    take one by their process id), so only our own earlier servers can hold one."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and worker[2:].isdigit():
        slot = int(worker[2:]) % 8
    else:
        slot = 8 + os.getpid() % 14
    start = 10_000 + slot * 1_000
    return range(start, start + 1_000)


_next_port = itertools.count()


def free_port() -> int:
    """A port on 127.0.0.1 that nothing holds, lingering connections included (the
    probe binds without SO_REUSEADDR, so a port in TIME_WAIT is passed over)."""
    block = _port_block()
    for _ in range(len(block)):
        port = block[next(_next_port) % len(block)]
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {block}")


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with code {process.returncode}")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGINT) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
        process.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        process.wait(timeout=5)


@contextmanager
def node_service(
    name: str, args: list[str], port: int | None, cwd: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Starts a service from node_modules; waits for `port` unless it is None."""
    binary = NODE_BIN / name
    if not binary.exists():
        unavailable(f"{name} is not installed: run `npm ci` in the repository")
    log = (cwd / f"{name}.log").open("wb")
    process = subprocess.Popen(
        [str(binary), *args],
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    try:
        try:
            if port is not None:
                wait_for_port(port, process, timeout=30)
        except (RuntimeError, TimeoutError) as error:
            unavailable(f"{name} did not start: {error}")
        yield process
    finally:
        stop(process)
        log.close()


@dataclass
class CosmosServer:
    endpoint: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        stop(self.process)


@contextmanager
def cosmos_server(workdir: Path) -> Iterator[CosmosServer]:
    """A @vercel/cosmosdb-server on a free port (https, self-signed certificate)."""
    port = free_port()
    with node_service("cosmosdb-server", ["-p", str(port)], port, workdir) as process:
        yield CosmosServer(f"https://127.0.0.1:{port}", process)


@contextmanager
def agents_playground(workdir: Path, bot_endpoint: str, conversation_id: str) -> Iterator[int]:
    """The Microsoft 365 Agents Playground (Teams channel) on a free port; yields the port."""
    port = free_port()
    args = [
        "-e", bot_endpoint,
        "-c", "msteams",
        "-p", str(port),
        "--conversation-id", conversation_id,
        "--disable-telemetry",
    ]  # fmt: skip
    env = {
        "TEAMSAPPTESTER_BROWSER": "none",
        "M365_AGENTS_PLAYGROUND_LOGFILE": str(workdir / "playground-internal.log"),
    }
    with node_service("agentsplayground", args, None, workdir, env) as process:
        # If the port was taken meanwhile it silently picks another: read the one it chose.
        actual = _listening_port(workdir / "agentsplayground.log", port)
        try:
            wait_for_port(actual, process, timeout=30)
        except (RuntimeError, TimeoutError) as error:
            unavailable(f"agentsplayground did not start: {error}")
        yield actual


def _listening_port(log: Path, asked: int, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        match = re.search(r"Listening on (\d+)", text)
        if match:
            return int(match.group(1))
        time.sleep(0.05)
    unavailable(f"agentsplayground never said which port it listens on (asked for {asked})")
    return asked


# Azurite's well-known development account (documented, public; not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


@contextmanager
def azurite_server(workdir: Path) -> Iterator[str]:
    """Azurite's Blob Storage on a free port; yields a connection string for its dev account.

    `UseDevelopmentStorage=true` means port 10000, so the endpoint is spelled out. Telemetry
    is off: these machines reach no network but the package registries.
    """
    port = free_port()
    location = workdir / "azurite"
    location.mkdir(parents=True, exist_ok=True)
    args = [
        "--blobHost", "127.0.0.1",
        "--blobPort", str(port),
        "--location", str(location),
        "--skipApiVersionCheck",
        "--disableTelemetry",
        "--silent",
    ]  # fmt: skip
    with node_service("azurite-blob", args, port, workdir):
        yield (
            "DefaultEndpointsProtocol=http;"
            f"AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
        )


@asynccontextmanager
async def cosmos_client(endpoint: str) -> AsyncIterator[Any]:
    """A Cosmos DB client of the local server, closed as the app closes its own: with a
    pause after, so its TLS connections finish closing before the test's loop ends (else
    their transports are left to the garbage collector, a ResourceWarning in some later
    test)."""
    from azure.cosmos.aio import CosmosClient

    async with CosmosClient(endpoint, COSMOS_KEY, connection_verify=False) as client:
        yield client
    await asyncio.sleep(0.1)
