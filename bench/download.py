"""Streaming a 200 MB video into the library through `studio`, against a plain httpx stream of the same URL.

    .venv/bin/python bench/download.py [--mb 200]

It makes one real job on a private localsora, then swaps that job's finished MP4 on disk for a 200 MB
file, so the download is large without a 200 MB render. Each measurement runs in a fresh child process
that reports its peak RSS growth (ru_maxrss after minus RSS before) and its throughput:
  studio  Jobs.archive(): the SDK's with_streaming_response into a temp file, then an atomic rename
  httpx   httpx.stream() of the same /content URL into a file
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message="The Sora API is scheduled", category=DeprecationWarning)
RUNS = 5


def rss_now_kb() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def worker(method: str, root_url: str, video_id: str, folder: Path) -> dict[str, float]:
    """One measurement, in this (fresh) process."""
    import httpx

    from studio.jobs import Jobs
    from studio.library import Library
    from studio.provider.profiles import load_providers

    library = Library(folder / "library")
    jobs = Jobs(load_providers({"LOCALSORA_URL": root_url})["local"], library)
    if method == "studio":
        from studio.library import VideoRecord

        library.add(VideoRecord(video_id=video_id, provider="local", kind="generate", status="completed",
                                prompt="bench", model="sora-2", size="720x1280", seconds="4", created_at=0))
    before = rss_now_kb()
    start = time.perf_counter()
    if method == "studio":
        record = jobs.archive(video_id)
        size = library.path(record.video_path).stat().st_size  # type: ignore[union-attr]
    else:
        target = folder / "plain.mp4"
        with httpx.stream("GET", f"{root_url}/v1/videos/{video_id}/content",
                          headers={"Authorization": "Bearer local"}, timeout=60) as response, \
                open(target, "wb") as out:
            for chunk in response.iter_bytes(1024 * 1024):
                out.write(chunk)
        size = target.stat().st_size
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": elapsed, "bytes": size, "rss_growth_mb": max(0, peak - before) / 1024}


def measure(method: str, root_url: str, video_id: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        output = subprocess.run(
            [sys.executable, __file__, "--worker", method, root_url, video_id, folder],
            check=True, capture_output=True, text=True,
        ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--worker", nargs=4, metavar=("METHOD", "ROOT_URL", "VIDEO_ID", "FOLDER"))
    args = parser.parse_args()
    if args.worker:
        method, root_url, video_id, folder = args.worker
        print(json.dumps(worker(method, root_url, video_id, Path(folder))))
        return

    from openai import OpenAI

    from localsora.process import LocalsoraProcess

    with tempfile.TemporaryDirectory() as folder, LocalsoraProcess(Path(folder) / "localsora") as server:
        client = OpenAI(base_url=server.base_url, api_key="local", max_retries=0)
        video = client.videos.create(prompt="A download benchmark", seconds="4")
        while video.status not in ("completed", "failed"):
            time.sleep(0.1)
            video = client.videos.retrieve(video.id)
        big = server.data_dir / "videos" / video.id / "video.mp4"
        with open(big, "wb") as out:  # incompressible bytes: nothing between the two ends can shortcut them
            for _ in range(args.mb):
                out.write(os.urandom(1024 * 1024))
        print(f"{args.mb} MB from localsora into a file; best and median of {RUNS} runs each, taking turns")
        results: dict[str, list[dict[str, float]]] = {"studio": [], "httpx": []}
        for round_number in range(RUNS):
            order = list(results) if round_number % 2 == 0 else list(results)[::-1]
            for method in order:
                os.sync()  # start each run with no dirty pages left over from the last one's 200 MB
                results[method].append(measure(method, server.root_url, video.id))
        print("{:<8} {:>9} {:>9} {:>11} {:>16}".format("method", "best", "MB/s", "median MB/s", "peak RSS growth"))
        best, median = {}, {}
        for method, runs in results.items():
            assert all(r["bytes"] == args.mb * 1024 * 1024 for r in runs), runs
            best[method] = min(r["seconds"] for r in runs)
            median[method] = statistics.median(r["seconds"] for r in runs)
            rss = max(r["rss_growth_mb"] for r in runs)
            print(f"{method:<8} {best[method]:>8.2f}s {args.mb / best[method]:>8.1f} {args.mb / median[method]:>11.1f}"
                  f" {rss:>13.1f} MB")
        print(f"studio / httpx time: best {best['studio'] / best['httpx']:.2f}, "
              f"median {median['studio'] / median['httpx']:.2f}")


if __name__ == "__main__":
    main()
