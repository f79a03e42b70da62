"""The rate limit on job-creating requests: a sliding window, answered with 429 and Retry-After past it."""

from __future__ import annotations

import threading
import time
from collections import deque


class RateLimiter:
    """Sliding window over job-creating requests: `limit` per `window` seconds (0 = off)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self, now: float | None = None) -> float:
        """Take a slot and return 0, or return the seconds until one frees up."""
        if self.limit <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        with self._lock:
            while self._times and now - self._times[0] >= self.window:
                self._times.popleft()
            if len(self._times) >= self.limit:
                return self.window - (now - self._times[0])
            self._times.append(now)
            return 0.0
