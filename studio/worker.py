"""The background worker: one thread per server process that polls every active job and archives it when done,
so jobs finish with no browser tab open. Pages then only read the library.

It goes through `Jobs`, so it honours `openai-poll-after-ms` and the deadline, and takes the library's claim
before each poll and download: two workers (two server processes), or a worker and a page, never poll or
download the same job at once. It never creates a job. Other periodic work rides on its beat (`add_task`). It also
holds the server's exports (`finishing`), which run on a thread of their own, so a long one holds up no poll.

`worker_for` keeps one per data dir in the process: the one serve.py's lifespan starts at server start is the one
the pages then find and feed.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from studio.finishing import QUEUE_FOLDER, FinishQueue
from studio.jobs import DEFAULT_DEADLINE, Jobs
from studio.library import Library
from studio.provider.profiles import Provider

log = logging.getLogger("studio.worker")
TICK_SECONDS = 0.5  # a tick is a few SQLite reads; each job's own poll time decides when it is polled
STOP_AT_EXIT_SECONDS = 10.0
TRASH_SWEEP_SECONDS = 3600.0  # how often the trash is searched for videos past their 30 days


class Worker:
    """Polls and archives the library's active jobs for every provider it serves, until stopped."""

    def __init__(self, library: Library, *, tick_seconds: float = TICK_SECONDS) -> None:
        self.library = library
        self.tick_seconds = tick_seconds
        self._jobs: dict[str, Jobs] = {}  # by provider kind, the key a record names its provider by
        self._tasks: list[Callable[[], object]] = []
        self._guard = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_trash_sweep = 0.0  # time.monotonic() of the next sweep: the first tick sweeps
        self._finishing: FinishQueue | None = None

    def serve(self, provider: Provider, *, deadline_seconds: float = DEFAULT_DEADLINE) -> None:
        """Poll this provider's jobs from now on; a provider of the same kind served before is replaced."""
        with self._guard:
            current = self._jobs.get(provider.kind)
            if current is None or (current.provider, current.deadline_seconds) != (provider, deadline_seconds):
                self._jobs[provider.kind] = Jobs(provider, self.library, deadline_seconds=deadline_seconds)

    def serves(self, provider: Provider) -> bool:
        """True when this worker polls jobs on this very provider (same kind, server and credentials)."""
        with self._guard:
            current = self._jobs.get(provider.kind)
        return current is not None and current.provider.base_url == provider.base_url \
            and current.provider.api_key == provider.api_key

    def add_task(self, task: Callable[[], object]) -> None:
        """Call `task()` on every tick, after the jobs are polled (a batch queue's `advance`, say)."""
        with self._guard:
            self._tasks.append(task)

    @property
    def finishing(self) -> FinishQueue:
        """The exports queue, made on first use (or at start, when exports are left to take up)."""
        with self._guard:
            if self._finishing is None:
                self._finishing = FinishQueue(self.library)
            return self._finishing

    def start(self) -> Worker:
        with self._guard:
            starting = self._thread is None or not self._thread.is_alive()
            if starting:
                self._stopping.clear()
                if self._finishing is not None and self._finishing.stopped:
                    self._finishing = None  # started again after a stop: exports are taken again
                self._thread = threading.Thread(target=self._run, name="studio-worker", daemon=True)
                self._thread.start()
        if starting and (self.library.data_dir / QUEUE_FOLDER).is_dir():
            _ = self.finishing  # made now, it takes up the exports a server before this one left undone
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the current tick; a download in flight finishes first (or its claim lapses if killed). An
        export in flight stops, leaving nothing half-made, and is taken up again at the next start."""
        self._stopping.set()
        if self._finishing is not None:
            self._finishing.stop(timeout)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def tick(self) -> None:
        """One pass: every served provider's due polls and waiting downloads, then every task. One failure is
        logged and the rest still run: a worker that died would silently stop every job."""
        with self._guard:
            served, tasks = list(self._jobs.values()), list(self._tasks)
        for jobs in served:
            if self._stopping.is_set():
                return
            try:
                jobs.refresh_active()
            except Exception:
                log.exception("polling %s jobs failed; trying again next tick", jobs.provider.kind)
        for task in tasks:
            if self._stopping.is_set():
                return
            try:
                task()
            except Exception:
                log.exception("background task %r failed; trying again next tick", task)
        if time.monotonic() >= self._next_trash_sweep:
            self._next_trash_sweep = time.monotonic() + TRASH_SWEEP_SECONDS
            try:
                self.library.sweep_trash()
            except Exception:
                log.exception("sweeping the trash failed; trying again in an hour")

    def _run(self) -> None:
        while not self._stopping.is_set():
            self.tick()
            self._stopping.wait(self.tick_seconds)


_workers: dict[Path, Worker] = {}  # by data dir: this process's one worker for each library
_workers_lock = threading.Lock()


def worker_for(library: Library) -> Worker:
    """This process's worker for `library`'s data dir, created on first use and (re)started if it is not running.
    Whoever asks first (the server's start, or a page) creates it; everyone after gets the same one."""
    key = Path(library.data_dir)  # resolved by Library already
    with _workers_lock:
        worker = _workers.get(key)
        if worker is None:
            worker = _workers[key] = Worker(library)
            atexit.register(worker.stop, STOP_AT_EXIT_SECONDS)  # a download in flight finishes; no .part is left
        return worker.start()
