"""Finishing a clip for delivery: trim, reframe to a social format, logo, subtitles, end card and a music bed, in
one PyAV pass; and the GIF and poster-frame exports. No ffmpeg binary: PyAV's own libraries do the work.

This module is the contract between the finishing engine and the Finish panel. The dataclasses are the request;
`finish_video`, `reframe_preview`, `export_gif` and `poster_frame` the operations."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from PIL import Image

from studio.errors import InvalidInput

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


class FinishError(InvalidInput, ValueError):
    """Input the finisher cannot use (a corrupt logo, an unreadable music file, a trim outside the clip, a GIF
    limit no size can meet), said in words a user can act on."""

    title = "Cannot finish this clip"


ENCODER = "libx264"
QUALITY_OPTIONS = {"preset": "veryfast", "crf": "20"}  # as films are joined; the bench's bare re-encode uses the same
BITRATE_KBPS = (200, 50_000)  # the bitrate choice's range
AUDIO_RATE = 48_000  # the music bed's rate when the clip has no sound of its own
AUDIO_BIT_RATE = 160_000
MIN_SIDE, MAX_SIDE = 16, 4096
MAX_END_CARD_SECONDS = 30.0
DEFAULT_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
GIF_COLOURS = (256, 128, 64, 32)
GIF_MIN_WIDTH = 64
SUBTITLE_EXTENSIONS = (".srt", ".vtt")


def quality_options(bitrate_kbps: int | None) -> dict[str, str]:
    """The H.264 encoder's options: constant quality, or a bitrate it keeps to (ABR, capped at the same rate)."""
    if bitrate_kbps is None:
        return dict(QUALITY_OPTIONS)
    return {"preset": QUALITY_OPTIONS["preset"], "maxrate": f"{bitrate_kbps}k", "bufsize": f"{2 * bitrate_kbps}k"}


# Subtitle files.


def _timestamp(seconds: float, separator: str = ",") -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}{separator}{ms % 1000:03d}"


def srt_text(captions: tuple[Caption, ...] | list[Caption]) -> str:
    """The captions as an .srt file."""
    return "".join(
        f"{n}\n{_timestamp(c.start)} --> {_timestamp(c.end)}\n{c.text.strip()}\n\n" for n, c in enumerate(captions, 1)
    )


_TIME = r"(?:(\d+):)?(\d+):(\d+)[.,](\d{1,3})"
_CUE = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}")
_MARKUP = re.compile(r"<[^>]*>|\{\\[^}]*\}")  # <i>, <c.yellow>, <00:01.000> and {\an8}


def parse_subtitles(data: bytes, filename: str) -> tuple[Caption, ...]:
    """The captions of an .srt or .vtt upload. FinishError names the line that cannot be read."""
    import html

    kind = Path(filename).suffix.lower()
    if kind not in SUBTITLE_EXTENSIONS:
        raise FinishError(f"{filename} is not a subtitle file: upload an .srt or .vtt.")
    if b"\x00" in data:
        raise FinishError(f"{filename} is not a text file: upload an .srt or .vtt saved as text.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")  # what older subtitle tools save
    lines = text.splitlines()
    if kind == ".vtt" and not (lines and lines[0].strip().startswith("WEBVTT")):
        raise FinishError(f"{filename} does not start with WEBVTT, as a .vtt file must.")
    captions, index = [], 0
    while index < len(lines):
        line, number = lines[index], index + 1
        index += 1
        found = _CUE.match(line)
        if found is None:
            if "-->" in line:
                raise FinishError(
                    f"{filename}, line {number}: “{line.strip()[:60]}” is not a time range such as "
                    "00:00:01,000 --> 00:00:03,500."
                )
            continue
        times = found.groups()
        if any(int(part) > 59 for part in (times[2], times[6])) or any(
            part is not None and int(part) > 59 and hours is not None
            for part, hours in ((times[1], times[0]), (times[5], times[4]))
        ):
            raise FinishError(f"{filename}, line {number}: “{line.strip()[:60]}” has minutes or seconds over 59.")
        start, end = _cue_seconds(times[:4]), _cue_seconds(times[4:])
        if end <= start:
            raise FinishError(
                f"{filename}, line {number}: the caption ends ({_timestamp(end)}) before it starts "
                f"({_timestamp(start)})."
            )
        body = []
        while index < len(lines) and lines[index].strip():
            body.append(html.unescape(_MARKUP.sub("", lines[index])).strip())
            index += 1
        if caption := "\n".join(part for part in body if part):
            captions.append(Caption(start, end, caption))
    if not captions:
        raise FinishError(
            f"{filename} has no captions: each needs a time range such as "
            "00:00:01,000 --> 00:00:03,500 and a line of text."
        )
    return tuple(sorted(captions, key=lambda c: c.start))


def _cue_seconds(parts: tuple[str | None, ...]) -> float:
    hours, minutes, seconds, fraction = parts
    assert minutes is not None and seconds is not None and fraction is not None
    return int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + int(fraction) / 10 ** len(fraction)


def preset_label(fmt: Format) -> str | None:
    """The preset's short name ("9:16") when `fmt` has a preset's shape."""
    for name, (width, height) in FORMAT_PRESETS.items():
        if fmt.width * height == fmt.height * width:
            return name.split(" · ")[0]
    return None


# The operations. Their engine (PyAV, libavfilter and numpy: studio/media/finish_engine.py) loads on the first call,
# so a page that only shows the Finish panel's controls never imports PyAV.


def finish_video(
    source: Path, spec: FinishSpec, target: Path, on_progress: Callable[[float], None] | None = None
) -> Finished:
    """Write `source` finished by `spec` to `target` (a new file: the source is never touched). `on_progress`
    gets 0..1 as frames are written."""
    from studio.media import finish_engine

    return finish_engine.finish_video(Path(source), spec, Path(target), on_progress)


def reframe_preview(frame: Image.Image, fmt: Format) -> Image.Image:
    """What `fmt` makes of one frame: the preview shown before export, made by the export's own reframing."""
    from studio.media import finish_engine

    return finish_engine.reframe_preview(frame, fmt)


def branded_stills(
    frame: Image.Image, logo: Logo | None, end_card: EndCard | None
) -> tuple[Image.Image, Image.Image | None]:
    """A frame with `logo` laid over it, and `end_card` at the frame's size: the brand kit's preview, made by the
    export's own code, so it shows what an export will. A FinishError says what cannot be drawn."""
    from studio.media import finish_engine

    return finish_engine.branded_stills(frame, logo, end_card)


def frame_at(source: Path, at_seconds: float) -> Image.Image:
    """The picture shown at `at_seconds` (for the reframe preview)."""
    from studio.media import finish_engine

    return finish_engine.frame_at(Path(source), at_seconds)


def export_gif(source: Path, target: Path, *, width: int, fps: int, max_megabytes: float) -> GifExport:
    """An animated GIF of `source` at `width` px and `fps`, made smaller (fewer colours, then a smaller size) until
    it is under `max_megabytes`; FinishError when even the smallest is over."""
    from studio.media import finish_engine

    return finish_engine.export_gif(Path(source), Path(target), width=width, fps=fps, max_megabytes=max_megabytes)


def poster_frame(source: Path, at_seconds: float) -> bytes:
    """The frame at `at_seconds` as a PNG."""
    from studio.media import finish_engine

    return finish_engine.poster_frame(Path(source), at_seconds)
