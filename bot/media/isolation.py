"""Picture cleaning in a process of its own, with a hard budget no file can exceed.

Decoding is where a crafted picture costs: a JPEG of thousands of scans holds a core for
minutes, a decompression bomb takes gigabytes. Each picture is cleaned in a fresh child
process (from a fork server that has Pillow loaded, so a child starts in milliseconds),
whose operating-system limits bound its CPU time (`RLIMIT_CPU`) and address space
(`RLIMIT_AS`), and which is killed when it overruns its wall-clock time. Over budget,
the picture is refused in one line; the app itself never decodes a picture.
"""

from __future__ import annotations

import multiprocessing
import resource
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from bot.media import strip
from bot.media.sniff import Format

MB = 1024 * 1024


@dataclass(frozen=True)
class Budget:
    """What one picture may cost. A 48-megapixel photo takes about 2 s of CPU and 400 MB."""

    cpu_seconds: int = 20
    memory_bytes: int = 1536 * MB
    wall_seconds: float = 60.0


class OverBudget(Exception):
    """The work took more CPU time, memory or time than its budget; it was stopped."""


class Isolated:
    """Runs a module-level function in a child process under a `Budget`. Blocking: call it
    from a worker thread (the media checks run in one)."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self._context = multiprocessing.get_context("forkserver")
        # The fork server loads these once; each child starts from it with them loaded.
        self._context.set_forkserver_preload(["bot.media.strip"])

    def run(self, work: Callable[..., Any], *args: Any) -> Any:
        """`work(*args)`'s result, or what it raised (sent back pickled); OverBudget when
        the child ran out of CPU time, memory or time."""
        receive, send = self._context.Pipe(duplex=False)
        child = self._context.Process(
            target=_limited,
            args=(send, work, args, self.budget.cpu_seconds, self.budget.memory_bytes),
            daemon=True,
        )
        child.start()
        send.close()
        try:
            if not receive.poll(self.budget.wall_seconds):
                raise OverBudget(f"no answer within {self.budget.wall_seconds:g} s")
            try:
                ok, value = receive.recv()
            except EOFError:
                # Killed by the kernel (SIGXCPU past the CPU limit, or SIGKILL).
                raise OverBudget(f"stopped ({child.exitcode})") from None
        finally:
            receive.close()
            child.kill()
            child.join()
            child.close()
        if ok:
            return value
        raise value

    def run_clean(self, found: Format, data: bytes) -> bytes:
        """`strip.clean` in the child: the cleaner `Checks` hands to `check`."""
        return bytes(self.run(strip.clean_by_key, found.key, data))


def _limited(
    send: Connection, work: Callable[..., Any], args: tuple[Any, ...], cpu: int, memory: int
) -> None:
    """In the child: the limits first, then the work; its result or exception goes back."""
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    try:
        outcome: tuple[bool, Any] = (True, work(*args))
    except MemoryError:
        outcome = (False, OverBudget("out of memory"))
    except Exception as error:  # noqa: BLE001 - sent back to be raised in the parent
        outcome = (False, error)
    send.send(outcome)
    send.close()
