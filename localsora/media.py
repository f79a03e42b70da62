"""Reading media: probing uploads, and decoding reference images and source clips into frames."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import Colorspace
from PIL import Image, ImageOps, UnidentifiedImageError

from localsora.frames import LIMITED_RANGE, Planes, frame_planes

# Largest image we agree to decode: far above any video size, far below a decompression bomb.
MAX_IMAGE_PIXELS = 50_000_000
IMAGE_MIMES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


class InvalidMedia(ValueError):
    """An upload that cannot be used; the message says why in plain words."""


@dataclass(frozen=True)
class MediaInfo:
    width: int
    height: int
    duration: float
    has_audio: bool


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


def probe_whole_mp4(path: Path) -> MediaInfo:
    """`probe_video` for a file that must be a whole MP4 (a character): not a GIF or a WebM that decodes, and not
    an MP4 cut short, whose first frames decode while the rest of its frames are missing."""
    info = probe_video(path)
    try:
        with av.open(str(path)) as container:
            if "mp4" not in container.format.name.split(","):
                raise InvalidMedia(f"It must be an MP4 video; this file is {container.format.long_name or 'not one'}.")
            stream = container.streams.video[0]
            whole = [packet for packet in container.demux(stream) if packet.size and not packet.is_corrupt]
    except InvalidMedia:
        raise
    except (av.FFmpegError, OSError) as exc:
        raise InvalidMedia(f"The MP4 cannot be read to its end ({exc}).") from exc
    if stream.frames and len(whole) < stream.frames:
        raise InvalidMedia(f"The MP4 is cut short: only {len(whole)} of its {stream.frames} frames are in the file. "
                           "Upload the whole file.")
    return info


def _decoded_duration(
    container: av.container.InputContainer, stream: av.VideoStream, first: av.VideoFrame
) -> float:
    """Duration for streams that do not state it: the last frame's time plus one frame."""
    rate = float(stream.average_rate or 24)
    count, last_time = 1, first.time
    for frame in container.decode(stream):
        count, last_time = count + 1, frame.time
    if first.time is None or last_time is None:
        return count / rate
    return last_time - first.time + 1 / rate


def decoded_audio(path: Path, rate: int) -> np.ndarray:
    """A video's sound as float32 stereo (2, samples) at `rate`; (2, 0) where it has none."""
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=rate)
    chunks: list[np.ndarray] = [np.zeros((2, 0), np.float32)]
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return chunks[0]
            for frame in container.decode(audio=0):
                chunks.extend(f.to_ndarray() for f in resampler.resample(frame))
            chunks.extend(f.to_ndarray() for f in resampler.resample(None))
    except av.FFmpegError as exc:
        raise InvalidMedia(f"The source video's sound cannot be decoded ({exc}).") from exc
    return np.concatenate(chunks, axis=1).astype(np.float32, copy=False)


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


def first_frame_png(data: bytes) -> bytes:
    """The first frame of a video file's bytes, as a PNG: a video given where a reference image is taken."""
    try:
        with av.open(io.BytesIO(data)) as container:
            frame = next(container.decode(video=0), None)
            if frame is None:
                raise InvalidMedia("The video has no frames that can be decoded.")
            picture = frame.to_image()
    except (av.FFmpegError, IndexError, ValueError, OSError) as exc:  # IndexError: no video stream
        raise InvalidMedia(f"The file is not a video that can be decoded ({exc}).") from exc
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


Crop = tuple[float, float, float, float]  # left, top, right, bottom, as fractions of the width and height


def load_picture(path: Path, width: int, height: int) -> Planes:
    """The image cover-fitted to width x height."""
    return _planes(_fitted(_opened_rgb(path), None, width, height))


def placed_picture(data: bytes, crop: Crop | None, width: int, height: int) -> bytes:
    """A placed image (`inpaint_items`) as a PNG of the clip's size: cropped to `crop`, then cover-fitted."""
    buffer = io.BytesIO()
    _fitted(_opened_rgb(io.BytesIO(data)), crop, width, height).save(buffer, format="PNG")
    return buffer.getvalue()


def placed_clip_frames(path: Path, crop: Crop | None, total: int, width: int, height: int,
                       fps: float) -> Iterator[Planes]:
    """A placed clip's first `total` frames at `fps`, cropped to `crop` and cover-fitted to width x height."""
    if crop is None:
        yield from source_frames(path, total, width, height, fps)
        return
    info = probe_video(path)
    for frame in source_frames(path, total, info.width - info.width % 2, info.height - info.height % 2, fps):
        picture = frame.video_frame().to_image()
        yield _planes(_fitted(picture, crop, width, height))


def _opened_rgb(source: Path | io.BytesIO) -> Image.Image:
    try:
        with Image.open(source, formats=tuple(IMAGE_MIMES)) as opened:
            if opened.width * opened.height > MAX_IMAGE_PIXELS:
                raise InvalidMedia(f"The image is too large ({opened.width}x{opened.height}).")
            image = ImageOps.exif_transpose(opened).convert("RGBA")
    except InvalidMedia:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InvalidMedia(f"The image cannot be decoded ({exc}).") from exc
    backdrop = Image.new("RGBA", image.size, (24, 24, 28, 255))  # transparent parts become dark grey
    return Image.alpha_composite(backdrop, image).convert("RGB")


def _fitted(image: Image.Image, crop: Crop | None, width: int, height: int) -> Image.Image:
    if crop is not None:
        left, top, right, bottom = crop
        box = (round(left * image.width), round(top * image.height), round(right * image.width),
               round(bottom * image.height))
        image = image.crop((box[0], box[1], max(box[2], box[0] + 1), max(box[3], box[1] + 1)))
    return ImageOps.fit(image, (width, height))


def _planes(picture: Image.Image) -> Planes:
    frame = av.VideoFrame.from_image(picture).reformat(
        format="yuv420p", dst_colorspace=Colorspace.ITU709, dst_color_range=LIMITED_RANGE
    )
    return frame_planes(frame).copy()


def source_frames(path: Path, total: int, width: int, height: int, fps: float) -> Iterator[Planes]:
    """`total` frames at `fps` from a video of any rate and size, cover-fitted to width x height."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            decoded = _timed_frames(container.decode(stream), fps)
            current = next(decoded, None)
            if current is None:
                raise InvalidMedia("The source video has no frames that can be decoded.")
            upcoming = next(decoded, None)
            for index in range(total):
                while upcoming is not None and upcoming[0] <= index / fps + 1e-6:
                    current, upcoming = upcoming, next(decoded, None)
                yield fit_frame(current[1], width, height)
    except av.FFmpegError as exc:
        raise InvalidMedia(f"The source video cannot be decoded ({exc}).") from exc


def _timed_frames(frames: Iterator[av.VideoFrame], fps: float) -> Iterator[tuple[float, av.VideoFrame]]:
    start: float | None = None
    for count, frame in enumerate(frames):
        moment = frame.time if frame.time is not None else count / fps
        start = moment if start is None else start
        yield moment - start, frame


def fit_frame(source: av.VideoFrame, width: int, height: int) -> Planes:
    """A decoded frame cover-fitted into a frame of our own (never the decoder's buffers)."""
    scale = max(width / source.width, height / source.height)
    fit_w = max(width, 2 * math.ceil(source.width * scale / 2))
    fit_h = max(height, 2 * math.ceil(source.height * scale / 2))
    fitted = source.reformat(width=fit_w, height=fit_h, format="yuv420p")
    planes = frame_planes(fitted).crop((fit_w - width) // 4 * 2, (fit_h - height) // 4 * 2, width, height)
    # When nothing needed scaling, reformat hands back the decoder's frame, which it may still refer to.
    return planes.copy() if fitted is source else planes
