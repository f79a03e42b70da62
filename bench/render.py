"""localsora end to end through the SDK (create → completed), against ffmpeg encoding the same shape.

    .venv/bin/python bench/render.py

For each case it starts a job with the real `openai` SDK over HTTP, polls until it completes, and takes
the wall time from the create call to the completed status. In the same run it times the imageio-ffmpeg
binary encoding a synthetic clip of the same size, length and codec settings (bench/render_encode.py).
It prints the realtime factor (clip seconds per wall second) and our time divided by ffmpeg's.
"""

from __future__ import annotations

import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from openai import OpenAI  # noqa: E402

from bench.render_encode import time_ffmpeg_encode  # noqa: E402
from localsora.process import LocalsoraProcess  # noqa: E402

warnings.filterwarnings("ignore", message="The Sora API is scheduled", category=DeprecationWarning)
CASES = (("sora-2", "720x1280", "4"), ("sora-2-pro", "1792x1024", "12"))
RUNS = 3
PROMPT = "A lighthouse on a cliff at golden hour, waves below, slow dolly in"


def time_job(client: OpenAI, model: str, size: str, seconds: str) -> float:
    start = time.perf_counter()
    video = client.videos.create(prompt=PROMPT, model=model, size=size, seconds=seconds)  # type: ignore[arg-type]
    while video.status not in ("completed", "failed"):
        time.sleep(0.01)
        video = client.videos.retrieve(video.id)
    elapsed = time.perf_counter() - start
    if video.status != "completed":
        raise SystemExit(f"job failed: {video.error}")
    return elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, \
            LocalsoraProcess(Path(folder), args=["--poll-after-ms", "10"]) as server:
        client = OpenAI(base_url=server.base_url, api_key="local", max_retries=0)
        time_job(client, *CASES[0])  # warm-up: imports, font loading, first x264 open
        print(f"localsora create → completed through the SDK vs ffmpeg; best of {RUNS}, taking turns")
        print("{:<10} {:>5} {:>9} {:>9} {:>6} {:>11}".format("size", "clip", "localsora", "ffmpeg", "ratio",
                                                            "realtime x"))
        for model, size, seconds in CASES:
            width, height = (int(v) for v in size.split("x"))
            ours, ffmpeg = [], []
            for _ in range(RUNS):
                ffmpeg.append(time_ffmpeg_encode(width, height, float(seconds), runs=1))
                ours.append(time_job(client, model, size, seconds))
            best, reference = min(ours), min(ffmpeg)
            print(f"{size:<10} {seconds:>4}s {best:>8.3f}s {reference:>8.3f}s {best / reference:>6.2f}"
                  f" {float(seconds) / best:>10.1f}x")


if __name__ == "__main__":
    main()
