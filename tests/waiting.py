"""The one way tests wait: on a condition, with a deadline, failing with what never happened."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import IO, TypeVar

T = TypeVar("T")
POLL = 0.05  # s between looks; short, since each look is cheap


def wait_until(probe: Callable[[], T], done: Callable[[T], object] = bool, *, what: str, deadline: float = 60.0,
               interval: float = POLL) -> T:
    """Call `probe` until `done(value)`, and return that value. After `deadline` seconds, fail naming `what`
    was awaited and the last value seen. The deadline only stops a hang; nothing asserts how long it took."""
    end = time.monotonic() + deadline
    while True:
        value = probe()
        if done(value):
            return value
        if time.monotonic() > end:
            raise AssertionError(f"Waited {deadline:g} s for {what}; last saw {value!r}")
        time.sleep(interval)


def join_all(threads: Sequence[threading.Thread], *, what: str, deadline: float = 120.0) -> None:
    """Join every thread; past `deadline` seconds in all, fail naming `what` and the threads still running."""
    end = time.monotonic() + deadline
    for thread in threads:
        thread.join(timeout=max(0.0, end - time.monotonic()))
    running = [thread.name for thread in threads if thread.is_alive()]
    if running:
        raise AssertionError(f"Waited {deadline:g} s for {what}; still running: {running}")


def read_line(stream: IO[str], *, what: str, deadline: float = 60.0) -> str:
    """The next line from `stream` (a child's pipe, say); past `deadline` seconds with no line, fail naming `what`."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), name="read-line", daemon=True).start()
    try:
        return lines.get(timeout=deadline)
    except queue.Empty:
        raise AssertionError(f"Waited {deadline:g} s for {what}; no line came") from None
