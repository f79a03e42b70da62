"""The one way tests wait: on a condition, with a deadline, failing with what never happened."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

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
