"""Picture cleaning in a process of its own, with a hard budget no file can exceed.

Decoding is where a crafted picture costs: a JPEG of thousands of scans holds a core for
minutes, a decompression bomb takes gigabytes. Each picture is cleaned in a fresh
process whose operating-system limits bound its CPU time (`RLIMIT_CPU`) and address
space (`RLIMIT_AS`), and which is killed when it overruns its wall-clock time. Over
budget, the picture is refused in one line; the app itself never decodes a picture.

A fresh process per picture must start in milliseconds, so it is forked from a small
helper process (one per check slot, started once from multiprocessing's fork server
with Pillow loaded). The helper is single-threaded, which makes its `fork` safe; the app,
which runs threads, never forks itself.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import resource
import select
import signal
import threading
import time
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


@dataclass
class _Helper:
    process: Any
    connection: Connection


class Isolated:
    """Runs a module-level function in a fresh process under a `Budget`. Blocking: call it
    from a worker thread (the media checks run in one). At most `helpers` run at once."""

    def __init__(self, budget: Budget, helpers: int = 2) -> None:
        self.budget = budget
        self._most = helpers
        self._started = 0
        self._idle: queue.SimpleQueue[_Helper] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._warming: threading.Thread | None = None
        self._closed = False
        self._context = multiprocessing.get_context("forkserver")
        # The fork server loads these once; each helper starts from it with them loaded.
        self._context.set_forkserver_preload(["bot.media.strip"])

    def run(self, work: Callable[..., Any], *args: Any) -> Any:
        """`work(*args)`'s result, or what it raised (sent back pickled); OverBudget when
        the process ran out of CPU time, memory or time."""
        helper = self._take()
        budget = self.budget
        try:
            helper.connection.send(
                (work, args, budget.cpu_seconds, budget.memory_bytes, budget.wall_seconds)
            )
            # The helper answers once its process ended, by itself or killed at the budget.
            if not helper.connection.poll(budget.wall_seconds + 30):
                raise OverBudget("the helper did not answer")
            ok, value = helper.connection.recv()
        except (OSError, EOFError, OverBudget):
            self._discard(helper)
            raise OverBudget("the checking process stopped") from None
        if self._closed:
            self._discard(helper)
        else:
            self._idle.put(helper)
        if ok:
            return value
        raise value

    def warm(self) -> None:
        """Starts the helpers now, in the background: the first picture then waits for
        nothing (a helper's start imports the app's main module once, about a second)."""

        def start() -> None:
            started = []
            try:
                for _ in range(self._most):
                    started.append(self._take())
            except (OSError, ValueError):
                pass  # no fork server here: the rest start on first use
            for helper in started:
                self._idle.put(helper)

        self._warming = threading.Thread(target=start, name="send-media-helpers", daemon=True)
        self._warming.start()

    def close(self) -> None:
        """Stops the helpers that are idle (one at work stops when its work is done)."""
        self._closed = True
        if self._warming is not None:
            self._warming.join(timeout=10)
        while True:
            try:
                helper = self._idle.get_nowait()
            except queue.Empty:
                return
            self._discard(helper)

    def run_clean(self, found: Format, data: bytes) -> bytes:
        """`strip.clean` in its own process: the cleaner `Checks` hands to `check`."""
        return bytes(self.run(strip.clean_by_key, found.key, data))

    def _take(self) -> _Helper:
        with self._lock:
            try:
                return self._idle.get_nowait()
            except queue.Empty:
                start = self._started < self._most
                if start:
                    self._started += 1
        if not start:
            # Wait for one to be free; look again now and then, in case one was thrown
            # away (then a new one may be started).
            while True:
                try:
                    return self._idle.get(timeout=1.0)
                except queue.Empty:
                    with self._lock:
                        if self._started < self._most:
                            self._started += 1
                            break

        receive, send = self._context.Pipe(duplex=True)
        process = self._context.Process(target=_helper, args=(send,), daemon=True)
        try:
            process.start()
        except BaseException:
            with self._lock:
                self._started -= 1
            raise
        send.close()
        return _Helper(process, receive)

    def _discard(self, helper: _Helper) -> None:
        helper.process.kill()
        helper.process.join()
        helper.connection.close()
        with self._lock:
            self._started -= 1


def _helper(connection: Connection) -> None:
    """In the helper: for each piece of work, a forked process under the limits."""
    while True:
        try:
            work, args, cpu, memory, wall = connection.recv()
        except (EOFError, OSError):
            return
        connection.send(_forked(work, args, cpu, memory, wall))


def _forked(
    work: Callable[..., Any], args: tuple[Any, ...], cpu: int, memory: int, wall: float
) -> tuple[bool, Any]:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the process that does the work: limits first
        os.close(read_end)
        try:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
            try:
                outcome: tuple[bool, Any] = (True, work(*args))
            except MemoryError:
                outcome = (False, OverBudget("out of memory"))
            except Exception as error:  # noqa: BLE001 - sent back to be raised in the app
                outcome = (False, error)
            with os.fdopen(write_end, "wb") as out:
                out.write(pickle.dumps(outcome))
        finally:
            os._exit(0)
    os.close(write_end)
    chunks: list[bytes] = []
    deadline = time.monotonic() + wall
    timed_out = False
    with os.fdopen(read_end, "rb", buffering=0) as answer:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([answer], [], [], left)[0]:
                timed_out = True
                break
            chunk = answer.read(1024 * 1024)
            if not chunk:
                break
            chunks.append(chunk)
    if timed_out:
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    if timed_out:
        return (False, OverBudget(f"no answer within {wall:g} s"))
    if not chunks:
        # Killed by the kernel (SIGXCPU past the CPU limit, or out of memory).
        return (False, OverBudget("stopped"))
    result: tuple[bool, Any] = pickle.loads(b"".join(chunks))
    return result
