"""Finishing a clip for delivery: trim, reframe to a social format, logo, subtitles, end card and a music bed, in
one PyAV pass; and the GIF and poster-frame exports. No ffmpeg binary: PyAV's own libraries do the work.

This module is the contract between the finishing engine and the Finish panel. The dataclasses are the request;
`finish_video`, `reframe_preview`, `export_gif` and `poster_frame` the operations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from PIL import Image

Corner = Literal["top-left", "top-right", "bottom-left", "bottom-right"]


@dataclass(frozen=True)
class Logo:
    png: bytes  # a PNG, alpha kept
    corner: Corner = "bottom-right"
    margin: float = 0.04  # of the frame's shorter side
    width: float = 0.18  # of the frame's width
    opacity: float = 0.85


@dataclass(frozen=True)
class EndCard:
    seconds: float = 2.0
    colour: str = "#000000"  # the card's background when there is no image
    image: bytes | None = None  # a picture filling the card (fit with bars of `colour`)
    headline: str = ""
    call_to_action: str = ""
    text_colour: str = "#ffffff"
    font: str | None = None  # a TrueType file; None: DejaVu Sans Bold
    fade: float = 0.5  # s: the clip fades into the card


@dataclass(frozen=True)
class Caption:
    start: float  # s, on the finished clip's timeline (after trim)
    end: float
    text: str


@dataclass(frozen=True)
class Subtitles:
    lines: tuple[Caption, ...]
    burn_in: bool = True  # False: a soft subtitle track in the MP4, plus a sidecar .srt beside it
    font: str | None = None
    colour: str = "#ffffff"


@dataclass(frozen=True)
class Trim:
    start: float = 0.0  # s
    end: float | None = None  # s; None: to the end


@dataclass(frozen=True)
class MusicBed:
    audio: bytes  # MP3, WAV or M4A
    filename: str  # its name says its kind
    volume: float = 0.35  # the bed's gain where the clip is silent
    duck: float = 0.5  # the bed's gain is multiplied by this where the clip has its own sound
    fade_out: float = 1.5  # s, at the end of the finished clip


@dataclass(frozen=True)
class Format:
    width: int
    height: int
    mode: Literal["crop", "fit"] = "crop"  # crop around the focal point, or fit with blurred bars
    focal_x: float = 0.5  # 0..1 of the source's width: the point the crop keeps in view
    focal_y: float = 0.5


FORMAT_PRESETS: dict[str, tuple[int, int]] = {
    "9:16 · Reels, TikTok, Shorts": (1080, 1920),
    "1:1 · Square": (1080, 1080),
    "4:5 · Portrait feed": (1080, 1350),
    "16:9 · Landscape": (1920, 1080),
}


@dataclass(frozen=True)
class FinishSpec:
    trim: Trim | None = None
    format: Format | None = None
    logo: Logo | None = None
    subtitles: Subtitles | None = None
    end_card: EndCard | None = None
    music: MusicBed | None = None
    bitrate_kbps: int | None = None  # None: the encoder's quality default

    @property
    def is_empty(self) -> bool:
        return self == FinishSpec()


@dataclass(frozen=True)
class Finished:
    path: Path
    width: int
    height: int
    duration: float  # s: the trimmed clip plus the end card
    has_audio: bool
    subtitle_path: Path | None = None  # the sidecar .srt of soft subtitles
    steps: list[str] = field(default_factory=list)  # what was done, for the lineage note: "trim 1.0–3.5 s", ...


@dataclass(frozen=True)
class GifExport:
    path: Path
    width: int
    height: int
    fps: int
    size_bytes: int


class FinishError(ValueError):
    """Input the finisher cannot use (a corrupt logo, an unreadable music file, a trim outside the clip, a GIF
    limit no size can meet), said in words a user can act on."""


def parse_subtitles(data: bytes, filename: str) -> tuple[Caption, ...]:
    """The captions of an .srt or .vtt upload. FinishError names the line that cannot be read."""
    raise NotImplementedError


def finish_video(source: Path, spec: FinishSpec, target: Path,
                 on_progress: Callable[[float], None] | None = None) -> Finished:
    """Write `source` finished by `spec` to `target` (a new file: the source is never touched). `on_progress`
    gets 0..1 as frames are written."""
    raise NotImplementedError


def reframe_preview(frame: Image.Image, fmt: Format) -> Image.Image:
    """What `fmt` makes of one frame: the preview shown before export."""
    raise NotImplementedError


def export_gif(source: Path, target: Path, *, width: int, fps: int, max_megabytes: float) -> GifExport:
    """An animated GIF of `source` at `width` px and `fps`, made smaller (fewer colours, then a smaller size) until
    it is under `max_megabytes`; FinishError when even the smallest is over."""
    raise NotImplementedError


def poster_frame(source: Path, at_seconds: float) -> bytes:
    """The frame at `at_seconds` as a PNG."""
    raise NotImplementedError
