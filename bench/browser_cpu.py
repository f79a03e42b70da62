"""Chromium's CPU for a browser test's visit: a browser launched per visit (as tests/e2e_support.py does) against
one browser shared by all visits, each visit in a context of its own.

    .venv/bin/python bench/browser_cpu.py [--visits 8] [--rounds 2]

A studio (`streamlit run serve.py` on a private localsora) serves every visit; a visit opens the studio, goes to
the Gallery and Settings, and waits 3 s, as a test does between its checks. The CPU of every Chromium process is
sampled while it lives, and added up.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="each way, taking turns")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from localsora.process import LocalsoraProcess
    from tests.browser_setup import chromium_path
    from tests.e2e_support import CHROMIUM_FLAGS, IDLE, StudioApp, go_to

    folder = Path(tempfile.mkdtemp(prefix="bench-browser-"))
    seen: dict[int, float] = {}  # pid -> its latest CPU time

    def sample() -> None:
        for process in psutil.Process().children(recursive=True):
            try:
                if "chrom" in " ".join(process.cmdline()):
                    times = process.cpu_times()
                    seen[process.pid] = times.user + times.system
            except psutil.Error:
                pass

    with LocalsoraProcess(folder / "localsora", args=["--poll-after-ms", "300"]) as localsora:
        studio = StudioApp(folder / "data", localsora, folder / "streamlit.log").start()
        try:
            with sync_playwright() as driver:
                launch = {"executable_path": chromium_path(), "headless": True, "args": CHROMIUM_FLAGS}
                for _ in range(args.rounds):
                    for shared in (False, True):
                        seen.clear()
                        browser = driver.chromium.launch(**launch) if shared else None
                        for _ in range(args.visits):
                            if browser is None:
                                context = driver.chromium.launch_persistent_context(tempfile.mkdtemp(), **launch)
                                page = context.pages[0]
                            else:
                                context = browser.new_context()
                                page = context.new_page()
                            page.goto(studio.url)
                            page.wait_for_selector(IDLE, state="attached", timeout=60_000)
                            go_to(page, "Gallery")
                            go_to(page, "Settings")
                            time.sleep(3)
                            sample()
                            context.close()
                        if browser is not None:
                            sample()
                            browser.close()
                        way = "one shared browser" if shared else "a browser per visit"
                        print(f"{way}: {args.visits} visits, Chromium CPU {sum(seen.values()):.1f} s", flush=True)
        finally:
            studio.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
