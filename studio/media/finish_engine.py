"""The engine behind `studio.media.finishing`: one PyAV pass that decodes, reframes (a libavfilter graph), lays the
logo, captions and end card over the yuv420p planes with numpy, and encodes, with the sound mixed in numpy; and the
GIF and poster-frame exports. Only `studio.media.finishing` imports it, on the first operation."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageColor, ImageDraw, ImageFont, UnidentifiedImageError

from studio.media.finishing import (
    AUDIO_BIT_RATE,
    AUDIO_RATE,
    BITRATE_KBPS,
    DEFAULT_FONT,
    ENCODER,
    GIF_COLOURS,
    GIF_MIN_WIDTH,
    MAX_END_CARD_SECONDS,
    MAX_SIDE,
    MIN_SIDE,
    Caption,
    EndCard,
    Finished,
    FinishError,
    FinishSpec,
    Format,
    GifExport,
    Logo,
    MusicBed,
    Subtitles,
    Trim,
    preset_label,
    quality_options,
    srt_text,
)
from studio.media.upload_limits import END_CARD_IMAGE, LOGO_IMAGE, MB, MUSIC_BED, UploadLimit, megabytes_text

MAX_PICTURE_PIXELS = 25_000_000  # 5000 x 5000: larger is no logo, and decoding it would take the memory of 100 frames
LOUD_RMS = 0.01  # about -40 dBFS: above it the clip has its own sound there, and the bed ducks under it
DUCK_SMOOTHING = 0.25  # s: the bed's gain glides over this long rather than clicking
BLUR_SCALE = 8  # fit's bars are blurred at 1/8 of the frame's size: the same look for a fraction of the work
GIF_SHRINK = 0.8  # each smaller try is 80 % as wide
GIF_MAX_PIXELS = 400_000_000  # every frame's pixels together: about 1.2 GB held while the GIF is made
# The soft track's style (white, bottom centre), as the ASS header the mov_text encoder reads to write the MP4's
# text sample description (display flags, default style, font table), which players read before any caption.
SOFT_SUBTITLE_STYLE = (
    b"[Script Info]\nScriptType: v4.00+\nPlayResX: 384\nPlayResY: 288\n\n[V4+ Styles]\n"
    b"Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
    b"Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, "
    b"MarginR, MarginV, Encoding\n"
    b"Style: Default,Sans,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0\n\n"
    b"[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
)

# The source.


@dataclass(frozen=True)
class _Clip:
    name: str
    width: int
    height: int
    fps: Fraction
    duration: float  # s of picture
    audio_rate: int | None  # None: the clip has no sound

    @property
    def frame(self) -> float:
        return float(1 / self.fps)


def _probe(source: Path) -> _Clip:
    try:
        with av.open(str(source)) as container:
            if not container.streams.video:
                raise _NoPicture
            video = container.streams.video[0]
            audio = container.streams.audio[0] if container.streams.audio else None
            rate = video.average_rate or video.guessed_rate
            fps = Fraction(rate) if rate and 0 < rate <= 120 else Fraction(24)
            if video.duration and video.time_base:
                duration = float(video.duration * video.time_base)
            elif container.duration:
                duration = container.duration / av.time_base
            else:
                duration = float((video.frames or 0) / fps)
            return _Clip(
                source.name,
                video.codec_context.width,
                video.codec_context.height,
                fps,
                duration,
                audio.codec_context.sample_rate if audio else None,
            )
    except _NoPicture:
        raise FinishError(f"{source.name} has no picture to finish.") from None
    except (av.FFmpegError, OSError) as exc:
        raise FinishError(f"{source.name} is not a video that can be read ({exc}).") from exc


class _NoPicture(Exception):
    pass


def frame_at(source: Path, at_seconds: float) -> Image.Image:
    """The picture shown at `at_seconds` (for the reframe preview and the poster frame)."""
    clip = _probe(source)
    if not 0 <= at_seconds <= clip.duration:
        raise FinishError(f"{at_seconds:g} s is outside the clip, which runs 0–{clip.duration:.2f} s.")
    found = None
    for found in _decoded(source, at_seconds, clip.duration):  # noqa: B007 - the first frame at or after the time
        break
    if found is None:
        raise FinishError(f"{source.name} has no picture at {at_seconds:g} s.")
    return found.to_image()


def _decoded(source: Path, start: float, end: float) -> Iterator[av.VideoFrame]:
    """The source's frames whose time is in [start, end), frame-accurately (a frame is in when its middle is)."""
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = stream.time_base or Fraction(1, 90_000)
        origin = stream.start_time or 0
        rate = stream.average_rate or stream.guessed_rate or 24
        half = float(1 / Fraction(rate)) / 2
        if start > 1:  # to the keyframe before, then decode up to the start
            container.seek(origin + int((start - 1) / tb), stream=stream)
        last = None
        for frame in container.decode(stream):
            if frame.pts is None:
                continue
            time = float((frame.pts - origin) * tb)
            last = frame
            if time < start - half:
                continue
            if time >= end - half:
                break
            yield frame
        else:
            if last is not None and start >= float((last.pts - origin) * tb) + half and start <= end:
                yield last  # asked for the very end: the last picture is what shows there


# Reframing, one path for the export and the preview: a libavfilter graph (crop and scale, or a fitted frame over
# a blurred copy of itself). 1280x720 to 1080x1920 it takes 3.6 ms of CPU a frame to fit and 1.3 ms to crop, where
# Pillow and numpy take 46 and 36 ms (`bench/finish.py --reframe`, docs/benchmarks.md).

Reframe = Callable[[av.VideoFrame], av.VideoFrame]


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def crop_box(
    width: int,
    height: int,
    out_w: int,
    out_h: int,
    focal_x: float,
    focal_y: float,
) -> tuple[int, int, int, int]:
    """The largest region of the output's shape inside the source, centred on the focal point as far as the edges
    allow: x, y, width, height, all even."""
    if width * out_h > height * out_w:  # wider than the output: the sides are cut
        crop_h = height // 2 * 2
        crop_w = min(width // 2 * 2, _even(height * out_w / out_h))
    else:
        crop_w = width // 2 * 2
        crop_h = min(height // 2 * 2, _even(width * out_h / out_w))
    x = min(max(0, round(focal_x * width - crop_w / 2)), width - crop_w) // 2 * 2
    y = min(max(0, round(focal_y * height - crop_h / 2)), height - crop_h) // 2 * 2
    return x, y, crop_w, crop_h


def fitted_size(width: int, height: int, out_w: int, out_h: int) -> tuple[int, int]:
    scale = min(out_w / width, out_h / height)
    return min(out_w, _even(width * scale)), min(out_h, _even(height * scale))


def reframer(width: int, height: int, pix_fmt: str, out_size: tuple[int, int], fmt: Format | None) -> Reframe:
    """What turns a source frame into a yuv420p frame of `out_size`, as `fmt` says."""
    out_w, out_h = out_size
    if (width, height) == out_size:
        return (lambda frame: frame) if pix_fmt == "yuv420p" else (lambda frame: frame.reformat(format="yuv420p"))
    focal = (fmt.focal_x, fmt.focal_y) if fmt else (0.5, 0.5)
    x, y, crop_w, crop_h = crop_box(width, height, out_w, out_h, *focal)
    graph = av.filter.Graph()
    chain = [graph.add_buffer(width=width, height=height, format=pix_fmt, time_base=Fraction(1, 1000))]
    cover = [graph.add("crop", f"{crop_w}:{crop_h}:{x}:{y}")]
    if fmt is None or fmt.mode == "crop":
        chain += [*cover, graph.add("scale", f"{out_w}:{out_h}")]
    else:
        fit_w, fit_h = fitted_size(width, height, out_w, out_h)
        split = graph.add("split", "2")
        cover += [
            graph.add("scale", f"{_even(out_w / BLUR_SCALE)}:{_even(out_h / BLUR_SCALE)}"),
            graph.add("gblur", "sigma=4"),
            graph.add("scale", f"{out_w}:{out_h}"),
        ]
        fitted = graph.add("scale", f"{fit_w}:{fit_h}")
        overlay = graph.add("overlay", f"x={(out_w - fit_w) // 4 * 2}:y={(out_h - fit_h) // 4 * 2}:format=yuv420")
        chain[0].link_to(split)
        split.link_to(cover[0], 0, 0)
        split.link_to(fitted, 1, 0)
        fitted.link_to(overlay, 0, 1)
        chain = [*cover, overlay]
    chain += [graph.add("format", "yuv420p"), graph.add("buffersink")]
    for before, after in zip(chain, chain[1:], strict=False):
        before.link_to(after)
    graph.configure()

    def reframe(frame: av.VideoFrame) -> av.VideoFrame:
        graph.push(frame)
        return graph.pull()

    return reframe


def _check_format(fmt: Format) -> None:
    for side, name in ((fmt.width, "width"), (fmt.height, "height")):
        if not MIN_SIDE <= side <= MAX_SIDE or side % 2:
            raise FinishError(
                f"The format's {name} must be an even number of pixels from {MIN_SIDE} to {MAX_SIDE}; it is {side}."
            )
    if fmt.mode not in ("crop", "fit"):
        raise FinishError(f"Reframe by 'crop' or 'fit', not '{fmt.mode}'.")
    if not (0 <= fmt.focal_x <= 1 and 0 <= fmt.focal_y <= 1):
        raise FinishError("The focal point must lie inside the frame.")


def reframe_preview(frame: Image.Image, fmt: Format) -> Image.Image:
    """What `fmt` makes of one frame: the preview shown before export."""
    _check_format(fmt)
    picture = av.VideoFrame.from_image(frame.convert("RGB"))
    reframe = reframer(frame.width, frame.height, "rgb24", (fmt.width, fmt.height), fmt)
    result = reframe(picture)
    return (result.reformat(format="yuv420p") if result.format.name != "yuv420p" else result).to_image()


# Overlays, blended in yuv420p: converting each frame to RGB and back would cost more than encoding it.


class _Planes:
    """A yuv420p picture's planes as numpy views into one array, so they can be blended in place."""

    def __init__(self, data: np.ndarray, width: int, height: int) -> None:
        self.data = data
        flat = data.reshape(-1)  # the planes one after another, as PyAV lays them out
        luma, chroma = width * height, (width // 2) * (height // 2)
        self.y = flat[:luma].reshape(height, width)
        self.u = flat[luma : luma + chroma].reshape(height // 2, width // 2)
        self.v = flat[luma + chroma : luma + 2 * chroma].reshape(height // 2, width // 2)


def _yuv420(image: Image.Image) -> np.ndarray:
    """An RGB picture of even size as one yuv420p array, converted as the encoder's frames are (swscale)."""
    return av.VideoFrame.from_image(image.convert("RGB")).reformat(format="yuv420p").to_ndarray()


@dataclass(frozen=True)
class _Patch:
    """A picture with alpha (a logo, a caption), converted once, blended onto frames where it sits."""

    x: int
    y: int
    layers: tuple[tuple[np.ndarray, np.ndarray], ...]  # per plane: the colour times alpha, and 1 - alpha

    @classmethod
    def of(cls, image: Image.Image, x: int, y: int, frame_size: tuple[int, int]) -> _Patch:
        width, height = frame_size
        image = image.convert("RGBA").crop((0, 0, min(image.width, width), min(image.height, height)))
        patch_w, patch_h = _even(image.width), _even(image.height)  # chroma is half size: keep to whole 2x2 cells
        canvas = Image.new("RGBA", (patch_w, patch_h), (0, 0, 0, 0))
        canvas.paste(image, (0, 0))
        x = min(max(0, x), width - patch_w) // 2 * 2
        y = min(max(0, y), height - patch_h) // 2 * 2
        planes = _Planes(_yuv420(canvas), patch_w, patch_h)
        alpha = np.asarray(canvas.getchannel("A"), dtype=np.float32) / 255
        half = alpha.reshape(patch_h // 2, 2, patch_w // 2, 2).mean(axis=(1, 3))
        layers = tuple(
            (plane.astype(np.float32) * a, 1 - a)
            for plane, a in ((planes.y, alpha), (planes.u, half), (planes.v, half))
        )
        return cls(x, y, layers)

    def blend(self, planes: _Planes) -> None:
        for plane, (colour, keep), scale in zip((planes.y, planes.u, planes.v), self.layers, (1, 2, 2), strict=True):
            top, left = self.y // scale, self.x // scale
            region = plane[top : top + colour.shape[0], left : left + colour.shape[1]]
            region[...] = np.clip(region * keep + colour + 0.5, 0, 255).astype(np.uint8)


def _font(path: str | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Loaded for each use, never cached: two sessions finishing at once must not share one FreeType face.
    try:
        if path:
            return ImageFont.truetype(path, size)
        if DEFAULT_FONT.exists():
            return ImageFont.truetype(str(DEFAULT_FONT), size)
        return ImageFont.load_default(size)
    except OSError as exc:
        raise FinishError(f"The font {Path(path or '').name} cannot be read: choose a TrueType (.ttf) file.") from exc


def _colour(value: str, what: str) -> tuple[int, int, int]:
    try:
        return ImageColor.getrgb(value)[:3]
    except ValueError as exc:
        raise FinishError(f"The {what} '{value}' is not a colour: use #rrggbb, such as #ffffff.") from exc


def _wrapped(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, max_width: float) -> list[str]:
    """The text in lines no wider than `max_width`, broken between words (inside a word only when it alone is
    wider)."""
    lines: list[str] = []
    for paragraph in text.splitlines():
        line = ""
        for word in paragraph.split():
            while font.getlength(word) > max_width and len(word) > 1:
                cut = max(1, next((n for n in range(len(word), 0, -1) if font.getlength(word[:n]) <= max_width), 1))
                if line:
                    lines.append(line)
                    line = ""
                lines.append(word[:cut])
                word = word[cut:]
            trial = f"{line} {word}".strip()
            if line and font.getlength(trial) > max_width:
                lines.append(line)
                line = word
            else:
                line = trial
        if line:
            lines.append(line)
    return lines


def _text_block(
    parts: list[tuple[str, int]], font_path: str | None, colour: tuple[int, int, int], max_width: int, box: bool
) -> Image.Image:
    """Lines of text, centred, each with a dark outline, on a translucent dark box when `box`: readable on any
    frame. `parts` are (text, font size) pairs: a headline and a smaller line, or a caption."""
    rows: list[tuple[str, ImageFont.FreeTypeFont | ImageFont.ImageFont, int]] = []
    for text, size in parts:
        font = _font(font_path, size)
        rows += [(line, font, size) for line in _wrapped(text, font, max_width)]
    if not rows:
        return Image.new("RGBA", (2, 2), (0, 0, 0, 0))
    measure = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    boxes = []
    for line, font, size in rows:
        stroke = max(2, size // 14)
        left, top, right, bottom = measure.textbbox((0, 0), line, font=font, stroke_width=stroke)
        boxes.append((right - left, round(size * 1.25), stroke, left))
    pad = round(rows[0][2] * 0.45) if box else 0
    width = max(b[0] for b in boxes) + 2 * pad
    height = sum(b[1] for b in boxes) + 2 * pad
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if box:
        draw.rounded_rectangle((0, 0, width - 1, height - 1), radius=pad, fill=(0, 0, 0, 150))
    top = pad
    for (line, font, _), (line_w, line_h, stroke, left) in zip(rows, boxes, strict=True):
        draw.text(
            ((width - line_w) / 2 - left, top),
            line,
            font=font,
            fill=(*colour, 255),
            stroke_width=stroke,
            stroke_fill=(0, 0, 0, 255),
        )
        top += line_h
    return image


def _picture(data: bytes, limit: UploadLimit, *, png_only: bool) -> Image.Image:
    # The same limits as the uploaders (studio/media/upload_limits.py): a file the page took is never refused here.
    what, kinds = limit.what, limit.formats_text
    if not data:
        raise FinishError(f"The {what} is empty: choose a {kinds} file.")
    if len(data) > limit.max_bytes:
        raise FinishError(
            f"The {what} is {megabytes_text(len(data))}; the limit is "
            f"{megabytes_text(limit.max_bytes)}. Export a smaller picture."
        )
    too_big = FinishError(f"The {what} is too large to place on a video; use one under 5000 px on each side.")
    try:
        image = Image.open(io.BytesIO(data), formats=["PNG"] if png_only else ["PNG", "JPEG", "WEBP"])
        if image.width * image.height > MAX_PICTURE_PIXELS:
            raise too_big
        image.load()
    except Image.DecompressionBombError:
        raise too_big from None
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise FinishError(
            f"The {what} cannot be read as a {kinds} picture (the file may be damaged): export it "
            "again and upload the new file."
        ) from exc
    return image


def _logo_patch(logo: Logo, size: tuple[int, int]) -> _Patch:
    image, x, y = _placed_logo(logo, size)
    return _Patch.of(image, x, y, size)


def _placed_logo(logo: Logo, size: tuple[int, int]) -> tuple[Image.Image, int, int]:
    """The logo at its size and opacity for a frame of `size`, and where its top-left corner goes."""
    if not 0.02 <= logo.width <= 1:
        raise FinishError("The logo's size must be 2–100 % of the frame's width.")
    if not 0 <= logo.opacity <= 1:
        raise FinishError("The logo's opacity must be 0–100 %.")
    if not 0 <= logo.margin <= 0.4:
        raise FinishError("The logo's margin must be 0–40 % of the frame's shorter side.")
    if logo.corner not in ("top-left", "top-right", "bottom-left", "bottom-right"):
        raise FinishError(
            f"Place the logo in a corner: top-left, top-right, bottom-left or bottom-right, not '{logo.corner}'."
        )
    width, height = size
    image = _picture(logo.png, LOGO_IMAGE, png_only=True).convert("RGBA")
    logo_w = max(2, round(width * logo.width))
    logo_h = max(2, round(image.height * logo_w / image.width))
    if logo_h > height // 2:  # a tall logo is held to half the frame's height
        logo_w, logo_h = max(2, round(logo_w * (height // 2) / logo_h)), height // 2
    image = image.resize((logo_w, logo_h), Image.Resampling.LANCZOS)
    alpha = np.asarray(image.getchannel("A"), dtype=np.float32) * logo.opacity
    image.putalpha(Image.fromarray(np.round(alpha).astype(np.uint8)))
    margin = round(logo.margin * min(width, height))
    x = margin if logo.corner.endswith("left") else width - logo_w - margin
    y = margin if logo.corner.startswith("top") else height - logo_h - margin
    return image, x, y


def branded_stills(
    frame: Image.Image, logo: Logo | None, end_card: EndCard | None
) -> tuple[Image.Image, Image.Image | None]:
    """`frame` with the logo over it, and the end card at the frame's size, drawn by the export's own code."""
    shot = frame.convert("RGB")
    if logo is not None:
        image, x, y = _placed_logo(logo, shot.size)
        shot.paste(image, (x, y), image)
    return shot, _end_card_picture(end_card, shot.size) if end_card is not None else None


def _fitted_text(
    texts: list[tuple[str, float]],
    font_path: str | None,
    colour: tuple[int, int, int],
    size: tuple[int, int],
    max_height: int,
    box: bool,
) -> Image.Image | None:
    """`texts` as (text, type size as a share of the frame's shorter side) in one block, set smaller until it is no
    taller than `max_height`; None when there is no text."""
    width, height = size
    block = None
    for scale in (1.0, 0.8, 0.64, 0.5, 0.4, 0.32):
        parts = [(text, max(8, round(min(width, height) * share * scale))) for text, share in texts if text.strip()]
        if not parts:
            return None
        block = _text_block(parts, font_path, colour, round(width * 0.86), box=box)
        if block.height <= max_height:
            break
    return block


def _caption_patch(caption: Caption, subtitles: Subtitles, size: tuple[int, int]) -> _Patch:
    width, height = size
    colour = _colour(subtitles.colour, "subtitle colour")
    image = _fitted_text([(caption.text, 0.05)], subtitles.font, colour, size, round(height * 0.4), box=True)
    assert image is not None  # every caption has text (_check_captions)
    return _Patch.of(image, (width - image.width) // 2, round(height * 0.88) - image.height, size)


def _end_card_picture(card: EndCard, size: tuple[int, int]) -> Image.Image:
    width, height = size
    picture = Image.new("RGB", size, _colour(card.colour, "end card's colour"))
    if card.image is not None:
        image = _picture(card.image, END_CARD_IMAGE, png_only=False).convert("RGB")
        fit_w, fit_h = fitted_size(image.width, image.height, width, height)
        picture.paste(
            image.resize((fit_w, fit_h), Image.Resampling.LANCZOS), ((width - fit_w) // 2, (height - fit_h) // 2)
        )
    margin = round(height * 0.04)
    block = _fitted_text(
        [(card.headline, 0.085), (card.call_to_action, 0.055)],
        card.font,
        _colour(card.text_colour, "end card's text colour"),
        size,
        height - 2 * margin,
        box=card.image is not None,
    )
    if block is not None:
        middle = round(height * (0.78 if card.image is not None else 0.5))
        top = max(margin, min(middle - block.height // 2, height - margin - block.height))  # never off the bottom
        picture.paste(block, ((width - block.width) // 2, top), block)
    return picture


# Sound.


def _sound(container: av.container.InputContainer, rate: int) -> tuple[np.ndarray, float]:
    """The first audio stream as stereo float samples at `rate`, and the time its first sample plays."""
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=rate)
    parts, first = [], None
    for frame in container.decode(container.streams.audio[0]):
        if first is None:
            first = frame.time
        parts += [f.to_ndarray() for f in resampler.resample(frame)]
    parts += [f.to_ndarray() for f in resampler.resample(None)]
    samples = np.concatenate(parts, axis=1).astype(np.float32) if parts else np.zeros((2, 0), np.float32)
    return samples, float(first or 0.0)


def _clip_sound(source: Path, rate: int, start: float, count: int) -> np.ndarray:
    """`count` samples of the clip's own sound from `start` s on its picture's clock (silence where it has none)."""
    try:
        with av.open(str(source)) as container:
            video = container.streams.video[0]
            origin = float((video.start_time or 0) * (video.time_base or 1))
            samples, first = _sound(container, rate)
    except (av.FFmpegError, OSError) as exc:
        raise FinishError(f"The sound of {source.name} cannot be read ({exc}): the clip may be damaged.") from exc
    begin = round((start - (first - origin)) * rate)
    piece = samples[:, max(0, begin) : max(0, begin + count)]
    lead = min(count, max(0, -begin))
    return np.pad(piece, ((0, 0), (lead, count - lead - piece.shape[1])))


def _music(music: MusicBed, rate: int) -> np.ndarray:
    kind = Path(music.filename).suffix.lower().lstrip(".")
    if kind not in MUSIC_BED.extensions:
        raise FinishError(f"{music.filename} is not a music file the studio reads: upload an MP3, WAV or M4A.")
    if len(music.audio) > MUSIC_BED.max_bytes:
        raise FinishError(
            f"{music.filename} is {megabytes_text(len(music.audio))}; "
            f"the limit is {megabytes_text(MUSIC_BED.max_bytes)}."
        )
    if not (0 <= music.volume <= 2 and 0 <= music.duck <= 1 and music.fade_out >= 0):
        raise FinishError("The music's volume must be 0–200 %, its ducking 0–100 %, and its fade-out 0 s or more.")
    unreadable = FinishError(
        f"{music.filename} cannot be read as {kind.upper()} music (the file may be damaged): "
        "export it again and upload the new file."
    )
    try:
        with av.open(io.BytesIO(music.audio)) as container:
            if not container.streams.audio:
                raise unreadable
            samples, _ = _sound(container, rate)
    except (av.FFmpegError, OSError) as exc:
        raise unreadable from exc
    if samples.shape[1] < rate // 10:
        raise FinishError(f"{music.filename} has no sound in it.")
    return samples


def _bed_gain(own: np.ndarray, music: MusicBed, rate: int) -> np.ndarray:
    """The bed's gain per sample: `volume`, times `duck` where the clip has its own sound, gliding between."""
    window = max(1, rate // 50)
    windows = -(-own.shape[1] // window)
    padded = np.pad(own.mean(axis=0), (0, windows * window - own.shape[1]))
    loud = np.sqrt(np.mean(padded.reshape(windows, window) ** 2, axis=1)) > LOUD_RMS
    gain = np.where(loud, music.volume * music.duck, music.volume).astype(np.float32)
    glide = max(1, round(DUCK_SMOOTHING * 50))
    gain = np.convolve(
        np.pad(gain, (glide // 2, glide - 1 - glide // 2), mode="edge"),
        np.ones(glide, np.float32) / glide,
        mode="valid",
    )
    return np.repeat(gain, window)[: own.shape[1]]


def _fade(count: int) -> np.ndarray:
    return np.linspace(1, 0, count, dtype=np.float32) if count > 0 else np.zeros(0, np.float32)


def _check_captions(subtitles: Subtitles) -> None:
    if not subtitles.lines:
        raise FinishError("Add at least one subtitle line, or upload an .srt or .vtt file.")
    for number, caption in enumerate(subtitles.lines, 1):
        if not caption.text.strip():
            raise FinishError(f"Subtitle {number} has no text.")
        if not 0 <= caption.start < caption.end:
            raise FinishError(
                f"Subtitle {number} must start at 0 s or later and end after it starts "
                f"({caption.start:g}–{caption.end:g} s)."
            )


def _soft_track(captions: list[Caption], total: float) -> list[tuple[int, int, bytes]]:
    """The mov_text samples (start ms, duration ms, payload): one per caption, and an empty one in each gap, since
    an MP4 sample lasts until the next one starts."""
    samples: list[tuple[int, int, bytes]] = []
    clock = 0
    for number, caption in enumerate(captions):
        start = max(clock, round(caption.start * 1000))
        following = captions[number + 1].start if number + 1 < len(captions) else total
        end = min(round(min(caption.end, total) * 1000), round(following * 1000))
        if end <= start:
            continue
        if start > clock:
            samples.append((clock, start - clock, b"\x00\x00"))
        text = caption.text.strip().encode()
        samples.append((start, end - start, len(text).to_bytes(2, "big") + text))
        clock = end
    if samples and clock < round(total * 1000):
        samples.append((clock, round(total * 1000) - clock, b"\x00\x00"))
    return samples


# The finish.


@dataclass
class _Plan:
    """Everything the pass needs, checked and prepared before a byte is written."""

    clip: _Clip
    size: tuple[int, int]
    start: float
    end: float
    clip_frames: int
    card_frames: int
    fade_frames: int
    logo: _Patch | None
    captions: list[tuple[float, float, _Patch]]
    card: np.ndarray | None
    soundtrack: np.ndarray | None
    audio_rate: int
    soft_captions: list[Caption]
    steps: list[str]

    @property
    def total_frames(self) -> int:
        return self.clip_frames + self.card_frames


def _seconds_text(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _plan(source: Path, clip: _Clip, spec: FinishSpec) -> _Plan:
    steps: list[str] = []
    trim = spec.trim or Trim()
    end = clip.duration if trim.end is None else trim.end
    if not 0 <= trim.start < end or end > clip.duration + clip.frame / 2:
        raise FinishError(
            f"The trim {_seconds_text(trim.start)}–{_seconds_text(end)} s is outside the clip, which "
            f"runs 0–{_seconds_text(clip.duration)} s: set the in point before the out point, inside "
            "the clip."
        )
    end = min(end, clip.duration)
    clip_frames = round((end - trim.start) * clip.fps)
    if clip_frames < 1:
        raise FinishError("The trim keeps less than one frame: move the out point later.")
    if spec.trim is not None:
        steps.append(f"trim {_seconds_text(trim.start)}–{_seconds_text(end)} s")
    if spec.format is not None:
        _check_format(spec.format)
        size = (spec.format.width, spec.format.height)
        steps.append(
            f"{preset_label(spec.format) or 'reframe'} {size[0]}x{size[1]} "
            f"({'crop around the focal point' if spec.format.mode == 'crop' else 'fit with blurred bars'})"
        )
    else:
        size = (clip.width // 2 * 2, clip.height // 2 * 2)
    logo = _logo_patch(spec.logo, size) if spec.logo is not None else None
    if spec.logo is not None:
        steps.append(f"logo {spec.logo.corner}")
    card_frames = fade_frames = 0
    card = None
    if spec.end_card is not None:
        ec = spec.end_card
        if not 0 < ec.seconds <= MAX_END_CARD_SECONDS:
            raise FinishError(f"The end card lasts more than 0 and at most {MAX_END_CARD_SECONDS:g} s.")
        if not 0 <= ec.fade <= end - trim.start:
            raise FinishError("The fade into the end card must be 0 s or more, and no longer than the clip.")
        card = _yuv420(_end_card_picture(ec, size))
        card_frames = max(1, round(ec.seconds * clip.fps))
        fade_frames = round(ec.fade * clip.fps)
        steps.append(f"end card {_seconds_text(ec.seconds)} s")
    total = float((clip_frames + card_frames) / clip.fps)
    captions: list[tuple[float, float, _Patch]] = []
    soft: list[Caption] = []
    if spec.subtitles is not None:
        _check_captions(spec.subtitles)
        shown = sorted((c for c in spec.subtitles.lines if c.start < total), key=lambda c: c.start)
        if spec.subtitles.burn_in:
            captions = [(c.start, c.end, _caption_patch(c, spec.subtitles, size)) for c in shown]
            steps.append(f"{_subtitles_counted(len(shown))} burned in")
        else:
            _font(spec.subtitles.font, 12)  # a bad font is refused here too, not only when burned in
            soft = shown
            steps.append(f"{_subtitles_counted(len(shown))} as a soft track and an .srt")
    if spec.bitrate_kbps is not None:
        low, high = BITRATE_KBPS
        if not low <= spec.bitrate_kbps <= high:
            raise FinishError(f"Choose a bitrate from {low:,} to {high:,} kbps.")
        steps.append(f"{spec.bitrate_kbps:,} kbps")
    rate = clip.audio_rate or AUDIO_RATE
    bed = _music(spec.music, rate) if spec.music is not None else None
    soundtrack = None
    if clip.audio_rate or bed is not None:
        soundtrack = _soundtrack(source, clip, spec, trim.start, clip_frames, fade_frames, total, bed, rate)
        if spec.music is not None:
            steps.append(f"music bed {spec.music.filename}")
    return _Plan(
        clip,
        size,
        trim.start,
        end,
        clip_frames,
        card_frames,
        fade_frames,
        logo,
        captions,
        card,
        soundtrack,
        rate,
        soft,
        steps,
    )


def _subtitles_counted(count: int) -> str:
    return "1 subtitle" if count == 1 else f"{count} subtitles"


def _soundtrack(
    source: Path,
    clip: _Clip,
    spec: FinishSpec,
    start: float,
    clip_frames: int,
    fade_frames: int,
    total: float,
    bed: np.ndarray | None,
    rate: int,
) -> np.ndarray:
    """The finished clip's sound: its own (fading with the picture into the end card), and the bed under it."""
    count = round(total * rate)
    clip_samples = round(clip_frames / clip.fps * rate)
    own = np.zeros((2, count), np.float32)
    if clip.audio_rate:
        own[:, :clip_samples] = _clip_sound(source, rate, start, clip_samples)
        faded = round(fade_frames / clip.fps * rate)
        own[:, clip_samples - faded : clip_samples] *= _fade(faded)
    if bed is None or spec.music is None:
        return own
    looped = np.tile(bed, (1, -(-count // bed.shape[1])))[:, :count]  # a short bed starts again
    gain = _bed_gain(own, spec.music, rate)
    fading = min(count, round(spec.music.fade_out * rate))
    gain[count - fading :] *= _fade(fading)
    return np.clip(own + looped * gain, -1, 1)


def _partial(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.part")


def finish_video(
    source: Path, spec: FinishSpec, target: Path, on_progress: Callable[[float], None] | None = None
) -> Finished:
    """Write `source` finished by `spec` to `target` (a new file: the source is never touched). `on_progress`
    gets 0..1 as frames are written."""
    source, target = Path(source), Path(target)
    if target.resolve() == source.resolve():
        raise FinishError("The finished clip needs a file of its own: the source is never overwritten.")
    clip = _probe(source)
    plan = _plan(source, clip, spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial(target)
    sidecar = target.with_suffix(".srt") if plan.soft_captions else None
    try:
        try:
            written = _write(source, spec, plan, partial, on_progress)
        except av.FFmpegError as exc:  # a clip that is damaged part way through
            raise FinishError(f"{source.name} could not be finished ({exc}): the clip may be damaged.") from exc
        if sidecar is not None:
            sidecar_partial = _partial(sidecar)
            try:
                sidecar_partial.write_text(srt_text(plan.soft_captions), encoding="utf-8")
                os.replace(sidecar_partial, sidecar)
            finally:
                sidecar_partial.unlink(missing_ok=True)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    width, height = plan.size
    return Finished(target, width, height, float(written / clip.fps), plan.soundtrack is not None, sidecar, plan.steps)


def _write(
    source: Path, spec: FinishSpec, plan: _Plan, partial: Path, on_progress: Callable[[float], None] | None
) -> int:
    """The one pass: decode, reframe, overlay, encode; the sound and captions muxed alongside. The frames written."""
    clip, (width, height) = plan.clip, plan.size
    fmt = spec.format
    with av.open(str(partial), mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
        video = out.add_stream(ENCODER, rate=clip.fps, options=quality_options(spec.bitrate_kbps))
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        if spec.bitrate_kbps is not None:
            video.bit_rate = spec.bitrate_kbps * 1000
        audio = None
        if plan.soundtrack is not None:
            audio = out.add_stream("aac", rate=plan.audio_rate, layout="stereo")
            audio.bit_rate = AUDIO_BIT_RATE
        if plan.soft_captions:
            track = out.add_stream("mov_text")  # opened only for its sample description; the packets are ours
            track.codec_context.subtitle_header = SOFT_SUBTITLE_STYLE
            track.time_base = Fraction(1, 1000)
            for start, duration, payload in _soft_track(plan.soft_captions, plan.total_frames / clip.fps):
                packet = av.Packet(payload)
                packet.stream, packet.time_base = track, Fraction(1, 1000)
                packet.pts = packet.dts = start
                packet.duration = duration
                out.mux(packet)
        step = (audio.codec_context.frame_size or 1024) if audio is not None else 0
        sound_written = 0

        def sound_until(sample: int) -> None:
            nonlocal sound_written
            assert audio is not None and plan.soundtrack is not None
            while sound_written + step <= sample:
                chunk = np.ascontiguousarray(plan.soundtrack[:, sound_written : sound_written + step])
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
                frame.sample_rate, frame.pts, frame.time_base = (
                    plan.audio_rate,
                    sound_written,
                    Fraction(1, plan.audio_rate),
                )
                out.mux(audio.encode(frame))
                sound_written += step

        index = 0
        for picture in _pictures(source, plan, fmt):
            finished = _composed(picture, index, plan)
            finished.pts, finished.time_base = index, 1 / clip.fps
            out.mux(video.encode(finished))
            index += 1
            if audio is not None:
                sound_until(round(index / clip.fps * plan.audio_rate))
            if on_progress is not None:
                on_progress(min(1.0, index / plan.total_frames))
        out.mux(video.encode(None))
        if audio is not None and plan.soundtrack is not None:
            sound_until(plan.soundtrack.shape[1] // step * step)
            rest = plan.soundtrack.shape[1] - sound_written
            if rest:
                step = rest
                sound_until(plan.soundtrack.shape[1])
            out.mux(audio.encode(None))
    return index


def _pictures(source: Path, plan: _Plan, fmt: Format | None) -> Iterator[av.VideoFrame | None]:
    """The trimmed clip's frames at the finished size (the last repeated if the file runs short), then None for each
    end-card frame."""
    reframe = None
    emitted, last = 0, None
    for frame in _decoded(source, plan.start, plan.end):
        if emitted >= plan.clip_frames:
            break
        if reframe is None:
            reframe = reframer(frame.width, frame.height, frame.format.name, plan.size, fmt)
        last = reframe(frame)
        yield last
        emitted += 1
    if last is None:
        raise FinishError(
            f"{plan.clip.name} has no pictures between {_seconds_text(plan.start)} and {_seconds_text(plan.end)} s."
        )
    while emitted < plan.clip_frames:
        yield last
        emitted += 1
    for _ in range(plan.card_frames):
        yield None


def _composed(picture: av.VideoFrame | None, index: int, plan: _Plan) -> av.VideoFrame:
    """Frame `index` of the finished clip: the logo over the clip, the clip fading into the end card, and the
    captions of its moment on top. A frame with nothing over it passes through untouched."""
    width, height = plan.size
    time = index / plan.clip.fps + 1e-6
    captions = [patch for start, end, patch in plan.captions if start <= time < end]
    in_clip = picture is not None
    fade_from = plan.clip_frames - plan.fade_frames
    fading = in_clip and plan.card is not None and plan.fade_frames > 0 and index >= fade_from
    if in_clip and plan.logo is None and not captions and not fading:
        return picture
    if in_clip:
        data = picture.to_ndarray()
    else:
        assert plan.card is not None
        data = plan.card.copy()
    planes = _Planes(data, width, height)
    if in_clip and plan.logo is not None:
        plan.logo.blend(planes)
    if fading:
        assert plan.card is not None
        share = (index - fade_from + 1) / (plan.fade_frames + 1)
        data[...] = np.clip(data * (1 - share) + plan.card * share + 0.5, 0, 255).astype(np.uint8)
    for patch in captions:
        patch.blend(planes)
    return av.VideoFrame.from_ndarray(data, format="yuv420p")


# Exports beside the MP4.


def poster_frame(source: Path, at_seconds: float) -> bytes:
    """The frame at `at_seconds` as a PNG."""
    buffer = io.BytesIO()
    frame_at(source, at_seconds).save(buffer, format="PNG")
    return buffer.getvalue()


def export_gif(source: Path, target: Path, *, width: int, fps: int, max_megabytes: float) -> GifExport:
    """An animated GIF of `source` at `width` px and `fps`, made smaller (fewer colours, then a smaller size) until
    it is under `max_megabytes`; FinishError when even the smallest is over."""
    if not 1 <= fps <= 30:
        raise FinishError("A GIF's frame rate must be 1–30 fps.")
    if width < GIF_MIN_WIDTH:
        raise FinishError(f"A GIF must be at least {GIF_MIN_WIDTH} px wide.")
    if not max_megabytes > 0:
        raise FinishError("Set the GIF's size limit above 0 MB.")
    clip = _probe(source)
    width = min(width, clip.width)
    height = max(2, round(clip.height * width / clip.width))
    count = max(1, round(clip.duration * fps))
    if count * width * height > GIF_MAX_PIXELS:
        raise FinishError(
            f"A {width} px GIF of {count} frames is too large to make: choose a smaller width or fps, "
            "or trim the clip first."
        )
    frames = _gif_frames(source, clip, fps, count, (width, height))
    limit = int(max_megabytes * MB)
    tries = [(width, colours) for colours in GIF_COLOURS]
    smaller = width * GIF_SHRINK
    while smaller >= GIF_MIN_WIDTH:
        tries.append((round(smaller), GIF_COLOURS[-1]))
        smaller *= GIF_SHRINK
    data, size = b"", (width, height)
    for try_width, colours in tries:
        size = (try_width, max(2, round(height * try_width / width)))
        data = _gif_bytes(
            [f if f.size == size else f.resize(size, Image.Resampling.LANCZOS) for f in frames], colours, fps
        )
        if len(data) <= limit:
            break
    else:
        raise FinishError(
            f"Even at {size[0]} px wide and {GIF_COLOURS[-1]} colours the GIF is "
            f"{megabytes_text(len(data))}, over the {megabytes_text(limit)} limit: raise the limit, "
            "lower the fps, or trim the clip first."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial(target)
    try:
        partial.write_bytes(data)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return GifExport(target, size[0], size[1], fps, len(data))


def _gif_frames(source: Path, clip: _Clip, fps: int, count: int, size: tuple[int, int]) -> list[Image.Image]:
    """The clip sampled at `fps`: each GIF frame is the source frame showing at its time."""
    frames: list[Image.Image] = []
    for frame in _decoded(source, 0, clip.duration):
        while len(frames) < count and len(frames) / fps < float(frame.time or 0) + clip.frame / 2:
            frames.append(frame.reformat(width=size[0], height=size[1], format="rgb24").to_image())
        if len(frames) >= count:
            break
    while frames and len(frames) < count:
        frames.append(frames[-1])
    if not frames:
        raise FinishError(f"{clip.name} has no pictures to make a GIF of.")
    return frames


def _gif_bytes(frames: list[Image.Image], colours: int, fps: int) -> bytes:
    """The frames as a looping GIF with one palette of `colours`, drawn from frames spread over the clip."""
    picks = frames[:: max(1, len(frames) // 6)][:6]
    sample = Image.new("RGB", (picks[0].width * len(picks), picks[0].height))
    for n, pick in enumerate(picks):
        sample.paste(pick, (n * pick.width, 0))
    palette = sample.quantize(colors=colours, method=Image.Quantize.MEDIANCUT)
    indexed = [f.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG) for f in frames]
    buffer = io.BytesIO()
    indexed[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=indexed[1:],
        duration=round(1000 / fps),
        loop=0,
        optimize=False,
    )
    return buffer.getvalue()
