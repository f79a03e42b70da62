"""The previz camera: how each layer of a scene, or a still picture, moves for the prompt's camera words."""

from __future__ import annotations

import math
from dataclasses import dataclass

from av.video.reformatter import Interpolation

from localsora.frames import Planes, clamp, even, frame_planes

# Share of the frame size the camera may travel past each edge.
CAMERA_MARGIN = 0.1


@dataclass(frozen=True)
class View:
    """Where a layer lands on screen: scaled about the frame centre, then shifted, in output pixels."""

    dx: float = 0.0
    dy: float = 0.0
    scale: float = 1.0


def ease(progress: float) -> float:
    # Half linear, half smoothstep: the move starts and lands softly but never stalls.
    return 0.5 * progress + 0.5 * progress * progress * (3 - 2 * progress)


# Per depth (0 background, 1 subject, 2 foreground): how far each layer travels, for parallax.
_PAN_DEPTH = (1.0, 1.4, 1.9)
_ORBIT_DEPTH = (1.0, 0.0, -0.9)  # circling the subject: the world behind and in front move apart
_DOLLY_DEPTH = (0.12, 0.3, 0.65)


def scene_view(motion: str, eased: float, depth: int, reach_x: float, reach_y: float) -> View:
    sweep = 2 * eased - 1
    if motion in ("pan_right", "pan_left"):
        sign = -1 if motion == "pan_right" else 1  # the camera turns right, so the world slides left
        return View(dx=sign * reach_x * sweep * _PAN_DEPTH[depth])
    if motion in ("tilt_up", "tilt_down"):
        sign = 1 if motion == "tilt_up" else -1
        return View(dy=sign * reach_y * sweep * _PAN_DEPTH[depth])
    if motion in ("zoom_in", "zoom_out"):
        amount = eased if motion == "zoom_in" else 1 - eased
        return View(scale=1 + 0.3 * amount)  # a lens zoom: every layer grows alike
    if motion in ("dolly_in", "dolly_out"):
        amount = eased if motion == "dolly_in" else 1 - eased
        return View(scale=1 + _DOLLY_DEPTH[depth] * amount)  # near things grow faster
    if motion == "orbit":
        return View(dx=-reach_x * sweep * _ORBIT_DEPTH[depth], scale=1 + 0.04 * math.sin(math.pi * eased))
    return View()


def picture_view(motion: str, eased: float, width: int, height: int) -> View:
    """Ken Burns moves over a still; each starts on the whole picture, so an extension joins up."""
    if motion in ("zoom_out", "dolly_out"):
        return View(scale=1 / (1 + 2 * CAMERA_MARGIN * eased))  # reveals the blurred surround
    if motion in ("zoom_in", "dolly_in"):
        return View(scale=1 + 0.25 * eased)
    if motion == "static":
        return View()
    scale = 1 + 0.15 * eased
    slack_x, slack_y = width * (scale - 1) / 2, height * (scale - 1) / 2  # travel that keeps edges covered
    if motion == "pan_right":
        return View(dx=-slack_x, scale=scale)
    if motion == "pan_left":
        return View(dx=slack_x, scale=scale)
    if motion == "tilt_up":
        return View(dy=slack_y, scale=scale)
    if motion == "tilt_down":
        return View(dy=-slack_y, scale=scale)
    return View(dx=slack_x * math.sin(2 * math.pi * eased), scale=scale)  # orbit: swing across and back


def draw_canvas(canvas: Planes, view: View, width: int, height: int) -> Planes:
    """A new frame showing the part of the canvas the view sees."""
    if abs(view.scale - 1) < 1e-6:
        left = clamp(round((canvas.width - width) / 2 - view.dx), 0, canvas.width - width)
        top = clamp(round((canvas.height - height) / 2 - view.dy), 0, canvas.height - height)
        return canvas.crop(left, top, width, height).copy()
    left, source_w, scaled_w = _axis(canvas.width / 2 - view.dx / view.scale, width, view.scale, canvas.width)
    top, source_h, scaled_h = _axis(
        canvas.height / 2 - view.dy / view.scale, height, view.scale, canvas.height
    )
    source = canvas.crop(left, top, source_w, source_h).video_frame()
    scaled = source.reformat(width=scaled_w, height=scaled_h, interpolation=Interpolation.BILINEAR, threads=1)
    return frame_planes(scaled).crop((scaled_w - width) // 2, (scaled_h - height) // 2, width, height)


def _axis(centre: float, size: int, scale: float, limit: int) -> tuple[int, int, int]:
    """Along one axis: (start, source size, output size) for scaling the canvas about `centre` by `scale`.

    swscale maps whole source pixels onto whole output pixels, so its scale is a ratio of two sizes.
    Letting the output run a few pixels past the frame (cropped off after) gives much finer ratios, so
    slow zooms do not stutter. Sizes are even, and so is the overrun on each side, for the chroma planes.
    """
    best: tuple[float, int, int, int] | None = None
    for extra in range(0, 20, 4):
        output = size + extra
        source = max(2, even(output / scale))
        start = round(centre - source / 2)
        if start < 0 or start + source > limit:
            continue  # clamping it would shift the picture
        error = abs(output / source - scale)
        if best is None or error < best[0]:
            best = (error, start, source, output)
    if best is None:  # even the exact box leaves the canvas: clamp it
        source = min(limit - limit % 2, max(2, even(size / scale)))
        return clamp(round(centre - source / 2), 0, limit - source), source, size
    return best[1], best[2], best[3]


def canvas_size(width: int, height: int) -> tuple[int, int]:
    margin_x, margin_y = even(width * CAMERA_MARGIN), even(height * CAMERA_MARGIN)
    return width + 2 * margin_x, height + 2 * margin_y
