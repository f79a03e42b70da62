"""Clips joined into one MP4 with PyAV, and a clip's last frame as a picture.

The picture stream is copied, packet for packet, when every clip has the film's size and the same encoding (codec,
pixel format, time base, codec headers); otherwise it is re-encoded (H.264) at the film's size, each clip scaled
to fit with black bars. Sound follows the clips: each keeps its own, crossfaded into the next at the joins (so
re-encoded, AAC, with silence under clips that have none), copied as it is for a single clip, and left out when no
clip has sound.
"""

from __future__ import annotations

import contextlib
import heapq
import io
import itertools
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np
from PIL import Image

from studio.errors import InvalidInput
from studio.media.images import parse_size

DEFAULT_FPS = 24
AUDIO_RATE = 48_000
# How long two shots' sounds overlap at a join, centred on the cut so that each stays in sync with its picture.
CROSSFADE_SECONDS = 0.06
BLACK = (0, 0, 0)
Handling = Literal["copied", "encoded", "none"]


@dataclass(frozen=True)
class Clip:
    """What the join needs to know about one clip, read without decoding it."""

    path: Path
    width: int
    height: int
    codec: str
    pix_fmt: str
    time_base: Fraction
    fps: Fraction
    extradata: bytes
    duration: float  # seconds of picture: first packet to the end of the last
    audio_codec: str | None
    audio_rate: int | None
    audio_channels: int | None
    audio_extradata: bytes


@dataclass(frozen=True)
class JoinedFilm:
    path: Path
    width: int
    height: int
    duration: float
    video: Handling
    audio: Handling


def probe(path: Path) -> Clip:
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InvalidInput(f"{path.name} has no picture to join.")
            video = container.streams.video[0]
            audio = container.streams.audio[0] if container.streams.audio else None
            start = end = None
            for packet in container.demux(video):
                if packet.pts is None:
                    continue
                start = packet.pts if start is None else min(start, packet.pts)
                end = max(end or 0, packet.pts + (packet.duration or 0))
            tb = video.time_base or Fraction(1, DEFAULT_FPS)
            duration = float((end - start) * tb) if start is not None and end is not None else 0.0
            return Clip(
                path=path, width=video.codec_context.width, height=video.codec_context.height,
                codec=video.codec_context.name, pix_fmt=video.codec_context.pix_fmt or "", time_base=tb,
                fps=video.average_rate or Fraction(DEFAULT_FPS), extradata=bytes(video.codec_context.extradata or b""),
                duration=duration,
                audio_codec=audio.codec_context.name if audio else None,
                audio_rate=audio.codec_context.sample_rate if audio else None,
                audio_channels=audio.codec_context.channels if audio else None,
                audio_extradata=bytes(audio.codec_context.extradata or b"") if audio else b"",
            )
    except av.FFmpegError as exc:
        raise InvalidInput(f"{path.name} is not a video that can be read: {exc}.") from exc


def join_clips(paths: Sequence[Path], size: str, target: Path) -> JoinedFilm:
    """Join `paths` in order into one faststart MP4 of `size` at `target` (written whole, then renamed)."""
    if not paths:
        raise InvalidInput("There are no clips to join.")
    width, height = parse_size(size)
    clips = [probe(Path(p)) for p in paths]
    first = clips[0]
    copy_video = all(
        (c.width, c.height, c.codec, c.pix_fmt, c.time_base, c.extradata)
        == (width, height, first.codec, first.pix_fmt, first.time_base, first.extradata) for c in clips)
    with_sound = [c for c in clips if c.audio_codec]
    if not with_sound:
        audio: Handling = "none"
    elif len(clips) == 1 and copy_video and all(
            (c.audio_codec, c.audio_rate, c.audio_channels, c.audio_extradata)
            == (first.audio_codec, first.audio_rate, first.audio_channels, first.audio_extradata) for c in clips):
        audio = "copied"
    else:
        audio = "encoded"
    fps = first.fps if first.fps and first.fps <= 120 else Fraction(DEFAULT_FPS)
    # Where each clip starts in the film: copied clips keep their own length; encoded ones are whole frames.
    lengths = [c.duration if copy_video else float(round(c.duration * fps) / fps) for c in clips]
    starts = [float(s) for s in itertools.accumulate([0.0, *lengths[:-1]])]

    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    try:
        with av.open(str(partial), mode="w", format="mp4", options={"movflags": "+faststart"}) as out, \
                contextlib.ExitStack() as inputs:
            sources = [inputs.enter_context(av.open(str(c.path))) for c in clips]
            if copy_video:
                video_out = out.add_stream_from_template(sources[0].streams.video[0])
                pictures = _copied(sources, "video", video_out, starts)
            else:
                video_out = out.add_stream("libx264", rate=fps, options={"preset": "veryfast", "crf": "20"})
                video_out.width, video_out.height, video_out.pix_fmt = width, height, "yuv420p"
                pictures = _encoded_video(clips, video_out, fps, (width, height))
            sound: Iterator[tuple[float, int, av.Packet]] = iter(())
            if audio == "copied":
                sound_out = out.add_stream_from_template(sources[0].streams.audio[0])
                sound = _copied(sources, "audio", sound_out, starts)
            elif audio == "encoded":
                rate = with_sound[0].audio_rate or AUDIO_RATE
                sound_out = out.add_stream("aac", rate=rate, layout="stereo")
                sound_out.bit_rate = 128_000
                sound = _encoded_audio(clips, sound_out, rate, lengths)
            # Interleaved by time, so a browser can play the film while it downloads.
            for _, _, packet in heapq.merge(pictures, sound, key=lambda item: (item[0], item[1])):
                out.mux(packet)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return JoinedFilm(target, width, height, sum(lengths), "copied" if copy_video else "encoded", audio)


_order = itertools.count()  # ties in time keep the order the packets were made in


def _copied(sources: list[av.container.InputContainer], kind: str, stream: av.stream.Stream,
            starts: list[float]) -> Iterator[tuple[float, int, av.Packet]]:
    """Every clip's packets of `kind`, moved to where the clip starts in the film, never overlapping the last."""
    next_free = None
    for source, start in zip(sources, starts, strict=True):
        if not getattr(source.streams, kind):
            continue
        in_stream = getattr(source.streams, kind)[0]
        tb = in_stream.time_base
        first_pts = None
        offset = None
        for packet in source.demux(in_stream):
            if packet.pts is None or packet.dts is None:
                continue  # the demuxer's empty packet at the end
            if first_pts is None:
                first_pts = packet.dts
                offset = round(start / tb) - first_pts
                if next_free is not None:
                    offset = max(offset, next_free - first_pts)
            assert offset is not None
            packet.pts += offset
            packet.dts += offset
            next_free = max(next_free or 0, packet.dts + (packet.duration or 1))
            packet.stream = stream
            packet.time_base = tb
            yield float(packet.dts * tb), next(_order), packet


def _encoded_video(clips: list[Clip], stream: av.stream.Stream, fps: Fraction,
                   size: tuple[int, int]) -> Iterator[tuple[float, int, av.Packet]]:
    index = 0
    for clip in clips:
        for picture in _frames_at(clip, fps):
            frame = av.VideoFrame.from_ndarray(_fitted(picture, size), format="rgb24").reformat(format="yuv420p")
            frame.pts, frame.time_base = index, Fraction(1) / fps
            index += 1
            for packet in stream.encode(frame):
                yield _timed(packet)
    for packet in stream.encode(None):
        yield _timed(packet)


def _frames_at(clip: Clip, fps: Fraction) -> Iterator[av.VideoFrame]:
    """The clip's pictures at the film's frame rate, covering its length in whole frames."""
    total = max(1, round(clip.duration * fps))
    emitted = 0
    last = None
    with av.open(str(clip.path)) as container:
        start = None
        for frame in container.decode(video=0):
            time = frame.time or 0.0
            start = time if start is None else start
            while last is not None and emitted < total and emitted / fps < time - start:
                yield last
                emitted += 1
            last = frame
    while last is not None and emitted < total:
        yield last
        emitted += 1


def _fitted(frame: av.VideoFrame, size: tuple[int, int]) -> np.ndarray:
    """The picture scaled to fit `size`, centred on black."""
    width, height = size
    if (frame.width, frame.height) == size:
        return frame.to_ndarray(format="rgb24")
    scale = min(width / frame.width, height / frame.height)
    inner_w = max(2, round(frame.width * scale) // 2 * 2)
    inner_h = max(2, round(frame.height * scale) // 2 * 2)
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    left, top = (width - inner_w) // 2, (height - inner_h) // 2
    canvas[top:top + inner_h, left:left + inner_w] = frame.reformat(width=inner_w, height=inner_h,
                                                                    format="rgb24").to_ndarray()
    return canvas


def _encoded_audio(clips: list[Clip], stream: av.stream.Stream, rate: int,
                   lengths: list[float]) -> Iterator[tuple[float, int, av.Packet]]:
    """Each clip's sound (silence where it has none), cut or padded to the clip's length in the film, and
    crossfaded into the next at each join."""
    step = stream.codec_context.frame_size or 1024
    mixed = _crossfaded([_sound_at_length(clip, rate, round(length * rate)) for clip, length in zip(
        clips, lengths, strict=True)], round(CROSSFADE_SECONDS * rate / 2))
    for written in range(0, mixed.shape[1], step):
        yield from _encode_chunk(stream, mixed[:, written:written + step], written, rate)
    for packet in stream.encode(None):
        yield _timed(packet)


def _sound_at_length(clip: Clip, rate: int, wanted: int) -> np.ndarray:
    sound = _sound_of(clip, rate, "fltp", "stereo") if clip.audio_codec else np.zeros((2, 0), np.float32)
    sound = sound[:, :wanted]
    return np.pad(sound, ((0, 0), (0, wanted - sound.shape[1])))


def _crossfaded(sounds: list[np.ndarray], half: int) -> np.ndarray:
    """The sounds one after another, each join an equal-power crossfade of 2 x `half` samples centred on the cut.

    A clip has no sound beyond its own ends, so each is lengthened there by its own edge mirrored (which meets
    the edge with no click); the film keeps the clips' total length and every clip stays in sync."""
    total = sum(s.shape[1] for s in sounds)
    film = np.zeros((2, total + 2 * half), np.float32)  # `half` of room either side, cut off at the end
    ramp = np.sin(np.linspace(0, np.pi / 2, 2 * half, dtype=np.float32)) ** 2
    start = half
    for index, sound in enumerate(sounds):
        edge = min(half, sound.shape[1])
        lead = sound[:, :edge][:, ::-1] if index else np.zeros((2, 0), np.float32)
        tail = sound[:, sound.shape[1] - edge:][:, ::-1] if index < len(sounds) - 1 else np.zeros((2, 0), np.float32)
        piece = np.concatenate([lead, sound, tail], axis=1)
        if lead.shape[1]:
            piece[:, :2 * edge] *= np.sqrt(ramp[:2 * edge] if edge == half else np.linspace(0, 1, 2 * edge))
        if tail.shape[1]:
            piece[:, -2 * edge:] *= np.sqrt(ramp[::-1][-2 * edge:] if edge == half else np.linspace(1, 0, 2 * edge))
        begin = start - lead.shape[1]
        film[:, begin:begin + piece.shape[1]] += piece
        start += sound.shape[1]
    return film[:, half:half + total]


def _encode_chunk(stream: av.stream.Stream, samples: np.ndarray, pts: int,
                  rate: int) -> Iterator[tuple[float, int, av.Packet]]:
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format="fltp", layout="stereo")
    frame.sample_rate, frame.pts, frame.time_base = rate, pts, Fraction(1, rate)
    for packet in stream.encode(frame):
        yield _timed(packet)


def _sound_of(clip: Clip, rate: int, sample_format: str, layout: str) -> np.ndarray:
    resampler = av.AudioResampler(format=sample_format, layout=layout, rate=rate)
    parts = []
    with av.open(str(clip.path)) as container:
        for frame in container.decode(audio=0):
            parts += [f.to_ndarray() for f in resampler.resample(frame)]
    parts += [f.to_ndarray() for f in resampler.resample(None)]
    return np.concatenate(parts, axis=1).astype(np.float32) if parts else np.zeros((2, 0), np.float32)


def _timed(packet: av.Packet) -> tuple[float, int, av.Packet]:
    when = float(packet.dts * packet.time_base) if packet.dts is not None and packet.time_base else 0.0
    return when, next(_order), packet


def last_frame_png(path: Path) -> bytes:
    """The clip's last picture as PNG: where the next shot starts."""
    last = None
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                last = frame
    except av.FFmpegError as exc:
        raise InvalidInput(f"{path.name} cannot be read for its last frame: {exc}.") from exc
    if last is None:
        raise InvalidInput(f"{path.name} has no frames.")
    out = io.BytesIO()
    Image.fromarray(last.to_ndarray(format="rgb24")).save(out, "PNG")
    return out.getvalue()
