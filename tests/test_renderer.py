"""The previz renderer, on real files: every output is decoded again with PyAV and Pillow."""

from __future__ import annotations

import importlib
import struct
import threading
import zlib
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest
from PIL import Image, ImageFont

from localsora.engines.base import RenderCancelled, RenderRequest
from localsora.engines.previz import FPS, render
from localsora.engines.previz.overlay import wrap_caption
from localsora.media import InvalidMedia, probe_image, probe_video
from tests.media import png_bytes, top_level_boxes
from tests.waiting import join_all

# The module: the package's `render` is the function of the same name.
previz_render = importlib.import_module("localsora.engines.previz.render")

FRAME = 1 / FPS


def decoded_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def picture_area(frame: np.ndarray) -> np.ndarray:
    """The frame without the caption band and the tag, whose colours do not follow the prompt."""
    height = frame.shape[0]
    return frame[height // 8 : height * 3 // 4]


def mean_colour(path: Path) -> np.ndarray:
    frames = decoded_frames(path)
    return picture_area(frames[len(frames) // 2]).reshape(-1, 3).mean(axis=0)


def write_clip(
    path: Path, width: int, height: int, seconds: float, fps: int = 30, tone: float | None = None
) -> None:
    """A clip unlike the renderer's own: another rate and size, a moving gradient, optionally a tone."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = container.add_stream("aac", rate=44100, layout="mono") if tone else None
        ramp = np.linspace(0, 255, width, dtype=np.float32)
        for index in range(round(seconds * fps)):
            rgb = np.zeros((height, width, 3), np.uint8)
            rgb[..., 0] = (ramp + index * 4) % 256
            rgb[..., 1] = 120
            rgb[..., 2] = np.linspace(40, 220, height, dtype=np.float32)[:, None]
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if audio is not None:
            samples = np.arange(round(seconds * 44100))
            wave = (0.4 * np.sin(2 * np.pi * tone * samples / 44100)).astype(np.float32)[None, :]
            sound = av.AudioFrame.from_ndarray(wave, format="fltp", layout="mono")
            sound.sample_rate, sound.pts = 44100, 0
            container.mux(audio.encode(sound))
            container.mux(audio.encode(None))


def dominant_frequency(path: Path) -> float:
    with av.open(str(path)) as container:
        rate = container.streams.audio[0].codec_context.sample_rate
        samples = np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.argmax(spectrum) * rate / len(samples))


@pytest.fixture(scope="module")
def portrait(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One 2 s portrait clip shared by the format checks."""
    out = tmp_path_factory.mktemp("portrait")
    frames = render(RenderRequest("A red fox in fresh snow at dawn, pan left", 720, 1280, 2), out)
    assert frames == 48
    return out


# --------------------------------------------------------------------------------------------- format


def test_video_has_exact_size_duration_and_codecs(portrait: Path) -> None:
    with av.open(str(portrait / "video.mp4")) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert (video.codec_context.name, video.codec_context.pix_fmt) == ("h264", "yuv420p")
        assert (video.codec_context.width, video.codec_context.height) == (720, 1280)
        assert float(video.average_rate) == FPS
        assert audio.codec_context.name == "aac"
        assert (audio.codec_context.sample_rate, audio.codec_context.channels) == (48000, 2)
        assert abs(container.duration / av.time_base - 2.0) <= FRAME
        audio_seconds = sum(f.samples for f in container.decode(audio=0)) / 48000
    assert abs(audio_seconds - 2.0) <= FRAME
    assert len(decoded_frames(portrait / "video.mp4")) == 48


def test_mp4_is_faststart(portrait: Path) -> None:
    boxes = top_level_boxes(portrait / "video.mp4")
    assert "moov" in boxes and "mdat" in boxes
    assert boxes.index("moov") < boxes.index("mdat")


def test_thumbnail_is_webp_and_spritesheet_is_jpeg(portrait: Path) -> None:
    with Image.open(portrait / "thumbnail.webp") as thumbnail:
        assert thumbnail.format == "WEBP"
        assert thumbnail.size == (360, 640)
    with Image.open(portrait / "spritesheet.jpg") as sheet:
        assert sheet.format == "JPEG"
        assert sheet.size == (4 * 144, 4 * 256)  # 16 tiles, 256 px on the long side


def test_only_the_three_outputs_are_left(portrait: Path) -> None:
    assert sorted(p.name for p in portrait.iterdir()) == ["spritesheet.jpg", "thumbnail.webp", "video.mp4"]


def test_landscape_pro_size(tmp_path: Path) -> None:
    render(RenderRequest("A harbour at night, orbit", 1792, 1024, 0.5), tmp_path)
    info = probe_video(tmp_path / "video.mp4")
    assert (info.width, info.height, info.has_audio) == (1792, 1024, True)
    assert abs(info.duration - 0.5) <= FRAME
    with Image.open(tmp_path / "thumbnail.webp") as thumbnail:
        assert thumbnail.size == (640, 366)


# --------------------------------------------------------------------------------------------- pictures


def test_every_frame_differs_from_the_next_even_locked_off(tmp_path: Path) -> None:
    render(RenderRequest("A quiet room, locked-off tripod shot", 320, 568, 1), tmp_path)
    frames = [f.astype(int) for f in decoded_frames(tmp_path / "video.mp4")]
    # A visible change somewhere, not just the encoder's noise between two identical pictures.
    assert all(np.abs(a - b).max() > 60 for a, b in zip(frames, frames[1:], strict=False))


def test_camera_moves_the_background(tmp_path: Path) -> None:
    render(RenderRequest("Mountains at noon, tilt up", 320, 568, 1), tmp_path)
    frames = decoded_frames(tmp_path / "video.mp4")
    sky = slice(568 // 8, 568 // 4)  # above the subject, so only the canvas can change here
    assert np.abs(frames[0][sky].astype(int) - frames[-1][sky].astype(int)).mean() > 5


def test_same_request_gives_identical_frames(tmp_path: Path) -> None:
    request = RenderRequest("A lighthouse in a storm, zoom in", 320, 568, 1)
    render(request, tmp_path / "a")
    render(request, tmp_path / "b")
    first, second = decoded_frames(tmp_path / "a" / "video.mp4"), decoded_frames(tmp_path / "b" / "video.mp4")
    assert len(first) == len(second) == 24
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))


def test_variants_with_other_seeds_differ_visibly_and_a_seed_repeats(tmp_path: Path) -> None:
    prompt = "A perfume bottle on a marble table at golden hour"
    for name, seed in (("one", 1), ("two", 2), ("again", 1)):
        render(RenderRequest(prompt, 320, 568, 0.5, seed=seed), tmp_path / name)
    one, two, again = (decoded_frames(tmp_path / name / "video.mp4") for name in ("one", "two", "again"))
    assert all(np.array_equal(a, b) for a, b in zip(one, again, strict=True))
    # Not a rounding difference: another seed moves the hills, clouds and subject.
    difference = np.mean([np.abs(a.astype(np.int16) - b).mean() for a, b in zip(one, two, strict=True)])
    assert difference > 4, f"variants differ by only {difference:.2f}/255 per pixel"


def test_concurrent_renders_match_a_lone_render(tmp_path: Path) -> None:
    requests = [RenderRequest(f"Clip {i}: a green valley, dolly out", 320, 568, 1) for i in range(3)]
    render(requests[0], tmp_path / "alone")
    threads = [
        threading.Thread(target=render, args=(r, tmp_path / f"together{i}")) for i, r in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    join_all(threads, what="three renders at once")
    alone, together = (
        decoded_frames(tmp_path / "alone" / "video.mp4"),
        decoded_frames(tmp_path / "together0" / "video.mp4"),
    )
    assert all(np.array_equal(a, b) for a, b in zip(alone, together, strict=True))
    assert all((tmp_path / f"together{i}" / "video.mp4").exists() for i in range(3))


def test_colour_words_change_the_colours(tmp_path: Path) -> None:
    render(RenderRequest("a red sunset", 320, 568, 0.5), tmp_path / "red")
    render(RenderRequest("a blue night ocean", 320, 568, 0.5), tmp_path / "blue")
    red, blue = mean_colour(tmp_path / "red" / "video.mp4"), mean_colour(tmp_path / "blue" / "video.mp4")
    assert red[0] > red[2] + 30
    assert blue[2] > blue[0] + 30
    assert np.linalg.norm(red - blue) > 60


def test_reference_image_is_animated(tmp_path: Path) -> None:
    colour = (210, 70, 170)
    Image.new("RGB", (900, 1000), colour).save(
        tmp_path / "reference.png"
    )  # not the output size: cover-fitted
    request = RenderRequest("my poster, static", 320, 568, 1, reference_image=tmp_path / "reference.png")
    render(request, tmp_path / "out")
    assert np.all(np.abs(mean_colour(tmp_path / "out" / "video.mp4") - colour) < 8)


def test_reference_image_moves_with_the_camera(tmp_path: Path) -> None:
    picture = Image.linear_gradient("L").resize((320, 568)).convert("RGB")
    picture.save(tmp_path / "reference.jpg")
    render(
        RenderRequest("zoom out", 320, 568, 1, reference_image=tmp_path / "reference.jpg"), tmp_path / "out"
    )
    frames = decoded_frames(tmp_path / "out" / "video.mp4")
    assert np.abs(picture_area(frames[0]).astype(int) - picture_area(frames[-1]).astype(int)).mean() > 5


# --------------------------------------------------------------------------------------------- sources


def test_restyle_keeps_duration_and_sound_and_grades_toward_the_prompt(tmp_path: Path) -> None:
    write_clip(tmp_path / "source.mp4", 640, 360, 1.5, fps=30, tone=1000)
    request = RenderRequest(
        "a deep blue remix", 320, 568, 8, source_video=tmp_path / "source.mp4", mode="remix"
    )
    frames = render(request, tmp_path / "blue")
    info = probe_video(tmp_path / "blue" / "video.mp4")
    assert (info.width, info.height) == (320, 568)
    assert abs(info.duration - 1.5) <= FRAME and frames == 36
    assert abs(dominant_frequency(tmp_path / "blue" / "video.mp4") - 1000) < 20  # the source's own tone
    request = RenderRequest(
        "a warm orange remix", 320, 568, 8, source_video=tmp_path / "source.mp4", mode="remix"
    )
    render(request, tmp_path / "orange")
    blue, orange = (
        mean_colour(tmp_path / "blue" / "video.mp4"),
        mean_colour(tmp_path / "orange" / "video.mp4"),
    )
    assert blue[2] - blue[0] > orange[2] - orange[0] + 30


def test_restyle_without_sound_gets_a_pad(tmp_path: Path) -> None:
    write_clip(tmp_path / "silent.mp4", 320, 568, 1)
    render(
        RenderRequest("an edit", 320, 568, 4, source_video=tmp_path / "silent.mp4", mode="remix"),
        tmp_path / "out",
    )
    with av.open(str(tmp_path / "out" / "video.mp4")) as container:
        samples = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)
    assert samples.shape[0] == 2 and np.abs(samples).max() > 0.05


def test_extend_appends_new_material_that_continues_the_source(tmp_path: Path) -> None:
    render(RenderRequest("A boat at sea, dolly in", 320, 568, 1), tmp_path / "source")
    source = tmp_path / "source" / "video.mp4"
    request = RenderRequest(
        "The boat sails on at dusk, pan right", 320, 568, 1.5, source_video=source, mode="extend"
    )
    frames = render(request, tmp_path / "out")
    assert frames == 24 + 36
    assert abs(probe_video(tmp_path / "out" / "video.mp4").duration - 2.5) <= FRAME
    original, extended = decoded_frames(source), decoded_frames(tmp_path / "out" / "video.mp4")
    assert np.abs(original[5].astype(int) - extended[5].astype(int)).mean() < 3  # the source part is kept
    seam = np.abs(picture_area(extended[23]).astype(int) - picture_area(extended[24]).astype(int)).mean()
    assert seam < 6  # the first new frame picks up where the source ended
    assert np.abs(picture_area(extended[24]).astype(int) - picture_area(extended[-1]).astype(int)).mean() > 3


# --------------------------------------------------------------------------------------------- progress


def test_progress_grows_to_total(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    render(RenderRequest("progress", 320, 568, 2), tmp_path, on_progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (48, 48)
    assert len(calls) >= 20
    assert all(a[0] < b[0] for a, b in zip(calls, calls[1:], strict=False))
    assert {t for _, t in calls} == {48}


def test_cancelling_leaves_no_files(tmp_path: Path) -> None:
    def cancel_at_a_quarter(done: int, total: int) -> None:
        if done >= total // 4:
            raise RenderCancelled("stop")

    with pytest.raises(RenderCancelled):
        render(RenderRequest("cancel me", 320, 568, 2), tmp_path / "out", on_progress=cancel_at_a_quarter)
    assert list((tmp_path / "out").iterdir()) == []


def test_cancelling_at_the_very_end_leaves_no_files(tmp_path: Path) -> None:
    def cancel_when_done(done: int, total: int) -> None:
        if done == total:
            raise RenderCancelled("stop")

    with pytest.raises(RenderCancelled):
        render(RenderRequest("cancel me late", 320, 568, 0.5), tmp_path, on_progress=cancel_when_done)
    assert list(tmp_path.iterdir()) == []


def test_frame_delay_slows_the_render(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    # The renderer's own clock only: each wait is recorded instead of slept.
    monkeypatch.setattr(previz_render, "time", SimpleNamespace(sleep=slept.append))
    frames = render(RenderRequest("slow", 64, 64, 0.5), tmp_path, frame_delay=0.02)
    assert frames == 12 and slept == [0.02] * 12, "one delay per frame"
    slept.clear()
    render(RenderRequest("fast", 64, 64, 0.5), tmp_path / "fast", frame_delay=0)
    assert slept == [], "no delay asked, none taken"
    delays = iter([0.5] * 4 + [0.0] * 8)  # asked at each frame: a held job let go after its fourth frame
    render(RenderRequest("held", 64, 64, 0.5), tmp_path / "held", frame_delay=lambda: next(delays))
    assert slept == [0.5] * 4, "the delay as it is at each frame"


def test_rejects_odd_sizes_and_missing_sources(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="even"):
        render(RenderRequest("odd", 321, 568, 1), tmp_path)
    with pytest.raises(ValueError, match="source video"):
        render(RenderRequest("no source", 320, 568, 1, mode="extend"), tmp_path)


# --------------------------------------------------------------------------------------------- captions


def test_long_prompts_wrap_to_two_ellipsised_lines() -> None:
    font = ImageFont.load_default(24)
    lines = wrap_caption("a very long prompt " * 200, font, 300)
    assert len(lines) == 2 and lines[-1].endswith("…")
    assert all(font.getlength(line) <= 300 for line in lines)
    one_word = wrap_caption("x" * 32000, font, 300)
    assert len(one_word) == 2 and one_word[-1].endswith("…")
    assert wrap_caption("short", font, 300) == ["short"]


def test_a_huge_prompt_still_renders(tmp_path: Path) -> None:
    render(RenderRequest("word " * 6000, 320, 568, 0.25), tmp_path)
    assert probe_video(tmp_path / "video.mp4").width == 320


# --------------------------------------------------------------------------------------------- probing


def test_probe_video_reads_a_real_clip(portrait: Path) -> None:
    info = probe_video(portrait / "video.mp4")
    assert (info.width, info.height, info.has_audio) == (720, 1280, True)
    assert abs(info.duration - 2.0) <= FRAME


@pytest.mark.parametrize("content", [b"not a video at all", b"", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100])
def test_probe_video_rejects_non_videos(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "upload.mp4"
    path.write_bytes(content)
    with pytest.raises(InvalidMedia):
        probe_video(path)


def test_probe_video_rejects_a_still_image(tmp_path: Path) -> None:
    Image.new("RGB", (64, 64), "red").save(tmp_path / "still.png")
    with pytest.raises(InvalidMedia, match="still image"):
        probe_video(tmp_path / "still.png")


def image_bytes(kind: str) -> bytes:
    return png_bytes(120, 80, (10, 200, 30), fmt=kind)


@pytest.mark.parametrize(
    ("kind", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
)
def test_probe_image_accepts_png_jpeg_webp(kind: str, mime: str) -> None:
    assert probe_image(image_bytes(kind)) == (120, 80, mime)


def png_claiming_size(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge size (a decompression bomb's calling card)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    ihdr = struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    data = zlib.compress(b"\x00" * 64)
    idat = struct.pack(">I", len(data)) + b"IDAT" + data + struct.pack(">I", zlib.crc32(b"IDAT" + data))
    iend = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + ihdr + idat + iend


@pytest.mark.parametrize(
    "data",
    [
        image_bytes("GIF"),
        image_bytes("PNG")[:200],
        image_bytes("JPEG")[:300],
        b"garbage" * 50,
        b"",
        png_claiming_size(9000, 9000),
        png_claiming_size(40000, 40000),
    ],
    ids=["gif", "truncated-png", "truncated-jpeg", "garbage", "empty", "bomb", "huge-bomb"],
)
def test_probe_image_rejects_bad_images(data: bytes) -> None:
    with pytest.raises(InvalidMedia):
        probe_image(data)
