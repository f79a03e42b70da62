"""How fast the studio's pages are: each page's rerun against a trivial page, the gallery as the library grows,
and cold start to first paint against `streamlit hello`.

    .venv/bin/python bench/pages.py [--reruns 15] [--starts 3] [--skip-cold-start]

- Rerun: Streamlit's AppTest runs app.py (sidebar and navigation included) and each page, on a private localsora,
  as the server reruns them (app.py every time, scripts compiled once). It times `--reruns` reruns of the page,
  in turns with a page that has one button, the baseline; the figures are medians, the ratio page / baseline.
- Gallery growth: the Gallery's rerun with 10, 12 and 5,000 videos in the library (12 fill its first page, so
  12 against 5,000 is the library's size alone; 10 against 5,000 is what the goal names).
- Cold start: a real `streamlit run serve.py`, as `make run` does (no provider configured: it starts its own
  localsora), and a real `streamlit hello`, each timed from launch until headless Chromium shows the page's
  heading (first paint), and until Streamlit also reports the script idle (the whole first page drawn).
  `--starts` of each, alternating; the medians count.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message="The Sora API is scheduled", category=DeprecationWarning)

PAGES = {"Text to video": "app_pages/text_to_video.py", "Image to video": "app_pages/image_to_video.py",
         "Remix": "app_pages/remix.py", "Gallery": "app_pages/gallery.py", "Settings": "app_pages/settings.py"}
TRIVIAL_PAGE = 'import streamlit as st\n\nst.button("Click")\n'
GOALS = {"page": 3.0, "growth": 1.2, "cold": 1.2}
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def rerun_as_the_server_does() -> None:
    """AppTest, made to rerun as `streamlit run` does: scripts compiled once, not on every run (AppTest makes a
    new ScriptCache each run; the server keeps one)."""
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import app_test, local_script_runner

    compiled = ScriptCache()
    app_test.ScriptCache = local_script_runner.ScriptCache = lambda: compiled


def timed_run(at: object) -> float:
    start = time.perf_counter()
    at.run()  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - start
    assert not at.exception, [e.value for e in at.exception]  # type: ignore[attr-defined]
    return elapsed


def trivial_app() -> object:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string(TRIVIAL_PAGE)
    at.run()
    return at


def page_app(page: str) -> object:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.run()  # caches warm, as on any rerun after the first
    return at


def medians(page: object, trivial: object, reruns: int) -> tuple[float, float]:
    """Median rerun of `page` and of the trivial page, taken in turns so a busy machine slows both alike."""
    page_times, trivial_times = [], []
    for _ in range(reruns):
        trivial_times.append(timed_run(trivial))
        page_times.append(timed_run(page))
    return statistics.median(page_times), statistics.median(trivial_times)


def fill_library(data_dir: Path, count: int) -> None:
    """`count` videos: mostly ready, one in twenty failed, the newest still rendering; each with a thumbnail."""
    from PIL import Image

    from studio.library import Library, VideoRecord

    library = Library(data_dir)
    thumbs = data_dir / "bench-thumbs"
    thumbs.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (320, 180), (200, 120, 40)).save(thumbs / "thumb.webp", "WEBP")
    for n in range(count):
        status = "in_progress" if n == count - 1 else "failed" if n % 20 == 7 else "completed"
        library.add(VideoRecord(
            video_id=f"video_bench{n:08d}", provider="local", kind="generate", status=status,
            prompt=f"Shot {n}: a {'red' if n % 2 else 'blue'} kite over the dunes at golden hour, slow pan right",
            model="sora-2-pro" if n % 5 == 0 else "sora-2", size="1280x720", seconds="4",
            created_at=1_700_000_000.0 + n, cost_usd=0.4, progress=100 if status == "completed" else 40,
            thumbnail_path="bench-thumbs/thumb.webp", tags="spring, hero shot" if n % 3 == 0 else "",
            error_code="moderation_blocked" if status == "failed" else None,
            error_message="Your request was blocked by our moderation system." if status == "failed" else None,
        ))


def with_studio_env(data_dir: Path, root_url: str, measure: Callable[[], float]) -> float:
    saved = dict(os.environ)
    os.environ.update(SORA_STUDIO_PROVIDER="local", SORA_STUDIO_DATA_DIR=str(data_dir), LOCALSORA_URL=root_url)
    for key in [k for k in os.environ if k.startswith(("OPENAI_", "AZURE_OPENAI_"))]:
        del os.environ[key]
    try:
        return measure()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def reruns_and_growth(reruns: int) -> tuple[dict[str, tuple[float, float]], dict[int, float]]:
    """{page: (its median rerun, the trivial page's median rerun)}, and {library size: Gallery's median rerun}."""
    from localsora.process import LocalsoraProcess

    rerun_as_the_server_does()
    work = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    server = LocalsoraProcess(work / "localsora").start()
    try:
        trivial = trivial_app()
        pages_data = work / "pages"
        fill_library(pages_data, 10)
        per_page = {name: with_studio_env(pages_data, server.root_url,
                                          lambda p=path: medians(page_app(p), trivial, reruns))
                    for name, path in PAGES.items()}
        galleries = {}
        for count in (10, 12, 5000):
            data = work / f"gallery-{count}"
            fill_library(data, count)
            galleries[count] = with_studio_env(data, server.root_url, lambda: page_app(PAGES["Gallery"]))
        growth: dict[int, list[float]] = {count: [] for count in galleries}
        for _ in range(reruns):  # in turns, like the pages
            for count, at in galleries.items():
                data = work / f"gallery-{count}"
                growth[count].append(with_studio_env(data, server.root_url, lambda a=at: timed_run(a)))
        return per_page, {count: statistics.median(times) for count, times in growth.items()}
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


# Cold start.


def _pids_serving(folder: Path) -> list[int]:
    """Processes whose command line names `folder`: the localsora a cold-started studio left behind, if any."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if str(folder).encode() in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def cold_start(browser: object, command: list[str], port: int, heading: str, env: dict[str, str],
               folder: Path) -> tuple[float, float]:
    """Seconds from launching `command` until Chromium shows `heading` (first paint), and until the script is
    also idle (the whole first page drawn)."""
    import httpx

    log = open(folder / f"{port}.log", "wb")  # noqa: SIM115 (closed below, after the process)
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        while True:
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=0.5).text == "ok":
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.perf_counter() - start > 60:
                raise RuntimeError(f"{command[:4]} did not come up; see {log.name}")
            time.sleep(0.02)
        page = browser.new_page()  # type: ignore[attr-defined]
        page.goto(url)
        page.get_by_role("heading", name=heading).first.wait_for(timeout=60_000)
        painted = time.perf_counter() - start
        page.wait_for_selector(IDLE, state="attached", timeout=60_000)
        idle = time.perf_counter() - start
        page.close()
        return painted, idle
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        for pid in _pids_serving(folder):  # an embedded localsora that outlived its studio
            os.kill(pid, signal.SIGTERM)


def cold_starts(starts: int) -> dict[str, tuple[float, float]]:
    """{"first paint" | "idle": (the studio's median, streamlit hello's median)}."""
    from playwright.sync_api import sync_playwright

    from localsora.process import free_port
    from tests.browser_setup import chromium_path
    from tests.e2e_support import CHROMIUM_FLAGS

    streamlit = [sys.executable, "-m", "streamlit"]
    flags = ["--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.address", "127.0.0.1",
             "--server.fileWatcherType", "none"]
    studio_times, hello_times = [], []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS)
        for _ in range(starts):
            folder = Path(tempfile.mkdtemp(prefix="bench-cold-"))
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("OPENAI_", "AZURE_OPENAI_", "SORA_STUDIO_", "LOCALSORA_"))}
            port = free_port()
            hello_times.append(cold_start(browser, [*streamlit, "hello", *flags, "--server.port", str(port)], port,
                                          "Welcome to Streamlit!", env, folder))
            port = free_port()
            studio_env = {**env, "SORA_STUDIO_DATA_DIR": str(folder / "data"), "LOCALSORA_PORT": str(free_port())}
            studio_times.append(cold_start(browser, [*streamlit, "run", "serve.py", *flags, "--server.port", str(port)],
                                           port, "Text to video", studio_env, folder))
            shutil.rmtree(folder, ignore_errors=True)
        browser.close()
    return {moment: (statistics.median(t[index] for t in studio_times),
                     statistics.median(t[index] for t in hello_times))
            for index, moment in enumerate(("first paint", "idle"))}


def verdict(ratio: float, goal: float) -> str:
    return "meets" if ratio <= goal else f"MISSES by {ratio / goal:.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reruns", type=int, default=15)
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--skip-cold-start", action="store_true")
    args = parser.parse_args()

    per_page, growth = reruns_and_growth(args.reruns)
    print(f"Rerun, median of {args.reruns}, each page in turn with a trivial one-button page "
          "(AppTest runs app.py and the page):")
    for name, (seconds, baseline) in per_page.items():
        ratio = seconds / baseline
        print(f"  {name:<16} {seconds * 1000:6.1f} ms  trivial {baseline * 1000:5.1f} ms  {ratio:5.2f}x  "
              f"goal <= {GOALS['page']:g}x: {verdict(ratio, GOALS['page'])}")
    print("Gallery as the library grows:")
    for count, seconds in growth.items():
        print(f"  {count:>5} videos  {seconds * 1000:7.1f} ms")
    for small in (10, 12):
        ratio = growth[5000] / growth[small]
        print(f"  5,000 / {small}: {ratio:.2f}x  goal <= {GOALS['growth']:g}x: {verdict(ratio, GOALS['growth'])}")
    if not args.skip_cold_start:
        print(f"Cold start, median of {args.starts} (first paint: the heading shows; idle: the whole page drawn):")
        for moment, (studio, hello) in cold_starts(args.starts).items():
            ratio = studio / hello
            print(f"  {moment:<11}  streamlit hello {hello:5.2f} s  the studio {studio:5.2f} s  {ratio:.2f}x  "
                  f"goal <= {GOALS['cold']:g}x: {verdict(ratio, GOALS['cold'])}")


if __name__ == "__main__":
    main()
