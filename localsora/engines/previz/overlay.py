"""The previz caption: the prompt in a band at the foot of every new frame, a "localsora previz" tag, and a
progress line, pre-rendered once per clip and blended into the planes in integer maths."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from localsora.engines.previz.look import Look
from localsora.frames import Planes, even, yuv

TAG_TEXT = "localsora previz"


class FrameOverlay:
    """The caption band, the previz tag and a progress line, pre-rendered once and blended per frame."""

    def __init__(self, prompt: str, look: Look, width: int, height: int, *, over_source: bool = False) -> None:
        """`over_source`: the frames come from an earlier clip whose own caption must not show through."""
        self.width, self.height = width, height
        font_size = max(12, round(min(width, height) * 0.038))
        font = _font("DejaVuSans.ttf", font_size)
        ascent, descent = font.getmetrics()
        line_height = round((ascent + descent) * 1.15)
        pad = round(font_size * 0.6)
        lines = wrap_caption(prompt, font, width - 4 * pad)
        slots = max(len(lines), 2) if over_source else len(lines)  # as tall as the tallest old caption
        band_h = min(height, even(2 * pad + line_height * slots))
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
        tag_w, tag_h = even(box[2] + 2 * tag_pad), even(box[3] + 2 * tag_pad)
        pill, tag = Image.new("L", (tag_w, tag_h)), Image.new("L", (tag_w, tag_h))
        ImageDraw.Draw(pill).rounded_rectangle((0, 0, tag_w - 1, tag_h - 1), radius=tag_h // 2, fill=140)
        ImageDraw.Draw(tag).text((tag_pad, tag_pad), TAG_TEXT, fill=230, font=tag_font)
        inset = even(pad)
        self.tag = _Overlay.build(np.asarray(pill) / 255, np.asarray(tag) / 255, left=inset, top=inset)

        accent = np.array(look.palette[1], np.float32) / 255
        self.line_colour = yuv(tuple(accent + (1 - accent) * 0.5))
        self.line_h = max(2, even(height / 240))

    def apply(self, frame: Planes, progress: float) -> None:
        self.band.apply(frame)
        self.tag.apply(frame)
        # The progress line grows every frame, so even a locked-off shot never repeats a frame.
        reach = even(progress * self.width)
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

    def apply(self, frame: Planes) -> None:
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


def wrap_caption(
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
