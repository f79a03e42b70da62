"""Read a prompt and decide the look of a previz clip: its palette, camera motion and time of day.

Pure text rules, no model: colour words and time of day set the palette, camera words set the motion.
Everything that varies without being asked for comes from `Look.seed`, a stable hash of the prompt and the
job's seed.
"""

from __future__ import annotations

import colorsys
import hashlib
import re
from dataclasses import dataclass

RGB = tuple[int, int, int]

MOTIONS = (
    "static",
    "pan_left",
    "pan_right",
    "tilt_up",
    "tilt_down",
    "zoom_in",
    "zoom_out",
    "dolly_in",
    "dolly_out",
    "orbit",
)
TIMES_OF_DAY = ("dawn", "morning", "noon", "golden hour", "sunset", "dusk", "night")
DEFAULT_MOTION = "dolly_in"


@dataclass(frozen=True)
class Look:
    palette: tuple[RGB, ...]  # sky-to-ground: sky top, horizon, far land, near ground
    motion: str
    time_of_day: str | None
    seed: int


# Base palettes, sky top -> horizon -> far land -> near ground.
TIME_PALETTES: dict[str, tuple[RGB, ...]] = {
    "dawn": ((92, 104, 168), (246, 178, 160), (128, 110, 140), (58, 52, 76)),
    "morning": ((110, 170, 230), (214, 232, 246), (120, 160, 120), (62, 96, 64)),
    "noon": ((52, 128, 222), (178, 214, 246), (112, 168, 92), (70, 120, 56)),
    "golden hour": ((222, 160, 88), (255, 214, 140), (176, 130, 70), (96, 66, 36)),
    "sunset": ((88, 64, 140), (252, 128, 72), (140, 62, 70), (54, 30, 44)),
    "dusk": ((32, 40, 92), (170, 104, 140), (68, 56, 96), (28, 26, 46)),
    "night": ((8, 12, 36), (30, 44, 86), (20, 28, 52), (10, 12, 24)),
}

# Words for a time of day. Longer phrases are matched (and blanked) first, so "golden hour" is not "gold".
TIME_WORDS: dict[str, str] = {
    "golden hour": "golden hour",
    "magic hour": "golden hour",
    "sunrise": "dawn",
    "daybreak": "dawn",
    "dawn": "dawn",
    "morning": "morning",
    "noon": "noon",
    "midday": "noon",
    "daylight": "noon",
    "sunset": "sunset",
    "sundown": "sunset",
    "dusk": "dusk",
    "twilight": "dusk",
    "evening": "dusk",
    "blue hour": "dusk",
    "night": "night",
    "midnight": "night",
    "nighttime": "night",
    "moonlight": "night",
    "moonlit": "night",
}

COLOUR_WORDS: dict[str, RGB] = {
    "red": (208, 40, 44),
    "crimson": (180, 20, 50),
    "scarlet": (230, 36, 30),
    "orange": (246, 128, 30),
    "amber": (255, 176, 0),
    "gold": (232, 184, 48),
    "golden": (232, 184, 48),
    "yellow": (250, 220, 50),
    "green": (52, 168, 72),
    "emerald": (20, 150, 100),
    "teal": (0, 128, 128),
    "turquoise": (48, 208, 200),
    "cyan": (0, 200, 230),
    "aqua": (0, 220, 220),
    "blue": (40, 92, 220),
    "azure": (40, 140, 240),
    "navy": (16, 30, 96),
    "purple": (128, 50, 170),
    "violet": (140, 80, 220),
    "lavender": (180, 160, 230),
    "magenta": (220, 30, 160),
    "pink": (246, 140, 180),
    "white": (246, 246, 246),
    "black": (14, 14, 16),
    "grey": (128, 128, 132),
    "gray": (128, 128, 132),
    "silver": (192, 196, 204),
    "brown": (124, 80, 46),
}
NEON_COLOURS: tuple[RGB, ...] = ((255, 40, 200), (0, 240, 255))
MONOCHROME_PHRASES = ("black and white", "black & white", "b&w", "monochrome", "grayscale", "greyscale")

# Camera phrases. Where two start at the same place, the earlier (more specific) one wins.
MOTION_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"pan(?:s|ning|ned)?\s+(?:to\s+(?:the\s+)?)?left", "pan_left"),
    (r"pan(?:s|ning|ned)?\s+(?:to\s+(?:the\s+)?)?right", "pan_right"),
    (r"pan(?:s|ning|ned)?", "pan_right"),
    (r"tilt(?:s|ing|ed)?\s+down", "tilt_down"),
    (r"tilt(?:s|ing|ed)?(?:\s+up)?", "tilt_up"),
    (r"zoom(?:s|ing|ed)?\s+out", "zoom_out"),
    (r"zoom(?:s|ing|ed)?(?:\s+in)?", "zoom_in"),
    (r"push(?:es|ing|ed)?\s+in", "zoom_in"),
    (r"pull(?:s|ing|ed)?\s+(?:out|back)", "zoom_out"),
    (r"dolly(?:ing)?\s+out", "dolly_out"),
    (r"dolly(?:ing)?(?:\s+in)?", "dolly_in"),
    (r"tracking\s+shot", "dolly_in"),
    (r"orbit(?:s|ing|ed)?", "orbit"),
    (r"arc\s+shot", "orbit"),
    (r"360", "orbit"),
    (r"static(?:\s+shot)?", "static"),
    (r"locked[-\s]off", "static"),
    (r"tripod", "static"),
)
_MOTION_RES = tuple((re.compile(rf"(?<!\w){p}(?!\w)", re.IGNORECASE), m) for p, m in MOTION_PATTERNS)


def _word_re(phrase: str) -> re.Pattern[str]:
    # Whole words only: "redwood" is not "red", but "blue-green" is blue and green.
    return re.compile(rf"(?<!\w){re.escape(phrase)}(?!\w)", re.IGNORECASE)


_TIME_RES = tuple((_word_re(w), t) for w, t in sorted(TIME_WORDS.items(), key=lambda kv: -len(kv[0])))
_COLOUR_RES = tuple((_word_re(w), rgb) for w, rgb in COLOUR_WORDS.items())
_MONOCHROME_RES = tuple(_word_re(p) for p in MONOCHROME_PHRASES)
_NEON_RE = _word_re("neon")
_PASTEL_RE = _word_re("pastel")


def prompt_seed(prompt: str) -> int:
    return int.from_bytes(hashlib.sha256(prompt.encode("utf-8")).digest()[:8], "big")


def read_look(prompt: str, seed: int | None = None) -> Look:
    """The look of a clip. A job's `seed` varies what the words leave open, so variants differ visibly."""
    seed = prompt_seed(prompt if seed is None else f"{prompt}\x00seed={seed}")
    text = prompt
    time_of_day, text = _take_first(text, _TIME_RES)
    monochrome = False
    for pattern in _MONOCHROME_RES:
        text, found = pattern.subn(" ", text)
        monochrome = monochrome or found > 0
    neon = _NEON_RE.search(text) is not None
    pastel = _PASTEL_RE.search(text) is not None
    colours = _colours_in_order(text) + (list(NEON_COLOURS) if neon else [])

    palette = list(TIME_PALETTES[time_of_day]) if time_of_day else _seed_palette(seed)
    if colours:
        # Words weigh more when no time of day sets the scene's light.
        palette = _blend_toward(palette, colours, weight=0.5 if time_of_day else 0.75)
    if neon:
        palette = [_adjust_hls(c, saturation=1.0, lightness_scale=0.6) for c in palette]
    if pastel:
        palette = [_mix(_adjust_hls(c, saturation_scale=0.6), (255, 255, 255), 0.45) for c in palette]
    if monochrome:
        palette = [_grey(c) for c in palette]
    return Look(palette=tuple(palette), motion=_read_motion(prompt), time_of_day=time_of_day, seed=seed)


def _read_motion(prompt: str) -> str:
    best: tuple[int, int, str] | None = None  # (start, rank, motion): the first-mentioned move wins
    for rank, (pattern, motion) in enumerate(_MOTION_RES):
        match = pattern.search(prompt)
        if match and (best is None or (match.start(), rank) < best[:2]):
            best = (match.start(), rank, motion)
    return best[2] if best else DEFAULT_MOTION


def _take_first(text: str, patterns: tuple[tuple[re.Pattern[str], str], ...]) -> tuple[str | None, str]:
    """The earliest-mentioned value, and the text with every match blanked ('golden hour' is not 'gold')."""
    first: tuple[int, str] | None = None
    for pattern, value in patterns:
        match = pattern.search(text)
        if match and (first is None or match.start() < first[0]):
            first = (match.start(), value)
        text = pattern.sub(lambda m: " " * len(m.group()), text)
    return (first[1] if first else None), text


def _colours_in_order(text: str) -> list[RGB]:
    found = [(m.start(), rgb) for pattern, rgb in _COLOUR_RES for m in pattern.finditer(text)]
    return [rgb for _, rgb in sorted(found)]


def _seed_palette(seed: int) -> list[RGB]:
    """A calm analogous palette: light sky, warm horizon, mid land and dark ground around one hue."""
    hue = (seed % 360) / 360
    drift = ((seed >> 12) % 60 - 30) / 360
    return [
        _hls(hue, 0.62, 0.50),
        _hls(hue + 0.08 + drift, 0.80, 0.60),
        _hls(hue - 0.10 + drift, 0.40, 0.35),
        _hls(hue - 0.16, 0.20, 0.30),
    ]


def _blend_toward(palette: list[RGB], colours: list[RGB], weight: float) -> list[RGB]:
    """Tint each palette slot toward a colour word, first word to the sky and last to the ground.

    The target keeps part of the slot's lightness, so the sky stays lighter than the ground.
    """
    blended = []
    for i, base in enumerate(palette):
        colour = colours[min(i * len(colours) // len(palette), len(colours) - 1)]
        hue, light, sat = colorsys.rgb_to_hls(*(v / 255 for v in colour))
        base_light = colorsys.rgb_to_hls(*(v / 255 for v in base))[1]
        target = _hls(hue, 0.6 * light + 0.4 * base_light, sat)
        blended.append(_mix(base, target, weight))
    return blended


def _hls(hue: float, light: float, sat: float) -> RGB:
    r, g, b = colorsys.hls_to_rgb(hue % 1.0, min(max(light, 0.0), 1.0), min(max(sat, 0.0), 1.0))
    return round(r * 255), round(g * 255), round(b * 255)


def _adjust_hls(
    colour: RGB,
    *,
    saturation: float | None = None,
    saturation_scale: float = 1.0,
    lightness_scale: float = 1.0,
) -> RGB:
    hue, light, sat = colorsys.rgb_to_hls(*(v / 255 for v in colour))
    return _hls(
        hue, light * lightness_scale, (saturation if saturation is not None else sat) * saturation_scale
    )


def _mix(a: RGB, b: RGB, weight: float) -> RGB:
    return tuple(round(x + (y - x) * weight) for x, y in zip(a, b, strict=True))  # type: ignore[return-value]


def _grey(colour: RGB) -> RGB:
    luma = round(0.2126 * colour[0] + 0.7152 * colour[1] + 0.0722 * colour[2])
    return luma, luma, luma
