"""Soak figures for docs/reliability.md: localsora under load, and ten browser sessions submitting at once.

    .venv/bin/python bench/soak.py load [--seconds 60] [--creators 50] [--readers 100] [--procs 4]
    .venv/bin/python bench/soak.py browsers [--sessions 10]
    make soak        # both, at full length

load      A private localsora (previz engine). `creators` SDK clients each create a 4 s job and poll it until
          it ends, again and again; `readers` loops each retrieve a known video, then list a page; all for
          `seconds`. The clients run as threads spread over `procs` processes, so one client process's GIL
          is not the bottleneck. Prints p50/p99 retrieve latency, request counts, errors, and localsora's
          peak RSS (VmHWM from /proc).
browsers  A private localsora and the studio (`streamlit run app.py`), one Chromium with `sessions`
          contexts. Each context opens Text to video and types its own prompt; then every Generate button is
          clicked before any job is awaited. Passes when every job is in the library exactly once, archived,
          and on localsora exactly once. Prints the studio server's and localsora's peak RSS.

Figures only: nothing here is a test, and nothing in the test suite runs it. The exit status is 1 when
a load run saw errors or a browser run lost or doubled a job.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from localsora.process import LocalsoraProcess  # noqa: E402  (after the path is set)

POLL_SECONDS = 0.5  # how often a creator polls its job; the server says 500 ms too
PREVIEW_JOBS = 8  # made before the clock starts, so readers have ids to retrieve
# Ten windows at once: keep Chromium from slowing the timers of the ones it thinks are in the background.
NO_THROTTLING = ["--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                 "--disable-backgrounding-occluded-windows"]


def pid_running(*arguments: str) -> int:
    """The pid of the process whose command line holds every one of `arguments` (Linux /proc)."""
    wanted = [a.encode() for a in arguments]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue  # it ended while we looked
        if all(a in args for a in wanted):
            return int(cmdline.parent.name)
    raise LookupError(f"no process runs with {arguments}")


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the most resident memory the process has held since it started."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise LookupError(f"no VmHWM for {pid}")


# ------------------------------------------------------------------------------------------------- load


@dataclass
class Tally:
    requests: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    retrieve_ms: list[float] = field(default_factory=list)
    jobs_done: Counter[str] = field(default_factory=Counter)

    def merge(self, other: Tally) -> None:
        self.requests.update(other.requests)
        self.errors.update(other.errors)
        self.retrieve_ms += other.retrieve_ms
        self.jobs_done.update(other.jobs_done)


def client_share(base_url: str, creators: int, readers: int, seconds: float, ids: list[str]) -> Tally:
    """One client process: its creators and readers as threads, until the clock runs out."""
    import openai

    tally, lock = Tally(), threading.Lock()
    end = time.monotonic() + seconds

    def call(kind: str, request):  # noqa: ANN001, ANN202 (any SDK call)
        start = time.perf_counter()
        try:
            return request()
        except openai.APIError as error:
            with lock:
                tally.errors[f"{kind}: {type(error).__name__}"] += 1
            return None
        finally:
            with lock:
                tally.requests[kind] += 1
                if kind == "retrieve":
                    tally.retrieve_ms.append((time.perf_counter() - start) * 1000)

    def creator(n: int) -> None:
        client = openai.OpenAI(base_url=base_url, api_key="local", max_retries=0)
        while time.monotonic() < end:
            video = call("create", lambda: client.videos.create(prompt=f"Load test {n}: a kite, pan left",
                                                                  seconds="4", size="720x1280"))
            while video is not None and video.status in ("queued", "in_progress") and time.monotonic() < end:
                time.sleep(POLL_SECONDS)
                video = call("retrieve", lambda v=video: client.videos.retrieve(v.id)) or video
            if video is not None and video.status in ("completed", "failed"):
                with lock:
                    tally.jobs_done[video.status] += 1

    def reader(n: int) -> None:
        client = openai.OpenAI(base_url=base_url, api_key="local", max_retries=0)
        pick = random.Random(n)
        while time.monotonic() < end:
            call("retrieve", lambda: client.videos.retrieve(pick.choice(ids)))
            call("list", lambda: client.videos.list(limit=20))

    threads = [threading.Thread(target=creator, args=(n,)) for n in range(creators)]
    threads += [threading.Thread(target=reader, args=(n,)) for n in range(readers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return tally


def load(seconds: float, creators: int, readers: int, procs: int) -> bool:
    import openai

    with tempfile.TemporaryDirectory(prefix="soak-load-") as folder:
        server = LocalsoraProcess(Path(folder), args=["--poll-after-ms", "500", "--max-active-jobs", "1000"])
        server.start()
        try:
            pid = pid_running("localsora", str(server.data_dir))
            warm = openai.OpenAI(base_url=server.base_url, api_key="local", max_retries=0)
            ids = [warm.videos.create(prompt=f"Preview {n}", seconds="4").id for n in range(PREVIEW_JOBS)]
            print(f"load: {creators} creators + {readers} readers over {procs} processes for {seconds:g} s; "
                  f"localsora pid {pid} at {peak_rss_mb(pid):.0f} MB before")
            tally = Tally()
            with ProcessPoolExecutor(procs) as pool:
                shares = [pool.submit(client_share, server.base_url, len(range(p, creators, procs)),
                                      len(range(p, readers, procs)), seconds, ids) for p in range(procs)]
                for share in shares:
                    tally.merge(share.result())
            peak = peak_rss_mb(pid)
        finally:
            server.stop()
    latencies = sorted(tally.retrieve_ms)
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    total = sum(tally.requests.values())
    print(f"requests: {total:,} ({', '.join(f'{k} {v:,}' for k, v in sorted(tally.requests.items()))}); "
          f"{total / seconds:,.0f}/s")
    print(f"jobs finished while watched: {dict(tally.jobs_done)}")
    print(f"retrieve latency: p50 {cuts[49]:.1f} ms, p99 {cuts[98]:.1f} ms, max {latencies[-1]:.1f} ms")
    print(f"errors: {sum(tally.errors.values())} {dict(tally.errors) or ''}")
    print(f"localsora peak RSS (VmHWM): {peak:.0f} MB")
    return not tally.errors


# --------------------------------------------------------------------------------------------- browsers


def browsers(sessions: int) -> bool:
    import openai
    from playwright.sync_api import expect, sync_playwright

    from studio.library import Library
    from tests.browser_setup import chromium_path
    from tests.e2e_support import CHROMIUM_FLAGS, StudioApp, assert_no_exception_box, wait_idle
    from tests.test_e2e import go_to, type_prompt
    from tests.waiting import wait_until

    marker = uuid.uuid4().hex[:8]
    prompts = [f"Session {n} ({marker}): a paper boat on a pond, slow zoom in" for n in range(sessions)]
    with tempfile.TemporaryDirectory(prefix="soak-browsers-") as folder:
        root = Path(folder)
        server = LocalsoraProcess(root / "localsora", args=["--poll-after-ms", "300"]).start()
        studio = StudioApp(root / "studio", server, root / "streamlit.log")
        try:
            studio.start()
            with sync_playwright() as driver:
                browser = driver.chromium.launch(executable_path=chromium_path(), headless=True,
                                                 args=[*CHROMIUM_FLAGS, *NO_THROTTLING])
                pages = []
                for prompt in prompts:  # `sessions` live sessions, each ready to submit
                    page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
                    page.goto(studio.url)
                    wait_idle(page, timeout=120_000)
                    go_to(page, "Text to video")
                    type_prompt(page, prompt)
                    pages.append(page)
                started = time.monotonic()
                for page in pages:  # every click before any job is awaited: the submissions overlap
                    page.get_by_role("button", name="Generate").click()
                library = Library(studio.data_dir)

                def per_prompt() -> list[list[Any]]:
                    records = library.page(limit=10 * sessions).records
                    return [[r for r in records if r.prompt == prompt] for prompt in prompts]

                found = wait_until(per_prompt, lambda found: all(
                    len(rs) == 1 and rs[0].status == "completed" and rs[0].is_archived for rs in found
                ) or any(len(rs) > 1 for rs in found), what="every job archived in the library", deadline=600)
                settled_s = time.monotonic() - started
                shown_finished = 0
                for page in pages:  # what each session shows once the library has the job: finished, no error
                    assert_no_exception_box(page)
                    with contextlib.suppress(AssertionError):
                        expect(page.get_by_role("heading", name="Finished")).to_be_visible(timeout=30_000)
                        shown_finished += 1
                browser.close()
            client = openai.OpenAI(base_url=server.base_url, api_key="local", max_retries=0)
            on_server = Counter(v.prompt for v in client.videos.list(limit=100) if marker in v.prompt)
            studio_peak = peak_rss_mb(pid_running("streamlit", str(studio.port)))
            localsora_peak = peak_rss_mb(pid_running("localsora", str(server.data_dir)))
        finally:
            studio.stop()
            server.stop()
    in_library = [len(rs) for rs in found]
    on_localsora = [on_server[prompt] for prompt in prompts]
    print(f"browsers: {sessions} contexts in one Chromium; every job completed and archived "
          f"{settled_s:.1f} s after the first click")
    print(f"records per prompt: library {in_library}, localsora {on_localsora}")
    print(f"sessions whose page showed their job as finished (30 s after the library had it): "
          f"{shown_finished} of {sessions}")
    print(f"studio (streamlit) peak RSS: {studio_peak:.0f} MB; localsora peak RSS: {localsora_peak:.0f} MB")
    return all(n == 1 for n in in_library + on_localsora)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="?", choices=("load", "browsers", "all"), default="all")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the load run")
    parser.add_argument("--creators", type=int, default=50)
    parser.add_argument("--readers", type=int, default=100)
    parser.add_argument("--procs", type=int, default=4, help="client processes the load threads are spread over")
    parser.add_argument("--sessions", type=int, default=10, help="browser contexts")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="The Sora API is scheduled", category=DeprecationWarning)
    ok = True
    if args.what in ("load", "all"):
        ok &= load(args.seconds, args.creators, args.readers, args.procs)
    if args.what in ("browsers", "all"):
        ok &= browsers(args.sessions)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
