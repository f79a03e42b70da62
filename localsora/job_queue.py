"""The job engine: worker threads take queued jobs, have the renderer (an `Engine`) render them, and record
honest progress. There are never more workers than the renderer can run at once, so a job waiting for the
device stays `queued`."""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from pathlib import Path

from localsora.config import Settings
from localsora.engines.base import Engine, JobFailed, RenderCancelled, RenderRequest, RequestRefused
from localsora.media import InvalidMedia
from localsora.store import Job, Store, is_disk_full

log = logging.getLogger("localsora.job_queue")

MODERATION_MESSAGE = "Your request was blocked by our moderation system."
REFERENCE_NAMES = ("reference.png", "reference.jpg", "reference.webp")
SOURCE_NAME = "source.mp4"


def blocked_word(prompt: str, blocked: tuple[str, ...]) -> str | None:
    for word in blocked:
        if re.search(rf"\b{re.escape(word)}\b", prompt, re.IGNORECASE):
            return word
    return None


class JobQueue:
    def __init__(self, settings: Settings, store: Store, renderer: Engine) -> None:
        self.settings = settings
        self.store = store
        self.renderer = renderer
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._cancelled: set[str] = set()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._lent: threading.Event | None = None  # set once a lent thread has stopped working

    def reserve_caller(self) -> None:
        """Keep one worker's place for the thread that will call `work_here()`; call before `start()`.

        `python -m localsora` lends its main thread: the same diffusers render ran about 10 % slower on a
        worker thread than on the main thread (docs/benchmarks.md, "The diffusers engine"), so HTTP takes the
        thread instead."""
        self._lent = threading.Event()

    def work_here(self) -> None:
        """Work jobs on the calling thread until `stop()` or `release_caller()`."""
        assert self._lent is not None, "reserve_caller() first"
        try:
            self._work()
        finally:
            self._lent.set()

    def release_caller(self) -> None:
        """Let `work_here()` return, also when the server never started (its port was taken, say)."""
        self._queue.put(None)

    def start(self) -> None:
        # A job cut off mid-render by a crash or a stop is rendered again from the start.
        for job in self.store.with_status("queued", "in_progress"):
            self.store.update(job.id, status="queued", progress=0)
            for partial in self.store.job_dir(job.id).glob(".*.part"):  # left by a hard kill mid-render
                partial.unlink(missing_ok=True)
            self._queue.put(job.id)
        workers = min(max(1, self.settings.max_concurrent_jobs), self.renderer.capabilities.max_parallel)
        for n in range(workers - (self._lent is not None)):
            worker = threading.Thread(target=self._work, name=f"localsora-render-{n}", daemon=True)
            worker.start()
            self._workers.append(worker)

    def stop(self) -> None:
        # Renders in flight stop at their next frame and stay in_progress; start() re-queues them.
        self._stopping.set()
        for _ in range(len(self._workers) + (self._lent is not None)):
            self._queue.put(None)
        for worker in self._workers:
            worker.join(timeout=30)
        if self._lent is not None:
            self._lent.wait(timeout=30)
        self._workers.clear()
        self.renderer.close()

    def submit(self, video_id: str) -> None:
        self._queue.put(video_id)

    def cancel(self, video_id: str) -> None:
        with self._lock:
            self._cancelled.add(video_id)

    def _is_deleted(self, video_id: str) -> bool:
        with self._lock:
            return video_id in self._cancelled

    def _work(self) -> None:
        while True:
            video_id = self._queue.get()
            if video_id is None:
                return
            job = self.store.get(video_id)
            if job is None or job.status != "queued" or self._is_deleted(video_id):
                continue
            try:
                self._run(job)
            except RenderCancelled:
                log.info("render of %s cancelled", video_id)
            except Exception as exc:  # the job fails cleanly instead of staying in_progress
                try:
                    self._fail_for(job.id, exc)
                except Exception:  # a store that cannot be written (a full disk): this worker goes on
                    log.exception("could not record the failure of %s", video_id)
            finally:
                with self._lock:
                    self._cancelled.discard(video_id)

    def _fail_for(self, video_id: str, exc: Exception) -> None:
        """Fail a job saying what broke: a full disk (whatever raised it), the engine's reason, a request the
        engine refused, or a bug, whose traceback goes to the log."""
        if is_disk_full(exc):
            where = self.store.full_disk()
            log.warning("render of %s failed: the disk is full; could not write to %s", video_id, where)
            self._fail(video_id, "disk_full", f"The disk is full: localsora could not write this video to {where}. "
                                              "Free some space there and make it again.")
        elif isinstance(exc, JobFailed):
            log.warning("render of %s failed: %s", video_id, exc.message)
            self._fail(video_id, exc.code, exc.message)
        elif isinstance(exc, (RequestRefused, InvalidMedia)):
            self._fail(video_id, "invalid_request", str(exc))
        else:
            log.error("render of %s failed", video_id, exc_info=exc)
            # Some exceptions carry no message (an AssertionError); the type still says what broke.
            what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            self._fail(video_id, "internal_error", f"The local renderer failed ({what}). The server's log has the "
                                                   "details.")

    def _fail(self, video_id: str, code: str, message: str) -> None:
        self.store.update(video_id, status="failed", error_code=code, error_message=message,
                          completed_at=int(time.time()))

    def _run(self, job: Job) -> None:
        self.store.update(job.id, status="in_progress", progress=0)
        if job.error_code:  # a request taken that the dialect's server fails in the job (localsora.imitation)
            self._fail(job.id, job.error_code, job.error_message or "")
            return
        if blocked_word(job.prompt, self.settings.blocked_words):
            self._fail(job.id, "moderation_blocked", MODERATION_MESSAGE)
            return
        job_dir = self.store.job_dir(job.id)
        request = job_request(job, job_dir)
        if request is None:
            self._fail(job.id, "source_missing", "The source video for this job is no longer available.")
            return
        last_percent = [0]

        def on_progress(share: float) -> None:
            if self._stopping.is_set() or self._is_deleted(job.id):
                raise RenderCancelled(job.id)
            # Capped at 99: 100 means the files are in place.
            percent = min(99, int(share * 100))
            if percent > last_percent[0]:
                last_percent[0] = percent
                self.store.update(job.id, progress=percent)

        started = time.perf_counter()
        self.renderer.render(request, job_dir, on_progress)
        if self._is_deleted(job.id) or self.store.get(job.id) is None:
            self.store.delete(job.id)
            return
        self.store.update(job.id, status="completed", progress=100, completed_at=int(time.time()))
        log.info("rendered %s (%s, %s, %s s) in %.2f s", job.id, job.kind, job.size, job.seconds,
                 time.perf_counter() - started)


def job_request(job: Job, job_dir: Path) -> RenderRequest | None:
    """The render request a stored job stands for; None when its source clip is gone."""
    width, height = (int(v) for v in job.size.split("x"))
    params = RenderRequest.taken(job.params or {})
    if params.get("keyframes"):  # their files, by name in the job's folder
        params["keyframes"] = [{**item, "file": str(job_dir / item["file"])} for item in params["keyframes"]]
    if job.kind == "generate":
        reference = next((job_dir / n for n in REFERENCE_NAMES if (job_dir / n).exists()), None)
        return RenderRequest(job.prompt, width, height, job.render_seconds, reference_image=reference, **params)
    source = job_dir / SOURCE_NAME
    if not source.exists():
        return None
    return RenderRequest(job.prompt, width, height, job.render_seconds, source_video=source, mode=job.kind,
                         **params)
