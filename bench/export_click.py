"""How long "Export MP4" holds the page: the click's script run, against the time until the finished video is in
the library. Since exports run on the server (studio.finishing.FinishQueue), the click only queues the export.

    .venv/bin/python bench/export_click.py [--runs 3] [--seconds 4]

Each run makes a clip on a private localsora (previz, 1280x720), opens its page in Streamlit's AppTest, applies a
brand kit (logo and a 2 s end card) and clicks Export MP4.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message="The Sora API is scheduled", category=DeprecationWarning)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", default="4", help="the clip's length: 4, 8 or 12")
    args = parser.parse_args()

    from localsora.process import LocalsoraProcess
    from studio.brand_kit import BrandKit, save_brand_kit
    from studio.jobs import Jobs, VideoRequest
    from studio.library import Library
    from studio.provider.profiles import load_providers
    from tests.media import png_bytes

    folder = Path(tempfile.mkdtemp(prefix="bench-export-"))
    with LocalsoraProcess(folder / "localsora", args=["--poll-after-ms", "200"]) as localsora:
        os.environ.update(LOCALSORA_URL=localsora.root_url, SORA_STUDIO_PROVIDER="local",
                          SORA_STUDIO_DATA_DIR=str(folder / "data"))
        from tests.conftest import run_until_settled
        from tests.test_pages import button, new_session, open_page, open_settings_section

        library = Library(folder / "data")
        jobs = Jobs(load_providers({"LOCALSORA_URL": localsora.root_url})["local"], library)
        save_brand_kit(library, BrandKit(headline="Spring", end_card_seconds=2.0), actor=None, logo=png_bytes(32, 32))
        clicks, landings = [], []
        for run in range(args.runs):
            [record] = jobs.submit(VideoRequest(prompt=f"A bottle on a table, take {run}", size="1280x720",
                                                seconds=args.seconds))
            record = run_until_settled(jobs, record.video_id)
            at = open_page(new_session(), "app_pages/video.py", video=record.video_id)
            at = open_settings_section(at, "finish_drawer")
            button(at, "Apply brand kit").click()
            at.run()
            button(at, "Export MP4").click()
            started = time.perf_counter()
            at.run()
            clicks.append(time.perf_counter() - started)
            while not [c for c in library.children(record.video_id) if c.kind == "finish"]:
                time.sleep(0.02)
            landings.append(time.perf_counter() - started)
            print(f"run {run}: the click's script run {clicks[-1]:.2f} s; "
                  f"the finished video in the library after {landings[-1]:.2f} s", flush=True)
    print(f"median: the page is held {statistics.median(clicks):.2f} s; "
          f"the export takes {statistics.median(landings):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
