"""The previz renderer: turns a job's prompt and inputs into an MP4, a WebP thumbnail and a JPEG spritesheet.

It is not an AI model. A generated clip is a simple landscape (sky, sun or moon, hills, a stand-in subject)
coloured by the prompt and filmed with the prompt's camera move; a reference image or a source video is
animated or re-graded instead. Every frame carries the prompt as a caption and a "localsora previz" tag.

Speed comes from staying in YUV 4:2:0 from start to end: a canvas is painted once (with a margin for the
camera to move in); each frame is a crop of it, scaled by swscale when the camera zooms, with silhouettes
and a pre-rendered caption blended into the planes in integer maths. Three threads share the work: one
draws frames a few ahead, one encodes the audio, and the caller's thread feeds x264 (which has its own).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import av
import numpy as np
from av.video.reformatter import Colorspace, Interpolation
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps, UnidentifiedImageError

from localsora.look import Look, read_look

FPS = 24
AUDIO_RATE = 48_000
VIDEO_NAME, THUMBNAIL_NAME, SPRITESHEET_NAME = "video.mp4", "thumbnail.webp", "spritesheet.jpg"
THUMBNAIL_LONG_SIDE = 640
SPRITE_TILE_LONG_SIDE = 256
SPRITE_COLUMNS, SPRITE_TILES = 4, 16
# Largest image we agree to decode: far above any video size, far below a decompression bomb.
MAX_IMAGE_PIXELS = 50_000_000
# Share of the frame size the camera may travel past each edge.
CAMERA_MARGIN = 0.1
TAG_TEXT = "localsora previz"
IMAGE_MIMES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
# The stream is tagged BT.709, limited range, and every conversion here uses that matrix.
BT709 = 1
LIMITED_RANGE = 1


class RenderCancelled(Exception):
    """Raised by an `on_progress` callback to stop a render."""


class InvalidMedia(ValueError):
    """An upload that cannot be used; the message says why in plain words."""


@dataclass(frozen=True)
class MediaInfo:
    width: int
    height: int
    duration: float
    has_audio: bool


@dataclass(frozen=True)
class RenderRequest:
    prompt: str
    width: int
    height: int
    seconds: float
    reference_image: Path | None = None
    source_video: Path | None = None
    mode: str = "generate"  # "generate" | "restyle" | "extend"


@dataclass(frozen=True)
class RenderResult:
    duration: float
    frames: int
    width: int
    height: int


# --------------------------------------------------------------------------------------------- probing


def probe_video(path: Path) -> MediaInfo:
    try:
        with av.open(str(path)) as container:
            if container.format.name == "image2" or container.format.name.endswith("_pipe"):
                raise InvalidMedia("The file is a still image, not a video.")
            if not container.streams.video:
                raise InvalidMedia("The file has no video track.")
            stream = container.streams.video[0]
            first = next(container.decode(stream), None)
            if first is None:
                raise InvalidMedia("The video track has no frames that can be decoded.")
            if container.duration:
                duration = container.duration / av.time_base
            elif stream.duration and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            else:
                duration = _decoded_duration(container, stream, first)
            return MediaInfo(first.width, first.height, duration, has_audio=bool(container.streams.audio))
    except InvalidMedia:
        raise
    except (av.FFmpegError, OSError) as exc:
        raise InvalidMedia(f"The file is not a video that can be decoded ({exc}).") from exc


def _decoded_duration(
    container: av.container.InputContainer, stream: av.VideoStream, first: av.VideoFrame
) -> float:
    """Duration for streams that do not state it: the last frame's time plus one frame."""
    rate = float(stream.average_rate or FPS)
    count, last_time = 1, first.time
    for frame in container.decode(stream):
        count, last_time = count + 1, frame.time
    if first.time is None or last_time is None:
        return count / rate
    return last_time - first.time + 1 / rate


def probe_image(data: bytes) -> tuple[int, int, str]:
    """(width, height, mime) of a JPEG, PNG or WebP image; any other, damaged or huge image raises."""
    try:
        with Image.open(io.BytesIO(data), formats=tuple(IMAGE_MIMES)) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise InvalidMedia(f"The image is too large to decode ({width}x{height} pixels).")
            mime = IMAGE_MIMES[image.format or ""]
            image.load()  # decodes every byte, so a truncated file fails here
            return width, height, mime
    except InvalidMedia:
        raise
    except UnidentifiedImageError as exc:
        raise InvalidMedia("The file is not a JPEG, PNG or WebP image.") from exc
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise InvalidMedia(f"The image is damaged or cannot be decoded ({exc}).") from exc


# --------------------------------------------------------------------------------------------- render


def render(
    request: RenderRequest,
    out_dir: Path,
    on_progress: Callable[[int, int], None] | None = None,
    frame_delay: float = 0.0,
) -> RenderResult:
    _check_request(request)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    width, height = request.width, request.height
    look = read_look(request.prompt)
    token = uuid.uuid4().hex
    finals = (THUMBNAIL_NAME, SPRITESHEET_NAME, VIDEO_NAME)  # the video goes last: its arrival means "done"
    temporaries = {name: out_dir / f".{name}.{token}.part" for name in finals}
    writer: _Mp4Writer | None = None
    frames: Iterator[_Planes] | None = None
    try:
        plan = _plan(request, look)
        stills = _Stills(plan.total)
        overlay = _FrameOverlay(request.prompt, look, width, height, over_source=request.mode != "generate")
        writer = _Mp4Writer(temporaries[VIDEO_NAME], width, height, plan.audio)
        frames = _drawn_ahead(_finished(plan, overlay, stills))
        report_every = max(1, plan.total // 20)
        for done, frame in enumerate(frames, start=1):
            writer.add(frame)
            if frame_delay > 0:
                time.sleep(frame_delay)
            if on_progress and done < plan.total and done % report_every == 0:
                on_progress(done, plan.total)
        writer.finish()
        temporaries[THUMBNAIL_NAME].write_bytes(stills.thumbnail)
        temporaries[SPRITESHEET_NAME].write_bytes(stills.spritesheet)
        if on_progress:
            on_progress(plan.total, plan.total)
        for name in finals:
            os.replace(temporaries[name], out_dir / name)
    except BaseException:
        if frames is not None:
            frames.close()  # stops the drawing thread
        if writer is not None:
            writer.abort()
        for path in temporaries.values():
            path.unlink(missing_ok=True)
        raise
    return RenderResult(duration=plan.total / FPS, frames=plan.total, width=width, height=height)


def _check_request(request: RenderRequest) -> None:
    if request.mode not in ("generate", "restyle", "extend"):
        raise ValueError(f"Unknown render mode {request.mode!r}; expected generate, restyle or extend.")
    if request.width < 16 or request.height < 16 or request.width % 2 or request.height % 2:
        raise ValueError(f"The size must be even and at least 16x16; got {request.width}x{request.height}.")
    if request.mode != "restyle" and not round(request.seconds * FPS) > 0:
        raise ValueError(f"The length must be at least one frame; got {request.seconds} s.")
    if request.mode != "generate" and request.source_video is None:
        raise ValueError(f"A {request.mode} render needs a source video.")


@dataclass
class _Plan:
    frames: Iterator[_Planes]
    total: int
    captioned_from: int  # frames before this one are kept as they are (the source part of an extension)
    audio: Callable[[], np.ndarray]  # float32 (2, samples), made on the audio thread


def _plan(request: RenderRequest, look: Look) -> _Plan:
    width, height = request.width, request.height
    if request.mode == "generate":
        total = round(request.seconds * FPS)
        if request.reference_image is not None:
            frames = _reference_frames(request.reference_image, look.motion, total, width, height)
        else:
            frames = _scene_frames(look, total, width, height)
        return _Plan(frames, total, 0, lambda: _synth_audio(look, _samples(total)))

    assert request.source_video is not None
    path = request.source_video
    source = probe_video(path)
    source_total = max(1, round(source.duration * FPS))
    if request.mode == "restyle":
        frames = _restyled_frames(path, source_total, look, width, height)
        return _Plan(
            frames, source_total, 0, lambda: _source_audio(path, source, look, _samples(source_total))
        )

    new_total = round(request.seconds * FPS)
    frames = _extended_frames(path, source_total, new_total, look, width, height)

    def audio() -> np.ndarray:
        first = _source_audio(path, source, look, _samples(source_total))
        return _crossfade(first, _synth_audio(look, _samples(new_total)))

    return _Plan(frames, source_total + new_total, source_total, audio)


def _samples(frames: int) -> int:
    return frames * AUDIO_RATE // FPS


def _finished(plan: _Plan, overlay: _FrameOverlay, stills: _Stills) -> Iterator[_Planes]:
    """Caption the new frames and collect the stills, on the drawing thread."""
    new_frames = plan.total - plan.captioned_from
    for index, frame in enumerate(plan.frames):
        if index >= plan.captioned_from:
            overlay.apply(frame, (index - plan.captioned_from) / max(1, new_frames - 1))
        stills.take(index, frame)
        yield frame
    stills.finish()


_DONE = object()


def _drawn_ahead(frames: Iterator[_Planes], depth: int = 4) -> Iterator[_Planes]:
    """Draw frames on a worker thread a few frames ahead, so drawing overlaps encoding."""
    ready: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand_over(item: object) -> bool:
        while not stop.is_set():
            with contextlib.suppress(queue.Full):
                ready.put(item, timeout=0.05)
                return True
        return False

    def draw() -> None:
        try:
            for frame in frames:
                if not hand_over(frame):
                    return
            hand_over(_DONE)
        except BaseException as exc:  # raised again on the rendering thread
            hand_over(exc)
        finally:
            close = getattr(frames, "close", None)
            if close:
                close()  # releases a source video the generator may hold open

    worker = threading.Thread(target=draw, name="localsora-draw", daemon=True)
    worker.start()
    try:
        while (item := ready.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()


# --------------------------------------------------------------------------------------------- frames


class _Planes(NamedTuple):
    """A picture in YUV 4:2:0: luma at full size, chroma at half. Rows may be views with padding."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray

    @property
    def width(self) -> int:
        return self.y.shape[1]

    @property
    def height(self) -> int:
        return self.y.shape[0]

    def video_frame(self) -> av.VideoFrame:
        # Shares the arrays' memory (and keeps them alive as long as the frame lives): no copy.
        return av.VideoFrame.from_dlpack((self.y, self.u, self.v), format="yuv420p")

    def crop(self, left: int, top: int, width: int, height: int) -> _Planes:
        """A view; an odd offset puts chroma half a chroma pixel off, which nobody can see."""
        cl, ct = left // 2, top // 2
        return _Planes(
            self.y[top : top + height, left : left + width],
            self.u[ct : ct + height // 2, cl : cl + width // 2],
            self.v[ct : ct + height // 2, cl : cl + width // 2],
        )

    def copy(self) -> _Planes:
        return _Planes(self.y.copy(), self.u.copy(), self.v.copy())


def _frame_planes(frame: av.VideoFrame) -> _Planes:
    return _Planes(*(_plane_array(plane) for plane in frame.planes))


def _plane_array(plane: av.video.plane.VideoPlane) -> np.ndarray:
    return np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]


@dataclass(frozen=True)
class _View:
    """Where a layer lands on screen: scaled about the frame centre, then shifted, in output pixels."""

    dx: float = 0.0
    dy: float = 0.0
    scale: float = 1.0


def _ease(progress: float) -> float:
    # Half linear, half smoothstep: the move starts and lands softly but never stalls.
    return 0.5 * progress + 0.5 * progress * progress * (3 - 2 * progress)


# Per depth (0 background, 1 subject, 2 foreground): how far each layer travels, for parallax.
_PAN_DEPTH = (1.0, 1.4, 1.9)
_ORBIT_DEPTH = (1.0, 0.0, -0.9)  # circling the subject: the world behind and in front move apart
_DOLLY_DEPTH = (0.12, 0.3, 0.65)


def _scene_view(motion: str, eased: float, depth: int, reach_x: float, reach_y: float) -> _View:
    sweep = 2 * eased - 1
    if motion in ("pan_right", "pan_left"):
        sign = -1 if motion == "pan_right" else 1  # the camera turns right, so the world slides left
        return _View(dx=sign * reach_x * sweep * _PAN_DEPTH[depth])
    if motion in ("tilt_up", "tilt_down"):
        sign = 1 if motion == "tilt_up" else -1
        return _View(dy=sign * reach_y * sweep * _PAN_DEPTH[depth])
    if motion in ("zoom_in", "zoom_out"):
        amount = eased if motion == "zoom_in" else 1 - eased
        return _View(scale=1 + 0.3 * amount)  # a lens zoom: every layer grows alike
    if motion in ("dolly_in", "dolly_out"):
        amount = eased if motion == "dolly_in" else 1 - eased
        return _View(scale=1 + _DOLLY_DEPTH[depth] * amount)  # near things grow faster
    if motion == "orbit":
        return _View(dx=-reach_x * sweep * _ORBIT_DEPTH[depth], scale=1 + 0.04 * math.sin(math.pi * eased))
    return _View()


def _picture_view(motion: str, eased: float, width: int, height: int) -> _View:
    """Ken Burns moves over a still; each starts on the whole picture, so an extension joins up."""
    if motion in ("zoom_out", "dolly_out"):
        return _View(scale=1 / (1 + 2 * CAMERA_MARGIN * eased))  # reveals the blurred surround
    if motion in ("zoom_in", "dolly_in"):
        return _View(scale=1 + 0.25 * eased)
    if motion == "static":
        return _View()
    scale = 1 + 0.15 * eased
    slack_x, slack_y = width * (scale - 1) / 2, height * (scale - 1) / 2  # travel that keeps edges covered
    if motion == "pan_right":
        return _View(dx=-slack_x, scale=scale)
    if motion == "pan_left":
        return _View(dx=slack_x, scale=scale)
    if motion == "tilt_up":
        return _View(dy=slack_y, scale=scale)
    if motion == "tilt_down":
        return _View(dy=-slack_y, scale=scale)
    return _View(dx=slack_x * math.sin(2 * math.pi * eased), scale=scale)  # orbit: swing across and back


def _draw_canvas(canvas: _Planes, view: _View, width: int, height: int) -> _Planes:
    """A new frame showing the part of the canvas the view sees."""
    if abs(view.scale - 1) < 1e-6:
        left = _clamp(round((canvas.width - width) / 2 - view.dx), 0, canvas.width - width)
        top = _clamp(round((canvas.height - height) / 2 - view.dy), 0, canvas.height - height)
        return canvas.crop(left, top, width, height).copy()
    left, source_w, scaled_w = _axis(canvas.width / 2 - view.dx / view.scale, width, view.scale, canvas.width)
    top, source_h, scaled_h = _axis(
        canvas.height / 2 - view.dy / view.scale, height, view.scale, canvas.height
    )
    source = canvas.crop(left, top, source_w, source_h).video_frame()
    scaled = source.reformat(width=scaled_w, height=scaled_h, interpolation=Interpolation.BILINEAR, threads=1)
    return _frame_planes(scaled).crop((scaled_w - width) // 2, (scaled_h - height) // 2, width, height)


def _axis(centre: float, size: int, scale: float, limit: int) -> tuple[int, int, int]:
    """Along one axis: (start, source size, output size) for scaling the canvas about `centre` by `scale`.

    swscale maps whole source pixels onto whole output pixels, so its scale is a ratio of two sizes.
    Letting the output run a few pixels past the frame (cropped off after) gives much finer ratios, so
    slow zooms do not stutter. Sizes are even, and so is the overrun on each side, for the chroma planes.
    """
    best: tuple[float, int, int, int] | None = None
    for extra in range(0, 20, 4):
        output = size + extra
        source = max(2, _even(output / scale))
        start = round(centre - source / 2)
        if start < 0 or start + source > limit:
            continue  # clamping it would shift the picture
        error = abs(output / source - scale)
        if best is None or error < best[0]:
            best = (error, start, source, output)
    if best is None:  # even the exact box leaves the canvas: clamp it
        source = min(limit - limit % 2, max(2, _even(size / scale)))
        return _clamp(round(centre - source / 2), 0, limit - source), source, size
    return best[1], best[2], best[3]


def _scaled(plane: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bilinear resize of one 8-bit plane by swscale, several times faster than Pillow."""
    frame = av.VideoFrame.from_numpy_buffer(plane, format="gray")
    scaled = frame.reformat(width=width, height=height, interpolation=Interpolation.BILINEAR, threads=1)
    return _plane_array(scaled.planes[0])


def _clamp(value: int, low: int, high: int) -> int:
    return min(max(value, low), high)


def _even(value: float) -> int:
    return 2 * round(value / 2)


# --- a generated scene


@dataclass(frozen=True)
class _Sprite:
    """A soft flat-coloured silhouette that moves with its own depth (parallax)."""

    alpha: np.ndarray  # uint8 coverage at scale 1
    centre_x: float  # relative to the frame centre, at scale 1
    centre_y: float
    colour: tuple[int, int, int]  # Y, U, V
    depth: int


def _scene_frames(look: Look, total: int, width: int, height: int) -> Iterator[_Planes]:
    canvas, sprites = _build_scene(look, width, height)
    reach_x, reach_y = (canvas.width - width) / 2, (canvas.height - height) / 2
    for index in range(total):
        eased = _ease(index / max(1, total - 1))
        frame = _draw_canvas(canvas, _scene_view(look.motion, eased, 0, reach_x, reach_y), width, height)
        for sprite in sprites:
            _draw_sprite(frame, sprite, _scene_view(look.motion, eased, sprite.depth, reach_x, reach_y))
        yield frame


def _draw_sprite(frame: _Planes, sprite: _Sprite, view: _View) -> None:
    mask = sprite.alpha
    if abs(view.scale - 1) > 1e-3:
        mask = _scaled(
            mask, max(2, round(mask.shape[1] * view.scale)), max(2, round(mask.shape[0] * view.scale))
        )
    alpha = mask.astype(np.uint16)
    alpha += alpha >> 7  # 0..255 -> 0..256, so full coverage is exact
    left = round(frame.width / 2 + sprite.centre_x * view.scale + view.dx - mask.shape[1] / 2)
    top = round(frame.height / 2 + sprite.centre_y * view.scale + view.dy - mask.shape[0] / 2)
    _blend(frame.y, alpha, left, top, sprite.colour[0])
    chroma_alpha = alpha[top % 2 :: 2, left % 2 :: 2]
    _blend(frame.u, chroma_alpha, (left + 1) // 2, (top + 1) // 2, sprite.colour[1])
    _blend(frame.v, chroma_alpha, (left + 1) // 2, (top + 1) // 2, sprite.colour[2])


def _blend(plane: np.ndarray, alpha: np.ndarray, left: int, top: int, value: int) -> None:
    """plane = plane * (1 - alpha) + value * alpha where they overlap, alpha in 0..256."""
    x0, y0 = max(left, 0), max(top, 0)
    x1, y1 = min(left + alpha.shape[1], plane.shape[1]), min(top + alpha.shape[0], plane.shape[0])
    if x0 >= x1 or y0 >= y1:
        return
    a = alpha[y0 - top : y1 - top, x0 - left : x1 - left]
    region = plane[y0:y1, x0:x1]
    region[...] = (region * (256 - a) + (a * value + 128)) >> 8


# Where the sun sits: (across the canvas, height above the horizon as a share of the sky).
_SUN_PLACES = {
    "dawn": (0.3, 0.06),
    "morning": (0.28, 0.45),
    "noon": (0.55, 0.82),
    "golden hour": (0.7, 0.2),
    "sunset": (0.62, 0.02),
    "dusk": (0.6, -0.07),
    "night": (0.72, 0.68),
}


def _build_scene(look: Look, width: int, height: int) -> tuple[_Planes, list[_Sprite]]:
    """Paint sky, sun or moon, clouds, stars and two ridges, once per clip.

    It is painted at chroma resolution (it is all soft) and each effect only touches its own region.
    """
    rng = np.random.default_rng(look.seed)
    canvas_w, canvas_h = _canvas_size(width, height)
    w, h = canvas_w // 2, canvas_h // 2
    palette = np.array(look.palette, np.float32) / 255
    sky_top, horizon_colour, far_land, near_land = palette[0], palette[1], palette[-2], palette[-1]
    horizon = h / 2 + 0.05 * height  # a little below the frame centre
    rows = np.arange(h, dtype=np.float32)[:, None]

    image = np.empty((h, w, 3), np.float32)
    image[:] = sky_top + (horizon_colour - sky_top) * (np.clip(rows / horizon, 0, 1) ** 1.4)[..., None]

    night = look.time_of_day == "night"
    if night or look.time_of_day == "dusk":
        count = int(w * h * 0.0012)
        ys, xs = rng.integers(0, int(horizon * 0.9), count), rng.integers(0, w, count)
        image[ys, xs] += rng.random((count, 1), dtype=np.float32) * 0.8

    place = _SUN_PLACES.get(look.time_of_day or "", (rng.uniform(0.2, 0.8), rng.uniform(0.25, 0.7)))
    sun_x, sun_y = place[0] * w, horizon - place[1] * horizon
    radius = 0.045 * min(w, h)
    glow_radius = radius * (3 if night else 7)
    reach = 2.2 * glow_radius  # beyond this the glow is under 1%
    y0, y1 = _clamp(int(sun_y - reach), 0, h), _clamp(int(sun_y + reach) + 1, 0, h)
    x0, x1 = _clamp(int(sun_x - reach), 0, w), _clamp(int(sun_x + reach) + 1, 0, w)
    if y0 < y1 and x0 < x1:
        distance = np.hypot(np.arange(x0, x1, dtype=np.float32) - sun_x, rows[y0:y1] - sun_y)
        sun_colour = np.array((0.92, 0.94, 1.0) if night else (1.0, 0.93, 0.78), np.float32)
        glow = np.exp(-((distance / glow_radius) ** 2)) * (0.25 if night else 0.55)
        disc = np.clip(radius - distance + 0.5, 0, 1)
        region = image[y0:y1, x0:x1]
        region += (glow * (1 - disc))[..., None] * sun_colour
        region += disc[..., None] * (sun_colour - region)

    columns = np.arange(w, dtype=np.float32)
    for _ in range(int(rng.integers(3, 7))):  # soft clouds: separable gaussians in their own rows
        cx, cy = rng.uniform(0, w), rng.uniform(0.1, 0.75) * horizon
        sx, sy = rng.uniform(0.12, 0.3) * w, rng.uniform(0.02, 0.05) * h
        strength = rng.uniform(0.15, 0.3)
        r0, r1 = _clamp(int(cy - 3 * sy), 0, h), _clamp(int(cy + 3 * sy) + 1, 0, h)
        cloud = np.outer(np.exp(-(((rows[r0:r1, 0] - cy) / sy) ** 2)), np.exp(-(((columns - cx) / sx) ** 2)))
        region = image[r0:r1]
        region += (cloud * strength)[..., None] * (1 - region)

    x = columns / w * 2 * math.pi
    ridges = (
        (horizon, 0.06 * h, far_land + (horizon_colour - far_land) * 0.3, 0.1),  # haze lightens far hills
        (horizon + 0.09 * h, 0.035 * h, near_land, 0.45),
    )
    for base, amplitude, colour, shade in ridges:
        waves = sum(
            rng.uniform(0.4, 1.0) / k * np.sin(k * x + rng.uniform(0, 2 * math.pi)) for k in (1, 2, 3, 5)
        )
        ridge = base - amplitude * (1.2 + waves / 2.5)
        top = _clamp(int(ridge.min()), 0, h)
        cover = np.clip(rows[top:] - ridge + 0.5, 0, 1)
        land = colour * (1 - shade * np.clip((rows[top:] - base) / (h - base), 0, 1))[..., None]
        region = image[top:]
        region += cover[..., None] * (land - region)

    planes = _yuv_planes(image)
    canvas = _Planes(np.array(_scaled(planes.y, canvas_w, canvas_h)), planes.u, planes.v)
    ground_y = (horizon * 2 - canvas_h / 2) + 0.1 * height  # frame-centre coordinates, full resolution
    return canvas, _scene_sprites(look, rng, width, height, ground_y)


def _yuv_planes(image: np.ndarray) -> _Planes:
    """BT.709 limited-range planes of a float RGB image, all three at the image's own size."""
    image = np.clip(image, 0, 1)
    luma = image @ np.array((0.2126, 0.7152, 0.0722), np.float32)
    return _Planes(
        (16.5 + 219 * luma).astype(np.uint8),
        (128.5 + 224 / 1.8556 * (image[..., 2] - luma)).astype(np.uint8),
        (128.5 + 224 / 1.5748 * (image[..., 0] - luma)).astype(np.uint8),
    )


def _yuv(rgb: tuple[float, ...]) -> tuple[int, int, int]:
    """One colour (0..1 floats) in BT.709 limited range."""
    planes = _yuv_planes(np.array(rgb, np.float32).reshape(1, 1, 3))
    return int(planes.y[0, 0]), int(planes.u[0, 0]), int(planes.v[0, 0])


def _scene_sprites(
    look: Look, rng: np.random.Generator, width: int, height: int, ground_y: float
) -> list[_Sprite]:
    """A stand-in subject on the ground, and two out-of-focus mounds in the near corners."""
    near = np.array(look.palette[-1], np.float32) / 255
    unit = min(width, height)
    figure_h = round(0.3 * height if height > width else 0.36 * height)
    head = figure_h * 0.17
    figure = Image.new("L", (round(figure_h * 0.42) + 8, figure_h + 8))
    centre = figure.width / 2
    draw = ImageDraw.Draw(figure)
    draw.ellipse((centre - head / 2, 4, centre + head / 2, 4 + head), fill=255)
    body = (centre - figure_h * 0.17, 4 + head * 1.12, centre + figure_h * 0.17, 4 + figure_h)
    draw.rounded_rectangle(body, radius=figure_h * 0.08, fill=255)
    subject_x = rng.uniform(-0.15, 0.15) * width
    sprites = [_Sprite(_mask(figure, 1.2), subject_x, ground_y - figure_h / 2, _yuv(tuple(near * 0.35)), 1)]

    for side in (-1, 1):
        mound = Image.new("L", (round(0.34 * width), round(0.16 * height)))
        pad = round(0.04 * unit)
        ImageDraw.Draw(mound).ellipse((pad, pad, mound.width - pad, mound.height * 2), fill=255)
        centre_x = side * rng.uniform(0.42, 0.5) * width
        centre_y = 0.5 * height - 0.45 * mound.height
        sprites.append(_Sprite(_mask(mound, 0.02 * unit), centre_x, centre_y, _yuv(tuple(near * 0.22)), 2))
    return sprites


def _mask(shape: Image.Image, blur: float) -> np.ndarray:
    return np.asarray(shape.filter(ImageFilter.GaussianBlur(blur)))


def _canvas_size(width: int, height: int) -> tuple[int, int]:
    margin_x, margin_y = _even(width * CAMERA_MARGIN), _even(height * CAMERA_MARGIN)
    return width + 2 * margin_x, height + 2 * margin_y


# --- pictures: a reference image, or the last frame of a clip being extended


def _load_picture(path: Path, width: int, height: int) -> _Planes:
    """The image cover-fitted to width x height."""
    try:
        with Image.open(path, formats=tuple(IMAGE_MIMES)) as opened:
            if opened.width * opened.height > MAX_IMAGE_PIXELS:
                raise InvalidMedia(f"The reference image is too large ({opened.width}x{opened.height}).")
            image = ImageOps.exif_transpose(opened).convert("RGBA")
    except InvalidMedia:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidMedia(f"The reference image cannot be decoded ({exc}).") from exc
    backdrop = Image.new("RGBA", image.size, (24, 24, 28, 255))  # transparent parts become dark grey
    fitted = ImageOps.fit(Image.alpha_composite(backdrop, image).convert("RGB"), (width, height))
    frame = av.VideoFrame.from_image(fitted).reformat(
        format="yuv420p", dst_colorspace=Colorspace.ITU709, dst_color_range=LIMITED_RANGE
    )
    return _frame_planes(frame).copy()


def _picture_canvas(picture: _Planes) -> _Planes:
    """The picture in the middle of a dimmed, blurred copy of itself, so a zoom out has somewhere to go."""
    canvas_w, canvas_h = _canvas_size(picture.width, picture.height)
    left, top = (canvas_w - picture.width) // 2, (canvas_h - picture.height) // 2
    planes = []
    for plane, div, neutral, keep in (
        (picture.y, 1, 16, 0.5),
        (picture.u, 2, 128, 0.7),
        (picture.v, 2, 128, 0.7),
    ):
        small = Image.fromarray(np.ascontiguousarray(plane)).reduce(8).filter(ImageFilter.GaussianBlur(2))
        surround = np.asarray(small.resize((canvas_w // div, canvas_h // div), Image.Resampling.BILINEAR))
        surround = (neutral + (surround.astype(np.float32) - neutral) * keep).astype(np.uint8)
        rows, cols = plane.shape
        surround[top // div : top // div + rows, left // div : left // div + cols] = plane
        planes.append(surround)
    return _Planes(*planes)


def _reference_frames(path: Path, motion: str, total: int, width: int, height: int) -> Iterator[_Planes]:
    canvas = _picture_canvas(_load_picture(path, width, height))  # here, so it loads on the drawing thread
    yield from _picture_frames(canvas, motion, total, width, height)


def _picture_frames(
    canvas: _Planes, motion: str, total: int, width: int, height: int, grade: _Grade | None = None
) -> Iterator[_Planes]:
    ramp = FPS // 2  # the grade fades in over half a second, so an extension flows on from its source
    for index in range(total):
        frame = _draw_canvas(
            canvas, _picture_view(motion, _ease(index / max(1, total - 1)), width, height), width, height
        )
        if grade is not None:
            grade.apply(frame, strength=min(1.0, (index + 1) / ramp))
        yield frame


# --- source videos: restyle and extend


def _source_frames(path: Path, total: int, width: int, height: int) -> Iterator[_Planes]:
    """`total` frames at FPS from a video of any rate and size, cover-fitted to width x height."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            decoded = _timed_frames(container.decode(stream))
            current = next(decoded, None)
            if current is None:
                raise InvalidMedia("The source video has no frames that can be decoded.")
            upcoming = next(decoded, None)
            for index in range(total):
                while upcoming is not None and upcoming[0] <= index / FPS + 1e-6:
                    current, upcoming = upcoming, next(decoded, None)
                yield _fit_frame(current[1], width, height)
    except av.FFmpegError as exc:
        raise InvalidMedia(f"The source video cannot be decoded ({exc}).") from exc


def _timed_frames(frames: Iterator[av.VideoFrame]) -> Iterator[tuple[float, av.VideoFrame]]:
    start: float | None = None
    for count, frame in enumerate(frames):
        moment = frame.time if frame.time is not None else count / FPS
        start = moment if start is None else start
        yield moment - start, frame


def _fit_frame(source: av.VideoFrame, width: int, height: int) -> _Planes:
    """A decoded frame cover-fitted into a frame of our own (never the decoder's buffers)."""
    scale = max(width / source.width, height / source.height)
    fit_w = max(width, 2 * math.ceil(source.width * scale / 2))
    fit_h = max(height, 2 * math.ceil(source.height * scale / 2))
    fitted = source.reformat(width=fit_w, height=fit_h, format="yuv420p")
    planes = _frame_planes(fitted).crop((fit_w - width) // 4 * 2, (fit_h - height) // 4 * 2, width, height)
    # When nothing needed scaling, reformat hands back the decoder's frame, which it may still refer to.
    return planes.copy() if fitted is source else planes


def _restyled_frames(path: Path, total: int, look: Look, width: int, height: int) -> Iterator[_Planes]:
    grade = _Grade(look.palette)
    for frame in _source_frames(path, total, width, height):
        yield grade.apply(frame)


def _extended_frames(
    path: Path, source_total: int, new_total: int, look: Look, width: int, height: int
) -> Iterator[_Planes]:
    last = None
    for last in _source_frames(path, source_total, width, height):
        yield last
    assert last is not None
    canvas = _picture_canvas(last)
    yield from _picture_frames(canvas, look.motion, new_total, width, height, grade=_Grade(look.palette))


class _Grade:
    """A colour grade toward the palette: each pixel's brightness picks a palette colour, dark to light."""

    def __init__(
        self,
        palette: tuple[tuple[int, int, int], ...],
        luma_strength: float = 0.3,
        chroma_strength: float = 0.6,
    ) -> None:
        stops = sorted((_yuv(tuple(c / 255 for c in rgb)) for rgb in palette), key=lambda yuv: yuv[0])
        positions = np.linspace(16, 235, len(stops))
        self.target = [np.interp(np.arange(256), positions, [s[i] for s in stops]) for i in range(3)]
        self.luma_strength, self.chroma_strength = luma_strength, chroma_strength

    def apply(self, frame: _Planes, strength: float = 1.0) -> _Planes:
        levels = np.arange(256)
        luma = np.round(levels + (self.target[0] - levels) * self.luma_strength * strength).astype(np.uint8)
        keep = math.floor(256 * (1 - self.chroma_strength * strength))
        # Chroma follows the brightness of the pixel it sits on (the top-left luma of its 2x2 block).
        brightness = frame.y[::2, ::2]
        for plane, target in ((frame.u, self.target[1]), (frame.v, self.target[2])):
            pull = np.round(target * (256 - keep) + 128).astype(np.uint16)
            plane[...] = (plane * np.uint16(keep) + np.take(pull, brightness)) >> 8  # take: faster than []
        frame.y[...] = np.take(luma, frame.y)
        return frame


# --------------------------------------------------------------------------------------------- caption


class _FrameOverlay:
    """The caption band, the previz tag and a progress line, pre-rendered once and blended per frame."""

    def __init__(self, prompt: str, look: Look, width: int, height: int, *, over_source: bool = False) -> None:
        """`over_source`: the frames come from an earlier clip whose own caption must not show through."""
        self.width, self.height = width, height
        font_size = max(12, round(min(width, height) * 0.038))
        font = _font("DejaVuSans.ttf", font_size)
        ascent, descent = font.getmetrics()
        line_height = round((ascent + descent) * 1.15)
        pad = round(font_size * 0.6)
        lines = _wrap_caption(prompt, font, width - 4 * pad)
        slots = max(len(lines), 2) if over_source else len(lines)  # as tall as the tallest old caption
        band_h = min(height, _even(2 * pad + line_height * slots))
        text = Image.new("L", (width, band_h))
        draw = ImageDraw.Draw(text)
        first_line = pad + (slots - len(lines)) * line_height / 2
        for i, line in enumerate(lines):
            draw.text((width / 2, first_line + i * line_height), line, fill=255, font=font, anchor="ma")
        back = np.full((band_h, width), 0.97 if over_source else 0.58, np.float32)
        self.band = _Overlay.build(back, np.asarray(text) / 255, left=0, top=height - band_h)

        tag_font = _font("DejaVuSans-Bold.ttf", max(10, round(font_size * 0.62)))
        tag_pad = round(font_size * 0.35)
        box = tag_font.getbbox(TAG_TEXT)
        tag_w, tag_h = _even(box[2] + 2 * tag_pad), _even(box[3] + 2 * tag_pad)
        pill, tag = Image.new("L", (tag_w, tag_h)), Image.new("L", (tag_w, tag_h))
        ImageDraw.Draw(pill).rounded_rectangle((0, 0, tag_w - 1, tag_h - 1), radius=tag_h // 2, fill=140)
        ImageDraw.Draw(tag).text((tag_pad, tag_pad), TAG_TEXT, fill=230, font=tag_font)
        inset = _even(pad)
        self.tag = _Overlay.build(np.asarray(pill) / 255, np.asarray(tag) / 255, left=inset, top=inset)

        accent = np.array(look.palette[1], np.float32) / 255
        self.line_colour = _yuv(tuple(accent + (1 - accent) * 0.5))
        self.line_h = max(2, _even(height / 240))

    def apply(self, frame: _Planes, progress: float) -> None:
        self.band.apply(frame)
        self.tag.apply(frame)
        # The progress line grows every frame, so even a locked-off shot never repeats a frame.
        reach = _even(progress * self.width)
        if reach:
            frame.y[self.height - self.line_h :, :reach] = self.line_colour[0]
            frame.u[(self.height - self.line_h) // 2 :, : reach // 2] = self.line_colour[1]
            frame.v[(self.height - self.line_h) // 2 :, : reach // 2] = self.line_colour[2]


@dataclass(frozen=True)
class _Overlay:
    """A dark backing and white text, stored as plane = (plane * mul + add) >> 8 for luma and chroma."""

    left: int
    top: int
    luma_mul: np.ndarray
    luma_add: np.ndarray
    chroma_mul: np.ndarray
    chroma_add: np.ndarray

    @staticmethod
    def build(back: np.ndarray, text: np.ndarray, left: int, top: int) -> _Overlay:
        back_c, text_c = _halve(back), _halve(text)

        def weight(values: np.ndarray) -> np.ndarray:
            return np.floor(values * 256).astype(np.uint16)  # rounded down, so sums stay within uint16

        def offset(values: np.ndarray) -> np.ndarray:
            return np.round(values * 256 + 128).astype(np.uint16)

        # Black (Y 16) over the picture, then white (Y 235) text over that; both have neutral chroma.
        return _Overlay(
            left,
            top,
            weight((1 - back) * (1 - text)),
            offset(16 * back * (1 - text) + 235 * text),
            weight((1 - back_c) * (1 - text_c)),
            offset(128 * (back_c * (1 - text_c) + text_c)),
        )

    def apply(self, frame: _Planes) -> None:
        for plane, mul, add, div in (
            (frame.y, self.luma_mul, self.luma_add, 1),
            (frame.u, self.chroma_mul, self.chroma_add, 2),
            (frame.v, self.chroma_mul, self.chroma_add, 2),
        ):
            top, left = self.top // div, self.left // div
            region = plane[top : top + mul.shape[0], left : left + mul.shape[1]]  # cut short in a tiny frame
            rows, cols = region.shape
            region[...] = (region * mul[:rows, :cols] + add[:rows, :cols]) >> 8


def _halve(values: np.ndarray) -> np.ndarray:
    h, w = values.shape
    return values.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def _wrap_caption(
    prompt: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, max_width: int, max_lines: int = 2
) -> list[str]:
    """Greedy word wrap to at most `max_lines`; a longer prompt ends its last line with '…'."""

    def fits(text: str) -> bool:
        return font.getlength(text) <= max_width

    lines: list[str] = []
    current = ""
    for word in prompt.split():
        candidate = f"{current} {word}" if current else word
        if fits(candidate):
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word
        while not fits(current) and len(lines) < max_lines:  # a word wider than the line is cut
            cut = _longest_fitting_prefix(current[: max_width + 1], fits)  # no glyph is under 1 px
            lines.append(current[:cut])
            current = current[cut:]
        if len(lines) >= max_lines:
            break
    else:
        return [*lines, current] if current or not lines else lines
    last = lines[max_lines - 1]
    if not fits(last + "…"):
        while last and not fits(last + "…"):
            last = last[:-1]
        if " " in last:
            last = last.rsplit(" ", 1)[0]  # end on a whole word
    return [*lines[: max_lines - 1], last.rstrip() + "…"]


def _longest_fitting_prefix(text: str, fits: Callable[[str], bool]) -> int:
    low, high = 1, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if fits(text[:middle]):
            low = middle
        else:
            high = middle - 1
    return low


@lru_cache(maxsize=8)
def _font_path(name: str) -> str | None:
    try:
        return str(ImageFont.truetype(name, 12).path)
    except OSError:
        return None


def _font(name: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # A fresh font object per render: FreeType faces must not be shared between threads.
    path = _font_path(name)
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size)


# --------------------------------------------------------------------------------------------- audio


def _synth_audio(look: Look, samples: int) -> np.ndarray:
    """A soft pad: root, fifth and octave under a slow swell; bright looks sit an octave higher."""
    t = np.arange(samples, dtype=np.float64) / AUDIO_RATE
    brightness = float(np.mean(look.palette)) / 255
    semitone = (0, 3, 5, 7, 10)[look.seed % 5] + (12 if brightness > 0.55 else 0)
    semitone -= 5 if look.time_of_day == "night" else 0
    root = 110.0 * 2 ** (semitone / 12)
    swell = 0.8 + 0.2 * np.sin(2 * math.pi * 0.2 * t + (look.seed >> 8) % 7)
    channels = []
    for detune in (0.9985, 1.0015):  # a slight detune between the ears makes it wide
        partials = ((1, 0.5), (1.5, 0.22), (2, 0.16), (3, 0.05))
        wave = sum(level * np.sin(2 * math.pi * root * ratio * detune * t) for ratio, level in partials)
        channels.append(wave * swell * 0.3)
    audio = np.array(channels, np.float32)
    _fade_ends(audio, min(round(0.3 * AUDIO_RATE), samples // 4))
    return audio


def _fade_ends(audio: np.ndarray, length: int) -> None:
    if length > 0:
        ramp = np.linspace(0, 1, length, dtype=np.float32)
        audio[:, :length] *= ramp
        audio[:, -length:] *= ramp[::-1]


def _source_audio(path: Path, info: MediaInfo, look: Look, samples: int) -> np.ndarray:
    """The source's sound as 48 kHz stereo, cut or padded to `samples`; a synthesized pad if it has none."""
    if not info.has_audio:
        return _synth_audio(look, samples)
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
    chunks: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(audio=0):
                chunks.extend(f.to_ndarray() for f in resampler.resample(frame))
            chunks.extend(f.to_ndarray() for f in resampler.resample(None))
    except av.FFmpegError as exc:
        raise InvalidMedia(f"The source video's sound cannot be decoded ({exc}).") from exc
    audio = np.zeros((2, samples), np.float32)
    if chunks:
        decoded = np.concatenate(chunks, axis=1)[:, :samples]
        audio[:, : decoded.shape[1]] = decoded
    _fade_ends(audio, min(round(0.01 * AUDIO_RATE), samples // 4))  # no click where it was cut
    return audio


def _crossfade(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    length = min(round(0.25 * AUDIO_RATE), first.shape[1], second.shape[1])
    joined = np.concatenate([first, second], axis=1)
    if length:
        ramp = np.linspace(0, 1, length, dtype=np.float32)
        seam = first.shape[1]
        joined[:, seam - length : seam] *= ramp[::-1]
        joined[:, seam : seam + length] *= ramp
    return joined


# --------------------------------------------------------------------------------------------- output


class _Mp4Writer:
    """H.264 + AAC into a faststart MP4. The audio is made and encoded on a thread of its own."""

    def __init__(self, path: Path, width: int, height: int, audio: Callable[[], np.ndarray]) -> None:
        self.container = av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"})
        self.video = self.container.add_stream(
            "libx264", rate=FPS, options={"preset": "ultrafast", "crf": "23"}
        )
        self.video.width, self.video.height, self.video.pix_fmt = width, height, "yuv420p"
        codec = self.video.codec_context
        codec.colorspace = codec.color_primaries = codec.color_trc = BT709
        codec.color_range = LIMITED_RANGE
        self.sound = self.container.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
        self.sound.bit_rate = 128_000
        self.container.start_encoding()  # opens both encoders here, before the audio thread uses one
        self.count = 0
        self.audio_packets: queue.SimpleQueue[av.Packet | None] = queue.SimpleQueue()
        self.audio_error: BaseException | None = None
        self.audio_done = False
        self.stopping = threading.Event()
        self.audio_thread = threading.Thread(
            target=self._encode_audio, args=(audio,), name="localsora-audio", daemon=True
        )
        self.audio_thread.start()

    def _encode_audio(self, make_audio: Callable[[], np.ndarray]) -> None:
        # PyAV lets go of the GIL while encoding, so this runs alongside the drawing and x264.
        try:
            audio = make_audio()
            step = self.sound.codec_context.frame_size or 1024
            for start in range(0, audio.shape[1], step):
                if self.stopping.is_set():
                    return
                frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(audio[:, start : start + step]), format="fltp", layout="stereo"
                )
                frame.sample_rate, frame.pts, frame.time_base = AUDIO_RATE, start, Fraction(1, AUDIO_RATE)
                for packet in self.sound.encode(frame):
                    self.audio_packets.put(packet)
            for packet in self.sound.encode(None):
                self.audio_packets.put(packet)
        except BaseException as exc:  # handed to the rendering thread, which raises it
            self.audio_error = exc
        finally:
            self.audio_packets.put(None)

    def add(self, frame: _Planes) -> None:
        picture = frame.video_frame()
        picture.pts, picture.time_base = self.count, Fraction(1, FPS)
        self.container.mux(self.video.encode(picture))
        self.count += 1
        self._mux_audio(wait=False)

    def _mux_audio(self, wait: bool) -> None:
        """Mux the audio packets ready so far (all of them when `wait`); the muxer interleaves by time."""
        while not self.audio_done:
            try:
                packet = self.audio_packets.get(block=wait)
            except queue.Empty:
                return
            if packet is None:
                self.audio_done = True
            else:
                self.container.mux(packet)

    def finish(self) -> None:
        self.container.mux(self.video.encode(None))
        self.audio_thread.join()
        self._mux_audio(wait=True)
        if self.audio_error is not None:
            raise self.audio_error
        self.container.close()

    def abort(self) -> None:
        self.stopping.set()
        self.audio_thread.join()
        # The half-written file is deleted next, so a failure to close it cleanly changes nothing.
        with contextlib.suppress(Exception):
            self.container.close()


class _Stills:
    """The thumbnail and the spritesheet, made on the drawing thread from frames as they go by."""

    def __init__(self, total: int) -> None:
        tiles = min(SPRITE_TILES, total)
        self.sheet_indices = {round(i * (total - 1) / max(1, tiles - 1)) for i in range(tiles)}
        self.thumbnail_index = total // 2
        self.tiles: list[Image.Image] = []
        self.thumbnail = b""
        self.spritesheet = b""

    def take(self, index: int, frame: _Planes) -> None:
        if index in self.sheet_indices:
            self.tiles.append(_to_image(frame, SPRITE_TILE_LONG_SIDE))
        if index == self.thumbnail_index:
            # method 0 is WebP's fastest effort: a third of the default's time, for a barely larger file.
            self.thumbnail = _encoded(_to_image(frame, THUMBNAIL_LONG_SIDE), "WEBP", quality=82, method=0)

    def finish(self) -> None:
        columns = min(SPRITE_COLUMNS, len(self.tiles))
        tile_w, tile_h = self.tiles[0].size
        sheet = Image.new("RGB", (columns * tile_w, math.ceil(len(self.tiles) / columns) * tile_h))
        for i, tile in enumerate(self.tiles):
            sheet.paste(tile, ((i % columns) * tile_w, (i // columns) * tile_h))
        self.spritesheet = _encoded(sheet, "JPEG", quality=80)


def _to_image(frame: _Planes, long_side: int) -> Image.Image:
    scale = long_side / max(frame.width, frame.height)
    width, height = max(2, _even(frame.width * scale)), max(2, _even(frame.height * scale))
    rgb = frame.video_frame().reformat(
        width=width, height=height, format="rgb24", src_colorspace=Colorspace.ITU709, interpolation="AREA"
    )
    return rgb.to_image()


def _encoded(image: Image.Image, format: str, **options: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()
