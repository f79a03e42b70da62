"""How long finishing a clip takes, against a bare PyAV re-encode of the same clip with the same encoder settings.

    .venv/bin/python bench/finish.py [--runs 3] [--seconds 12] [--rgb | --reframe]

It writes a 1080x1920 24 fps clip with sound (moving gradients, a tone), then, taking turns so a busy machine slows
both alike, times (a) a bare re-encode: decode and encode every frame (libx264 with the finisher's options) and the
sound (AAC), and (b) `finish_video` with a logo, three burned-in subtitles, a 2 s end card, a music bed and the 9:16
preset. It prints the best wall time of each and their ratio, and the same for CPU time (every thread's, from
getrusage), which other work on a shared machine disturbs far less than wall time. Issue 23's goal: the ratio is 1.5
or less.

`--rgb` instead times the bare re-encode against the same with each frame taken to RGB and back: the cost that
drawing the overlays in yuv420p avoids. `--reframe` times the reframe alone, a frame at a time, 1280x720 made
1080x1920 (fit and crop): the libavfilter graph the finisher uses against the same work in Pillow and numpy (crop,
a 1/8-size blur, resize, paste, back to yuv420p).
"""

from __future__ import annotations

import argparse
import io
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script, bench/ is on the path but the repo root is not

from studio.media.finish_engine import crop_box, fitted_size, reframer  # noqa: E402
from studio.media.finishing import (  # noqa: E402
    AUDIO_BIT_RATE,
    ENCODER,
    Caption,
    EndCard,
    FinishSpec,
    Format,
    Logo,
    MusicBed,
    Subtitles,
    finish_video,
    quality_options,
)

WIDTH, HEIGHT, FPS, RATE = 1080, 1920, 24, 48_000


def write_clip(path: Path, seconds: float) -> None:
    """A clip whose every frame differs (so the encoder works as on real footage), with a tone under it."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    with av.open(str(path), mode="w", format="mp4") as out:
        video = out.add_stream(ENCODER, rate=FPS, options=quality_options(None))
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        audio = out.add_stream("aac", rate=RATE, layout="stereo")
        for index in range(round(seconds * FPS)):
            picture = np.stack([(x + index * 6) % 256, (y // 3 + index * 2) % 256, ((x + y) // 7) % 256], axis=-1)
            frame = av.VideoFrame.from_ndarray(picture.astype(np.uint8), format="rgb24")
            frame.pts = index
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        _write_tone(out, audio, seconds, 330.0)


def _write_tone(out: av.container.OutputContainer, audio: av.stream.Stream, seconds: float, pitch: float) -> None:
    times = np.arange(round(seconds * RATE)) / RATE
    tone = (0.2 * np.sin(2 * np.pi * pitch * times)).astype(np.float32)
    for start in range(0, len(tone), 1024):
        chunk = np.ascontiguousarray(np.stack([tone[start : start + 1024]] * 2))
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = RATE, start, Fraction(1, RATE)
        out.mux(audio.encode(frame))
    out.mux(audio.encode(None))


def music_bed(seconds: float) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="ipod") as out:  # an .m4a
        _write_tone(out, out.add_stream("aac", rate=44_100, layout="stereo"), seconds, 220.0)
    return buffer.getvalue()


def logo_png() -> bytes:
    image = Image.new("RGBA", (400, 160), (0, 0, 0, 0))
    ImageDraw.Draw(image).rounded_rectangle((0, 0, 399, 159), radius=40, fill=(255, 200, 0, 230))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def bare_reencode(source: Path, target: Path, rgb_round_trip: bool = False) -> None:
    """Decode and encode every frame and the sound, as the finisher does, with nothing done in between (or, with
    `rgb_round_trip`, only each frame taken to an RGB array and back, as overlays drawn in RGB would need)."""
    with (
        av.open(str(source)) as inp,
        av.open(str(target), mode="w", format="mp4", options={"movflags": "+faststart"}) as out,
    ):
        in_video = inp.streams.video[0]
        in_video.thread_type = "AUTO"
        video = out.add_stream(ENCODER, rate=in_video.average_rate, options=quality_options(None))
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        audio = out.add_stream("aac", rate=RATE, layout="stereo")
        audio.bit_rate = AUDIO_BIT_RATE
        for frame in inp.decode(in_video, inp.streams.audio[0]):
            if isinstance(frame, av.VideoFrame):
                if rgb_round_trip:
                    pts = frame.pts
                    rgb = frame.to_ndarray(format="rgb24")
                    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
                    frame.pts, frame.time_base = pts, in_video.time_base
                frame.pict_type = av.video.frame.PictureType.NONE
                out.mux(video.encode(frame))
            else:
                frame.pts = None
                out.mux(audio.encode(frame))
        out.mux(video.encode(None))
        out.mux(audio.encode(None))


def full_spec(seconds: float) -> FinishSpec:
    third = seconds / 3
    return FinishSpec(
        format=Format(WIDTH, HEIGHT),
        logo=Logo(logo_png(), corner="top-right"),
        subtitles=Subtitles(
            tuple(
                Caption(n * third, (n + 1) * third - 0.2, f"Line {n + 1}: the new bottle, now in electric blue")
                for n in range(3)
            )
        ),
        end_card=EndCard(seconds=2.0, colour="#102040", headline="Meet the new bottle", call_to_action="shop.example"),
        music=MusicBed(music_bed(seconds + 2), "bed.m4a"),
    )


def timed(action: Callable[[], None], wall: list[float], cpu: list[float]) -> None:
    """Run `action`, adding its wall time and its CPU time (user and system, every thread) to the lists."""
    before, started = _cpu_seconds(), time.perf_counter()
    action()
    wall.append(time.perf_counter() - started)
    cpu.append(_cpu_seconds() - before)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _line(what: str, times: list[float]) -> str:
    return f"{what}: {min(times):.2f} s (runs: {', '.join(f'{t:.2f}' for t in times)})"


def time_rgb_round_trip(source: Path, folder: Path, runs: int, seconds: float) -> None:
    plain: tuple[list[float], list[float]] = ([], [])
    round_trip: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        timed(lambda: bare_reencode(source, folder / "bare.mp4"), *plain)
        timed(lambda: bare_reencode(source, folder / "rgb.mp4", rgb_round_trip=True), *round_trip)
    print(f"clip: {WIDTH}x{HEIGHT}, {seconds:g} s at {FPS} fps; best of {runs}, taking turns")
    for index, kind in enumerate(("wall", "CPU")):
        print(_line(f"bare re-encode, {kind}", plain[index]))
        print(_line(f"with each frame to RGB and back, {kind}", round_trip[index]))
        print(f"ratio, {kind}: {min(round_trip[index]) / min(plain[index]):.2f}x")


LANDSCAPE = (1280, 720)


def pillow_reframe(frame: av.VideoFrame, mode: str) -> av.VideoFrame:
    """The reframe done in Pillow and numpy, as it would be without the filter graph."""
    image = frame.to_image()
    x, y, crop_w, crop_h = crop_box(image.width, image.height, WIDTH, HEIGHT, 0.5, 0.5)
    cover = image.crop((x, y, x + crop_w, y + crop_h))
    if mode == "crop":
        result = cover.resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)
    else:
        small = cover.resize((WIDTH // 8, HEIGHT // 8), Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(4))
        result = small.resize((WIDTH, HEIGHT), Image.Resampling.BILINEAR)
        fit_w, fit_h = fitted_size(image.width, image.height, WIDTH, HEIGHT)
        result.paste(
            image.resize((fit_w, fit_h), Image.Resampling.BICUBIC), ((WIDTH - fit_w) // 2, (HEIGHT - fit_h) // 2)
        )
    return av.VideoFrame.from_image(result).reformat(format="yuv420p")


def time_reframe(runs: int) -> None:
    width, height = LANDSCAPE
    y, x = np.mgrid[0:height, 0:width]
    frames = [
        av.VideoFrame.from_ndarray(
            np.stack([(x + n * 6) % 256, (y // 3) % 256, (x + y) // 7 % 256], axis=-1).astype(np.uint8), format="rgb24"
        ).reformat(format="yuv420p")
        for n in range(48)
    ]
    print(f"reframe {width}x{height} to {WIDTH}x{HEIGHT}, {len(frames)} frames; best of {runs}, taking turns")
    for mode in ("fit", "crop"):
        graph = reframer(width, height, "yuv420p", (WIDTH, HEIGHT), Format(WIDTH, HEIGHT, mode=mode))
        ways = {"filter graph": graph, "Pillow and numpy": lambda frame, mode=mode: pillow_reframe(frame, mode)}
        times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in ways}
        for _ in range(runs):
            for name, way in ways.items():
                timed(lambda way=way: [way(frame) for frame in frames], *times[name])
        for name, (wall, cpu) in times.items():
            print(
                f"{mode}, {name}: {min(wall) / len(frames) * 1000:.1f} ms wall, "
                f"{min(cpu) / len(frames) * 1000:.1f} ms CPU a frame"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--reframe", action="store_true", help="time the reframe alone: filter graph or Pillow")
    parser.add_argument("--rgb", action="store_true", help="time a bare re-encode with and without an RGB round trip")
    args = parser.parse_args()
    if args.reframe:
        time_reframe(args.runs)
        return
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "source.mp4"
        write_clip(source, args.seconds)
        if args.rgb:
            time_rgb_round_trip(source, Path(folder), args.runs, args.seconds)
            return
        spec = full_spec(args.seconds)
        bare: tuple[list[float], list[float]] = ([], [])
        finished: tuple[list[float], list[float]] = ([], [])
        for _ in range(args.runs):
            timed(lambda: bare_reencode(source, Path(folder) / "bare.mp4"), *bare)
            timed(lambda: finish_video(source, spec, Path(folder) / "finished.mp4"), *finished)
        print(f"clip: {WIDTH}x{HEIGHT}, {args.seconds:g} s at {FPS} fps; best of {args.runs}, taking turns")
        for index, kind in enumerate(("wall", "CPU")):
            print(_line(f"bare PyAV re-encode, {kind}", bare[index]))
            print(_line(f"finish (9:16, logo, 3 subtitles, 2 s end card, music bed), {kind}", finished[index]))
            print(f"ratio, {kind}: {min(finished[index]) / min(bare[index]):.2f}x (goal: 1.5x or less)")


if __name__ == "__main__":
    main()
