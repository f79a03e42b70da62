"""Media checks for tests: decode real files with PyAV and Pillow."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image


@dataclass
class DecodedVideo:
    width: int
    height: int
    duration: float
    video_codec: str
    pixel_format: str
    audio_codec: str | None
    frames: int
    frame_means: list[float]  # mean luma of sampled frames
    fps: float  # the stream's average frame rate


def decode_mp4(source: bytes | Path, samples: int = 8) -> DecodedVideo:
    file = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    with av.open(file) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        decoded = [frame.to_ndarray(format="gray") for frame in container.decode(video=0)]
        duration = float(container.duration / av.time_base) if container.duration else 0.0
        step = max(1, len(decoded) // samples)
        return DecodedVideo(
            width=video.codec_context.width,
            height=video.codec_context.height,
            duration=duration,
            video_codec=video.codec_context.name,
            pixel_format=video.codec_context.pix_fmt or "",
            audio_codec=audio.codec_context.name if audio else None,
            frames=len(decoded),
            frame_means=[float(np.mean(f)) for f in decoded[::step]],
            fps=float(video.average_rate or 0),
        )


def decoded_frames(data: bytes) -> list[np.ndarray]:
    """Every frame of an MP4's bytes as RGB, int16 so that frames can be subtracted."""
    with av.open(io.BytesIO(data)) as container:
        return [f.to_ndarray(format="rgb24").astype(np.int16) for f in container.decode(video=0)]


def mean_difference(first: bytes, second: bytes) -> float:
    """How far apart two clips of the same shape are: the mean absolute difference of their pixels, 0-255."""
    return float(np.mean([np.abs(a - b).mean() for a, b in zip(decoded_frames(first), decoded_frames(second),
                                                                 strict=True)]))


def frames_differ(source: bytes | Path) -> bool:
    """True when the first and last frames are visibly different pictures."""
    file = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    with av.open(file) as container:
        frames = [f.to_ndarray(format="gray").astype(np.int16) for f in container.decode(video=0)]
    return float(np.mean(np.abs(frames[0] - frames[-1]))) > 2.0


def top_level_boxes(data: bytes | Path) -> list[str]:
    """The MP4's top-level box types in file order (faststart puts moov before mdat)."""
    data = data.read_bytes() if isinstance(data, Path) else data
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset:offset + 4], "big")
        kind = data[offset + 4:offset + 8].decode("latin-1")
        if size == 1:
            size = int.from_bytes(data[offset + 8:offset + 16], "big")
        elif size == 0:  # the last box, running to the end of the file
            size = len(data) - offset
        boxes.append(kind)
        if size < 8:
            break
        offset += size
    return boxes


def image_format(data: bytes) -> str:
    with Image.open(io.BytesIO(data)) as image:
        return image.format or ""


def encode_image(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    """The image as a file of format `fmt` (PNG, JPEG, WEBP, GIF...), in memory."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_bytes(width: int, height: int, color: tuple[int, int, int] = (200, 60, 40), fmt: str = "PNG") -> bytes:
    """A plain one-colour picture, as a PNG unless `fmt` says otherwise."""
    return encode_image(Image.new("RGB", (width, height), color), fmt)


def mp4_bytes(width: int, height: int, frames: int, color: tuple[int, int, int] = (40, 120, 200)) -> bytes:
    """A short one-colour H.264 MP4 at 24 fps, in memory."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        picture = np.full((height, width, 3), color, dtype=np.uint8)
        for _ in range(frames):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode(None))
    return buffer.getvalue()


def tracks(data: bytes) -> tuple[float, int, float | None, str | None]:
    """(video seconds, video frames, audio seconds or None, audio codec or None) of an MP4, as PyAV reads them."""
    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        frames = samples = 0
        for frame in container.decode(*container.streams):  # one pass: a second would find the packets spent
            if isinstance(frame, av.AudioFrame):
                samples += frame.samples
            else:
                frames += 1
        video_seconds = frames / float(video.average_rate)
        if audio is None:
            return video_seconds, frames, None, None
        return video_seconds, frames, samples / audio.codec_context.sample_rate, audio.codec_context.name


def sound_of(data: bytes) -> np.ndarray:
    """An MP4's sound as float32 (channels, samples) at its own rate."""
    with av.open(io.BytesIO(data)) as container:
        return np.concatenate([frame.to_ndarray() for frame in container.decode(audio=0)], axis=1)
