"""What previz draws: a landscape with a stand-in subject, a still picture brought to life, or a source clip
re-graded toward the prompt's palette (remix, edit) and carried on past its end (extend)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from localsora.engines.previz.camera import (
    View,
    canvas_size,
    draw_canvas,
    ease,
    picture_view,
    scene_view,
)
from localsora.engines.previz.look import Look
from localsora.frames import Planes, clamp, scaled_plane, yuv, yuv_planes
from localsora.media import load_picture, source_frames

FPS = 24


@dataclass(frozen=True)
class _Sprite:
    """A soft flat-coloured silhouette that moves with its own depth (parallax)."""

    alpha: np.ndarray  # uint8 coverage at scale 1
    centre_x: float  # relative to the frame centre, at scale 1
    centre_y: float
    colour: tuple[int, int, int]  # Y, U, V
    depth: int


def scene_frames(look: Look, total: int, width: int, height: int) -> Iterator[Planes]:
    canvas, sprites = _build_scene(look, width, height)
    reach_x, reach_y = (canvas.width - width) / 2, (canvas.height - height) / 2
    for index in range(total):
        eased = ease(index / max(1, total - 1))
        frame = draw_canvas(canvas, scene_view(look.motion, eased, 0, reach_x, reach_y), width, height)
        for sprite in sprites:
            _draw_sprite(frame, sprite, scene_view(look.motion, eased, sprite.depth, reach_x, reach_y))
        yield frame


def _draw_sprite(frame: Planes, sprite: _Sprite, view: View) -> None:
    mask = sprite.alpha
    if abs(view.scale - 1) > 1e-3:
        mask = scaled_plane(
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


def _build_scene(look: Look, width: int, height: int) -> tuple[Planes, list[_Sprite]]:
    """Paint sky, sun or moon, clouds, stars and two ridges, once per clip.

    It is painted at chroma resolution (it is all soft) and each effect only touches its own region.
    """
    rng = np.random.default_rng(look.seed)
    canvas_w, canvas_h = canvas_size(width, height)
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
    y0, y1 = clamp(int(sun_y - reach), 0, h), clamp(int(sun_y + reach) + 1, 0, h)
    x0, x1 = clamp(int(sun_x - reach), 0, w), clamp(int(sun_x + reach) + 1, 0, w)
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
        r0, r1 = clamp(int(cy - 3 * sy), 0, h), clamp(int(cy + 3 * sy) + 1, 0, h)
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
        top = clamp(int(ridge.min()), 0, h)
        cover = np.clip(rows[top:] - ridge + 0.5, 0, 1)
        land = colour * (1 - shade * np.clip((rows[top:] - base) / (h - base), 0, 1))[..., None]
        region = image[top:]
        region += cover[..., None] * (land - region)

    planes = yuv_planes(image)
    canvas = Planes(np.array(scaled_plane(planes.y, canvas_w, canvas_h)), planes.u, planes.v)
    ground_y = (horizon * 2 - canvas_h / 2) + 0.1 * height  # frame-centre coordinates, full resolution
    return canvas, _scene_sprites(look, rng, width, height, ground_y)


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
    sprites = [_Sprite(_mask(figure, 1.2), subject_x, ground_y - figure_h / 2, yuv(tuple(near * 0.35)), 1)]

    for side in (-1, 1):
        mound = Image.new("L", (round(0.34 * width), round(0.16 * height)))
        pad = round(0.04 * unit)
        ImageDraw.Draw(mound).ellipse((pad, pad, mound.width - pad, mound.height * 2), fill=255)
        centre_x = side * rng.uniform(0.42, 0.5) * width
        centre_y = 0.5 * height - 0.45 * mound.height
        sprites.append(_Sprite(_mask(mound, 0.02 * unit), centre_x, centre_y, yuv(tuple(near * 0.22)), 2))
    return sprites


def _mask(shape: Image.Image, blur: float) -> np.ndarray:
    return np.asarray(shape.filter(ImageFilter.GaussianBlur(blur)))


def picture_canvas(picture: Planes) -> Planes:
    """The picture in the middle of a dimmed, blurred copy of itself, so a zoom out has somewhere to go."""
    canvas_w, canvas_h = canvas_size(picture.width, picture.height)
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
    return Planes(*planes)


def reference_frames(path: Path, motion: str, total: int, width: int, height: int) -> Iterator[Planes]:
    canvas = picture_canvas(load_picture(path, width, height))  # here, so it loads on the drawing thread
    yield from picture_frames(canvas, motion, total, width, height)


def picture_frames(
    canvas: Planes, motion: str, total: int, width: int, height: int, grade: Grade | None = None
) -> Iterator[Planes]:
    ramp = FPS // 2  # the grade fades in over half a second, so an extension flows on from its source
    for index in range(total):
        frame = draw_canvas(
            canvas, picture_view(motion, ease(index / max(1, total - 1)), width, height), width, height
        )
        if grade is not None:
            grade.apply(frame, strength=min(1.0, (index + 1) / ramp))
        yield frame


def restyled_frames(path: Path, total: int, look: Look, width: int, height: int, fps: int = FPS) -> Iterator[Planes]:
    grade = Grade(look.palette)
    for frame in source_frames(path, total, width, height, fps):
        yield grade.apply(frame)


def extended_frames(
    path: Path, source_total: int, new_total: int, look: Look, width: int, height: int, fps: int = FPS
) -> Iterator[Planes]:
    last = None
    for last in source_frames(path, source_total, width, height, fps):
        yield last
    assert last is not None
    canvas = picture_canvas(last)
    yield from picture_frames(canvas, look.motion, new_total, width, height, grade=Grade(look.palette))


class Grade:
    """A colour grade toward the palette: each pixel's brightness picks a palette colour, dark to light."""

    def __init__(
        self,
        palette: tuple[tuple[int, int, int], ...],
        luma_strength: float = 0.3,
        chroma_strength: float = 0.6,
    ) -> None:
        stops = sorted((yuv(tuple(c / 255 for c in rgb)) for rgb in palette), key=lambda yuv: yuv[0])
        positions = np.linspace(16, 235, len(stops))
        self.target = [np.interp(np.arange(256), positions, [s[i] for s in stops]) for i in range(3)]
        self.luma_strength, self.chroma_strength = luma_strength, chroma_strength

    def apply(self, frame: Planes, strength: float = 1.0) -> Planes:
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
