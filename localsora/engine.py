"""The job engine: worker threads take queued jobs, render them and record honest progress."""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from pathlib import Path

from localsora.config import Settings
from localsora.renderer import RenderCancelled, RenderRequest, render
from localsora.store import Job, Store

log = logging.getLogger("localsora.engine")

MODERATION_MESSAGE = "Your request was blocked by our moderation system."
REFERENCE_NAMES = ("reference.png", "reference.jpg", "reference.webp")
SOURCE_NAME = "source.mp4"


def blocked_word(prompt: str, blocked: tuple[str, ...]) -> str | None:
    for word in blocked:
        if re.search(rf"\b{re.escape(word)}\b", prompt, re.IGNORECASE):
            return word
    return None


class JobEngine:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._cancelled: set[str] = set()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        self._stopping = threading.Event()

    def start(self) -> None:
        # A job cut off mid-render by a crash or a stop is rendered again from the start.
        for job in self.store.with_status("queued", "in_progress"):
            self.store.update(job.id, status="queued", progress=0)
            for partial in self.store.job_dir(job.id).glob(".*.part"):  # left by a hard kill mid-render
                partial.unlink(missing_ok=True)
            self._queue.put(job.id)
        for n in range(max(1, self.settings.max_concurrent_jobs)):
            worker = threading.Thread(target=self._work, name=f"localsora-render-{n}", daemon=True)
            worker.start()
            self._workers.append(worker)

    def stop(self) -> None:
        # Renders in flight stop at their next frame and stay in_progress; start() re-queues them.
        self._stopping.set()
        for _ in self._workers:
            self._queue.put(None)
        for worker in self._workers:
            worker.join(timeout=30)
        self._workers.clear()

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
                log.exception("render of %s failed", video_id)
                self._fail(job.id, "internal_error", f"The local renderer failed: {exc}")
            finally:
                with self._lock:
                    self._cancelled.discard(video_id)

    def _fail(self, video_id: str, code: str, message: str) -> None:
        self.store.update(video_id, status="failed", error_code=code, error_message=message,
                          completed_at=int(time.time()))

    def _run(self, job: Job) -> None:
        self.store.update(job.id, status="in_progress", progress=0)
        if blocked_word(job.prompt, self.settings.blocked_words):
            self._fail(job.id, "moderation_blocked", MODERATION_MESSAGE)
            return
        job_dir = self.store.job_dir(job.id)
        request = self._request(job, job_dir)
        if request is None:
            self._fail(job.id, "source_missing", "The source video for this job is no longer available.")
            return
        last_percent = [0]

        def on_progress(done: int, total: int) -> None:
            if self._stopping.is_set() or self._is_deleted(job.id):
                raise RenderCancelled(job.id)
            # Capped at 99: 100 means the files are in place.
            percent = min(99, done * 100 // max(1, total))
            if percent > last_percent[0]:
                last_percent[0] = percent
                self.store.update(job.id, progress=percent)

        # Spread the simulated delay over every frame, so progress grows steadily.
        frames = max(1, round(float(job.seconds) * 24))
        frame_delay = self.settings.render_delay / frames if self.settings.render_delay else 0.0
        render(request, job_dir, on_progress=on_progress, frame_delay=frame_delay)
        if self._is_deleted(job.id) or self.store.get(job.id) is None:
            self.store.delete(job.id)
            return
        self.store.update(job.id, status="completed", progress=100, completed_at=int(time.time()))

    def _request(self, job: Job, job_dir: Path) -> RenderRequest | None:
        width, height = (int(v) for v in job.size.split("x"))
        if job.kind == "generate":
            reference = next((job_dir / n for n in REFERENCE_NAMES if (job_dir / n).exists()), None)
            return RenderRequest(job.prompt, width, height, job.render_seconds, reference_image=reference)
        source = job_dir / SOURCE_NAME
        if not source.exists():
            return None
        mode = "extend" if job.kind == "extend" else "restyle"
        return RenderRequest(job.prompt, width, height, job.render_seconds, source_video=source, mode=mode)
