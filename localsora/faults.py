"""Injected faults, for tests and demos: a share of 500s, queued one-off 500s or 429s, and cut downloads."""

from __future__ import annotations

import random
import threading
from collections import deque

# Bounds of the fault endpoint: every request walks the fault queue, so it stays short.
MAX_QUEUED_FAULTS = 1000
MAX_CUT_DOWNLOADS = 1000


class FaultInjector:
    """Injected failures: a random share of 500s, queued one-off faults, and cut downloads, for tests and demos."""

    def __init__(self, error_rate: float, seed: int | None = None, max_queued: int = MAX_QUEUED_FAULTS) -> None:
        self.error_rate = error_rate
        self.max_queued = max_queued
        self._random = random.Random(seed)
        # (status, retry_after, "METHOD /path" the fault is for, or "" for any request)
        self._queued: deque[tuple[int, float, str]] = deque()
        # The next this-many video downloads send half their body and drop the connection.
        self.cut_downloads = 0
        self._lock = threading.Lock()

    def queue(self, status: int, count: int, retry_after: float = 1.0, route: str = "") -> bool:
        """`route` like "POST /v1/videos" aims the faults at one endpoint; empty means the next requests.
        False, and nothing queued, when the queue would pass `max_queued`."""
        with self._lock:
            if len(self._queued) + count > self.max_queued:
                return False
            self._queued.extend([(status, retry_after, route)] * count)
            return True

    def clear(self) -> None:
        with self._lock:
            self._queued.clear()
            self.cut_downloads = 0

    def take_download_cut(self) -> bool:
        """True, once per cut still owed: this download is to be cut short."""
        with self._lock:
            if self.cut_downloads <= 0:
                return False
            self.cut_downloads -= 1
            return True

    def next_fault(self, method: str = "", path: str = "") -> tuple[int, float] | None:
        with self._lock:
            for fault in self._queued:
                status, retry_after, route = fault
                if not route or route == f"{method} {path}":
                    self._queued.remove(fault)
                    return status, retry_after
            if self.error_rate > 0 and self._random.random() < self.error_rate:
                return 500, 0.0
        return None
