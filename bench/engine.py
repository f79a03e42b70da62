"""The diffusers engine's overhead: a job through localsora against the same pipeline called directly.

    .venv/bin/python bench/engine.py [--size 256x256] [--seconds 2] [--steps 8] [--runs 3] [--poll-ms 50]
                                     [--device cpu|cuda|cuda:N|mps] [--cache SPEC ...]

Both sides use the same tiny random Wan pipeline (tests/tiny_pipelines.py), loaded by path, with the same
size, frame count, steps and seed, on `--device` (the CPU by default):
  localsora  create → completed → downloaded, through the SDK over HTTP, polling as `--poll-ms` says
  direct     WanPipeline(...) in this process, then the same MP4 writer localsora uses
  engine     localsora's DiffusersEngine.render() in this process: the engine's own cost, without HTTP
They run in turns; the best and the median of the runs are printed. Then the server's memory: its RSS with
the model loaded and idle, its peak over a job, and its growth per queued job (50 jobs queued behind one).

With `--cache SPEC` (repeatable: `first-block:0.2`, `taylorseer`, `mag:RATIOS.json`), it measures step caching
instead: the engine with each `--cache` against the engine without, same model, request and seed, in turns; how
often the last transformer block's attention really computed (a cached step skips it) and the time.
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
os.environ["HF_HUB_OFFLINE"] = "1"
warnings.filterwarnings("ignore")

QUEUED_JOBS = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="256x256")
    parser.add_argument("--seconds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--poll-ms", type=int, default=50, help="openai-poll-after-ms, which the client honours")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps")
    parser.add_argument("--cache", action="append", default=[], metavar="SPEC",
                        help="compare the engine with this --cache against none (repeatable)")
    args = parser.parse_args()
    if args.cache:
        compare_caches(args)
        return

    import diffusers
    import psutil
    import torch
    from openai import OpenAI

    from localsora.config import Settings
    from localsora.encode import write_clip
    from localsora.engines.base import RenderRequest
    from localsora.engines.diffusers.engine import DiffusersEngine
    from localsora.frames import planes_from_rgb
    from localsora.process import LocalsoraProcess
    from tests.tiny_pipelines import save_tiny_wan

    work = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    folder = save_tiny_wan(work / "tiny-wan")
    width, height = (int(v) for v in args.size.split("x"))
    fps = 16
    delivered = args.seconds * fps
    frames = (delivered - 1 + 3) // 4 * 4 + 1  # Wan takes 4k+1 frames

    pipe = diffusers.WanPipeline.from_pretrained(folder, dtype=torch.float32).to(args.device)
    pipe.set_progress_bar_config(disable=True)
    engine = DiffusersEngine(Settings(engine="diffusers", model=str(folder), models={"tiny": (args.size,)},
                                      device=args.device, dtype="float32"))

    def direct(run: int) -> float:
        start = time.perf_counter()
        # The engine fills in the checkpoint's own negative prompt and guidance; the direct call gets the same.
        output = pipe(prompt="a red fox in snow", height=height, width=width, num_frames=frames,
                      num_inference_steps=args.steps, generator=torch.Generator("cpu").manual_seed(7),
                      negative_prompt=engine.profile.negative_prompt,
                      guidance_scale=engine.profile.guidance or 5.0, output_type="np")
        pictures = (output.frames[0][:delivered].clip(0, 1) * 255 + 0.5).astype("uint8")
        write_clip(work / f"direct-{run}", (planes_from_rgb(p, width, height) for p in pictures), delivered,
                   width=width, height=height, fps=fps)
        return time.perf_counter() - start

    def in_process(run: int) -> float:
        start = time.perf_counter()
        engine.render(RenderRequest("a red fox in snow", width, height, args.seconds, seed=7,
                                    num_inference_steps=args.steps), work / f"engine-{run}", lambda share: None)
        return time.perf_counter() - start

    server = LocalsoraProcess(work / "server", args=[
        "--engine", "diffusers", "--model", str(folder), "--models", f"tiny={args.size}", "--device", args.device,
        "--dtype", "float32",
        "--durations", str(args.seconds), "--poll-after-ms", str(args.poll_ms),
        "--max-active-jobs", str(QUEUED_JOBS + 8),
    ]).start(timeout=120)
    client = OpenAI(base_url=server.base_url, api_key="local", max_retries=0)
    process = psutil.Process(server._process.pid)  # type: ignore[union-attr]
    peak = [process.memory_info().rss]

    def wait(video_id: str) -> None:
        while True:
            video = client.videos.retrieve(video_id)
            peak[0] = max(peak[0], process.memory_info().rss)
            if video.status in ("completed", "failed"):
                assert video.status == "completed", video.error
                return
            time.sleep(args.poll_ms / 1000)

    def through_localsora(run: int) -> float:
        start = time.perf_counter()
        video = client.videos.create(prompt="a red fox in snow", model="tiny", size=args.size,  # type: ignore[arg-type]
                                     seconds=str(args.seconds),  # type: ignore[arg-type]
                                     extra_body={"num_inference_steps": args.steps, "seed": 7})
        wait(video.id)
        (work / f"served-{run}.mp4").write_bytes(client.videos.download_content(video.id).read())
        return time.perf_counter() - start

    try:
        idle_rss = process.memory_info().rss
        ways = {"direct": direct, "engine": in_process, "localsora": through_localsora}
        for way in ways.values():
            way(-1)  # warm each: first calls pay for lazy imports and allocator growth
        timings: dict[str, list[float]] = {name: [] for name in ways}
        for run in range(args.runs):
            for name, way in ways.items():
                timings[name].append(way(run))

        print(f"tiny Wan, {args.size}, {args.seconds} s at {fps} fps ({frames} frames), {args.steps} steps, "
              f"{args.device}; best and median of {args.runs} runs, taking turns")
        print(f"{'':10} {'best':>8} {'median':>8}")
        for name, values in timings.items():
            print(f"{name:10} {min(values):7.3f}s {statistics.median(values):7.3f}s")
        for name in ("engine", "localsora"):
            ratio = min(timings[name]) / min(timings["direct"])
            median_ratio = statistics.median(timings[name]) / statistics.median(timings["direct"])
            print(f"{name + '/direct':18} {ratio:6.3f}x {median_ratio:7.3f}x   (goal for localsora <= 1.05x)")

        blocker = client.videos.create(prompt="hold the device", model="tiny", size=args.size,  # type: ignore[arg-type]
                                       seconds=str(args.seconds),  # type: ignore[arg-type]
                                       extra_body={"num_inference_steps": args.steps * 4})
        before = process.memory_info().rss
        queued = [client.videos.create(prompt=f"queued {i}", model="tiny", size=args.size,  # type: ignore[arg-type]
                                       seconds=str(args.seconds),  # type: ignore[arg-type]
                                       extra_body={"num_inference_steps": 1}) for i in range(QUEUED_JOBS)]
        after = process.memory_info().rss
        statuses = [client.videos.retrieve(v.id).status for v in queued]
        mb = 1024 * 1024
        print(f"server RSS: {idle_rss / mb:.0f} MB with the model loaded, idle; peak {peak[0] / mb:.0f} MB "
              f"over the timed jobs")
        print(f"per queued job: {(after - before) / QUEUED_JOBS / 1024:.1f} KB "
              f"({QUEUED_JOBS} queued behind one running; {statuses.count('queued')} still queued when measured)")
        client.videos.delete(blocker.id)
    finally:
        server.stop()


def compare_caches(args: argparse.Namespace) -> None:
    import torch

    from localsora.config import Settings
    from localsora.engines.base import RenderRequest
    from localsora.engines.diffusers.engine import DiffusersEngine
    from tests.tiny_pipelines import save_tiny_wan

    torch.manual_seed(0)
    work = Path(tempfile.mkdtemp(prefix="bench-cache-"))
    folder = save_tiny_wan(work / "tiny-wan")
    width, height = (int(v) for v in args.size.split("x"))
    request = RenderRequest("a red fox in snow", width, height, args.seconds, seed=7, num_inference_steps=args.steps)
    engines, computed = {}, {}
    for cache in [None, *args.cache]:
        name = cache or "none"
        engines[name] = DiffusersEngine(Settings(engine="diffusers", model=str(folder), models={"tiny": (args.size,)},
                                                 device=args.device, dtype="float32", cache=cache))
        counter = computed[name] = [0]
        engines[name].pipe.transformer.blocks[-1].attn1.to_q.register_forward_hook(
            lambda *hook, counter=counter: counter.__setitem__(0, counter[0] + 1))

    def run(engine: DiffusersEngine, out: Path) -> float:
        start = time.perf_counter()
        engine.render(request, out, lambda share: None)
        return time.perf_counter() - start

    for name, engine in engines.items():
        run(engine, work / f"warm-{name}")
    timings: dict[str, list[float]] = {name: [] for name in engines}
    for name in engines:
        computed[name][0] = 0
    for turn in range(args.runs):
        for name, engine in engines.items():
            timings[name].append(run(engine, work / f"{name}-{turn}"))
    passes = 2 * args.steps  # each step: the prompt and the negative prompt
    print(f"tiny Wan, {args.size}, {args.seconds} s, {args.steps} steps, {args.device}; best and median of "
          f"{args.runs} runs, taking turns")
    print(f"{'--cache':22} {'attention computed':>19} {'skipped':>8} {'best':>8} {'median':>8} {'speed-up':>9}")
    base = statistics.median(timings["none"])
    for name, values in timings.items():
        done = computed[name][0] / args.runs
        print(f"{name:22} {done:8.1f} of {passes:<8} {1 - done / passes:7.0%} {min(values):7.3f}s "
              f"{statistics.median(values):7.3f}s {base / statistics.median(values):8.2f}x")


if __name__ == "__main__":
    main()
