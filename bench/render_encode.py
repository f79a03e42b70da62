"""How fast localsora's renderer is, measured against the ffmpeg binary encoding a clip of the same shape.

    .venv/bin/python bench/render_encode.py [--motions]

For each size it times `localsora.renderer.render()` and `ffmpeg -f lavfi -i testsrc2 ... -f lavfi -i sine`
with the same codec settings (libx264 ultrafast crf 23 yuv420p, AAC 48 kHz stereo, +faststart), best of
3 runs each, and prints both, their ratio and how many clip seconds each renders per wall second.
The two take turns, so a busy machine slows both alike. `--motions` also times every camera move.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import imageio_ffmpeg

ROOT = Path(__file__).resolve().parents[1]
CASES = ((720, 1280, 4.0), (1792, 1024, 12.0))
RUNS = 3
PROMPT = "A lighthouse on a cliff at golden hour, waves below, slow dolly in"
MOTION_WORDS = {
    "static": "locked-off",
    "pan_left": "pan left",
    "pan_right": "pan right",
    "tilt_up": "tilt up",
    "tilt_down": "tilt down",
    "zoom_in": "zoom in",
    "zoom_out": "zoom out",
    "dolly_in": "dolly in",
    "dolly_out": "dolly out",
    "orbit": "orbit",
}


def time_ffmpeg_encode(width: int, height: int, seconds: float, runs: int = RUNS) -> float:
    """Best wall time, in seconds, of the ffmpeg binary encoding a synthetic clip like the renderer's."""
    with tempfile.TemporaryDirectory() as folder:
        command = [
            imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error",
            "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=24:duration={seconds:g}",
            "-f", "lavfi", "-i", f"sine=frequency=220:sample_rate=48000:duration={seconds:g}",
            "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-ac", "2", "-b:a", "128k", "-movflags", "+faststart",
            str(Path(folder) / "ffmpeg.mp4"),
        ]  # fmt: skip
        return _best(lambda: subprocess.run(command, check=True), runs)


def time_render(width: int, height: int, seconds: float, prompt: str = PROMPT, runs: int = RUNS) -> float:
    """Best wall time, in seconds, of `render()` writing a generated clip (video, thumbnail, spritesheet)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # run as a script, bench/ is on the path but the repo root is not
    from localsora.engines.base import RenderRequest
    from localsora.engines.previz import render

    request = RenderRequest(prompt, width, height, seconds)
    with tempfile.TemporaryDirectory() as folder:
        return _best(lambda: render(request, Path(folder)), runs)


def _best(run: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def compare(width: int, height: int, seconds: float, prompt: str = PROMPT) -> tuple[float, float]:
    """(ours, ffmpeg): best of RUNS each, taking turns."""
    ours, ffmpeg = [], []
    for _ in range(RUNS):
        ffmpeg.append(time_ffmpeg_encode(width, height, seconds, runs=1))
        ours.append(time_render(width, height, seconds, prompt, runs=1))
    return min(ours), min(ffmpeg)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--motions", action="store_true", help="also time each camera move at the first size")
    args = parser.parse_args()

    print(f"prompt: {PROMPT!r}; best of {RUNS} runs")
    header = ("size", "clip", "ours", "ffmpeg", "ratio", "ours x rt", "ffmpeg x rt")
    print("{:<10} {:>6} {:>8} {:>8} {:>6} {:>10} {:>12}".format(*header))
    for width, height, seconds in CASES:
        ours, ffmpeg = compare(width, height, seconds)
        print(
            f"{f'{width}x{height}':<10} {seconds:>5g}s {ours:>7.3f}s {ffmpeg:>7.3f}s {ours / ffmpeg:>6.2f}"
            f" {seconds / ours:>9.1f}x {seconds / ffmpeg:>11.1f}x"
        )

    if args.motions:
        width, height, seconds = CASES[0]
        print(f"\ncamera moves at {width}x{height}, {seconds:g} s")
        for motion, words in MOTION_WORDS.items():
            ours, ffmpeg = compare(width, height, seconds, prompt=f"A quiet harbour at dawn, {words}")
            print(f"{motion:>10} {ours:>7.3f}s ffmpeg {ffmpeg:.3f}s ratio {ours / ffmpeg:.2f}")


if __name__ == "__main__":
    main()
