"""The background worker against a real localsora: jobs finish and archive with no browser, a restart resumes,
and two workers on one library (two server processes, each with its own library connection) download once."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from localsora.process import LocalsoraProcess
from studio.jobs import Jobs, VideoRequest
from studio.library import Library, VideoRecord
from studio.provider.profiles import Provider, load_providers
from studio.worker import Worker
from tests.conftest import sdk_client
from tests.in_process import ThreadedLocalsora
from tests.media import decode_mp4
from tests.waiting import wait_until

SETTLE = 120.0  # s: the longest a short local render may take on a loaded machine before a test gives up


def local_provider(root_url: str) -> Provider:
    return load_providers({"LOCALSORA_URL": root_url})["local"]


def archived(library: Library, video_id: str) -> VideoRecord | None:
    record = library.get(video_id)
    return record if record is not None and record.is_archived else None


def archive_count(library: Library, video_id: str) -> int:
    return [entry.note for entry in library.history(video_id)].count("archived")


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalsoraProcess]:
    """Renders that take a few seconds, so a job is still running when a worker stops; served on a loopback port
    from a thread."""
    with ThreadedLocalsora(tmp_path_factory.mktemp("worker-localsora"),
                           args=["--poll-after-ms", "200", "--render-delay", "3", "--enable-faults"]) as server:
        yield server


@pytest.fixture
def workers() -> Iterator[Callable[..., Worker]]:
    """Start workers; every one is stopped afterwards, even when the test failed."""
    started: list[Worker] = []

    def start(library: Library, provider: Provider, **serve: float) -> Worker:
        worker = Worker(library)
        worker.serve(provider, **serve)
        started.append(worker.start())
        return worker

    yield start
    for worker in started:
        worker.stop()


def test_a_job_submitted_with_no_browser_is_archived(localsora: LocalsoraProcess, tmp_path: Path,
                                                     workers: Callable[..., Worker]) -> None:
    provider = local_provider(localsora.root_url)
    jobs = Jobs(provider, Library(tmp_path / "library"), owner="ana")
    [record] = jobs.submit(VideoRequest(prompt="A paper boat on a pond at noon, slow zoom in", size="1280x720"))
    # The worker has its own library connection, as a server process of its own would.
    workers(Library(tmp_path / "library"), provider)
    done = wait_until(lambda: archived(jobs.library, record.video_id), what="the video in the library", deadline=SETTLE)
    assert done.status == "completed" and done.progress == 100 and done.owner == "ana"
    clip = decode_mp4(jobs.library.path(done.video_path))
    assert (clip.width, clip.height) == (1280, 720) and clip.duration == pytest.approx(4, abs=0.05)
    assert jobs.library.path(done.thumbnail_path).read_bytes()[8:12] == b"WEBP"
    assert archive_count(jobs.library, record.video_id) == 1


def test_a_restart_mid_job_resumes_and_archives_once(slow_server: LocalsoraProcess, tmp_path: Path,
                                                     workers: Callable[..., Worker]) -> None:
    provider = local_provider(slow_server.root_url)
    data = tmp_path / "library"
    [record] = Jobs(provider, Library(data)).submit(VideoRequest(prompt="A lantern in the fog, dolly in"))
    first = workers(Library(data), provider)
    rendering = wait_until(lambda: Library(data).get(record.video_id),
                           lambda r: r is not None and r.status == "in_progress" and r.progress > 0,
                           what="the job to be rendering", deadline=SETTLE)
    first.stop()
    assert not first.running
    assert rendering.is_active and not Library(data).get(record.video_id).is_archived, "stopped before the end"

    # The server process restarts: a new library connection, a new worker, no browser.
    library = Library(data)
    workers(library, local_provider(slow_server.root_url))
    done = wait_until(lambda: archived(library, record.video_id), what="the resumed job in the library",
                      deadline=SETTLE)
    assert done.status == "completed" and decode_mp4(library.path(done.video_path)).duration > 3.9
    assert archive_count(library, record.video_id) == 1
    on_provider = [v.id for v in sdk_client(slow_server).videos.list(limit=100) if v.id == record.video_id]
    assert on_provider == [record.video_id], "the job was not created again"
    assert not [p for p in library.folder_for(record.video_id).iterdir() if p.name.endswith(".part")]


class DownloadCounter:
    """A small HTTP proxy in front of localsora that counts the video downloads passing through it. It holds the
    first one until `hold_until()` is true, so a second worker has every chance to start a download meanwhile."""

    def __init__(self, upstream: str, hold_until: Callable[[], bool], hold_deadline: float = 30.0) -> None:
        self.video_downloads = 0
        self._lock = threading.Lock()
        counter = self
        client = httpx.Client(base_url=upstream, timeout=60)

        class Forward(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.path.split("?")[0].endswith("/content") and "variant=" not in self.path:
                    with counter._lock:
                        counter.video_downloads += 1
                        first = counter.video_downloads == 1
                    if first:  # hold no longer than hold_deadline; the download goes on either way
                        with contextlib.suppress(AssertionError):
                            wait_until(hold_until, what="the other worker to tick", deadline=hold_deadline)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                answer = client.request(self.command, self.path, content=body, headers=headers)
                self.send_response(answer.status_code)
                for name, value in answer.headers.items():
                    if name.lower() not in ("content-length", "content-encoding", "transfer-encoding", "connection",
                                            "date", "server"):
                        self.send_header(name, value)
                self.send_header("content-length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_DELETE = _forward

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
        self.root_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> DownloadCounter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_two_workers_on_one_library_download_once(localsora: LocalsoraProcess, tmp_path: Path,
                                                  workers: Callable[..., Worker]) -> None:
    ticks = [0, 0]
    ticks_when_held: list[int] = []

    def other_worker_ticked_thrice() -> bool:
        # The worker holding the download is stuck in its tick, so the count rises by the other one's ticks.
        if not ticks_when_held:
            ticks_when_held.append(sum(ticks))
        return sum(ticks) >= ticks_when_held[0] + 3

    data = tmp_path / "library"
    with DownloadCounter(localsora.root_url, other_worker_ticked_thrice) as proxy:
        provider = local_provider(proxy.root_url)
        [record] = Jobs(provider, Library(data)).submit(VideoRequest(prompt="Two workers, one kite, pan left"))
        for index in (0, 1):
            worker = workers(Library(data), local_provider(proxy.root_url))
            worker.add_task(lambda index=index: ticks.__setitem__(index, ticks[index] + 1))
        library = Library(data)
        done = wait_until(lambda: archived(library, record.video_id), what="the video in the library",
                          deadline=SETTLE)
        wait_until(lambda: list(ticks), lambda seen: min(seen) > 0 and bool(ticks_when_held)
                   and sum(seen) >= ticks_when_held[0] + 6, what="both workers to tick after the download",
                   deadline=SETTLE)
    assert proxy.video_downloads == 1, "the video was downloaded more than once"
    assert archive_count(library, record.video_id) == 1
    assert decode_mp4(library.path(done.video_path)).duration == pytest.approx(4, abs=0.05)


def test_the_worker_outlives_failures_and_honours_the_deadline(slow_server: LocalsoraProcess, tmp_path: Path,
                                                               workers: Callable[..., Worker],
                                                               caplog: pytest.LogCaptureFixture) -> None:
    data = tmp_path / "library"
    provider = local_provider(slow_server.root_url)
    jobs = Jobs(provider, Library(data), deadline_seconds=1.0)  # the job's deadline is kept on its record
    [slow] = jobs.submit(VideoRequest(prompt="A slow sunrise over the bay"))
    # A job on a provider this server cannot reach (no key), and a periodic task that always fails.
    unreachable = load_providers({})["openai"]
    Library(data).add(VideoRecord(video_id="video_elsewhere", provider="openai", kind="generate", status="queued",
                                  prompt="Somewhere else", model="sora-2", size="720x1280", seconds="4",
                                  created_at=time.time()))
    calls = []

    def failing_task() -> None:
        calls.append(1)
        raise RuntimeError("a task that always fails")

    with caplog.at_level(logging.ERROR, logger="studio.worker"):
        worker = workers(Library(data), unreachable)
        worker.serve(provider)
        worker.add_task(failing_task)
        timed_out = wait_until(lambda: Library(data).get(slow.video_id), lambda r: r.status == "timed_out",
                               what="the deadline to pass", deadline=SETTLE)
        wait_until(lambda: len(calls), lambda n: n >= 3, what="the failing task to run again", deadline=SETTLE)
        assert worker.running, "one failure does not end the worker"
    assert "Refresh it to keep waiting" in (timed_out.error_message or "")
    assert "a task that always fails" in caplog.text and "polling openai jobs failed" in caplog.text
    worker.stop()
    assert not worker.running
