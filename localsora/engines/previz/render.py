"""Previz rendering: plan a job's frames and sound from its prompt and inputs, then hand them to the writer."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from localsora.encode import AUDIO_RATE, write_clip
from localsora.engines.base import Keyframe, RenderRequest
from localsora.engines.previz.audio import crossfade, source_audio, synth_audio
from localsora.engines.previz.look import Look, read_look
from localsora.engines.previz.overlay import FrameOverlay
from localsora.engines.previz.scene import FPS, extended_frames, reference_frames, restyled_frames, scene_frames
from localsora.frames import Planes
from localsora.media import load_picture, placed_clip_frames, probe_video

RENDER_MODES = ("generate", "remix", "edit", "extend")


def render(
    request: RenderRequest,
    out_dir: Path,
    on_progress: Callable[[int, int], None] | None = None,
    frame_delay: float | Callable[[], float] = 0.0,
) -> int:
    """Render the request into `out_dir`; returns the number of frames. `on_progress(done, total)`. A callable
    `frame_delay` is asked at each frame, so a slowed job can be sped up (or held) while it renders."""
    _check_request(request)
    look = read_look(request.prompt, request.seed)
    # The pad's key and colour follow the audio_prompt where one is given, the prompt's look otherwise.
    tone = look if request.audio_prompt is None else read_look(request.audio_prompt, request.seed)
    plan = _plan(request, look, tone)
    overlay = FrameOverlay(request.prompt, look, request.width, request.height,
                           over_source=request.mode != "generate")
    report_every = max(1, plan.total // 20)

    def on_frame(done: int) -> None:
        delay = frame_delay() if callable(frame_delay) else frame_delay
        if delay > 0:
            time.sleep(delay)
        if on_progress and (done == plan.total or done % report_every == 0):
            on_progress(done, plan.total)

    frames = _drawn_ahead(_captioned(plan, overlay))
    try:
        write_clip(out_dir, frames, plan.total, width=request.width, height=request.height, fps=plan.fps,
                   audio=None if request.sound is False else plan.audio, on_frame=on_frame)
    finally:
        frames.close()  # stops the drawing thread
    return plan.total


def _check_request(request: RenderRequest) -> None:
    if request.mode not in RENDER_MODES:
        raise ValueError(f"Unknown render mode {request.mode!r}; expected one of {', '.join(RENDER_MODES)}.")
    if request.width < 16 or request.height < 16 or request.width % 2 or request.height % 2:
        raise ValueError(f"The size must be even and at least 16x16; got {request.width}x{request.height}.")
    if request.mode in ("generate", "extend") and not frame_count(request) > 0:
        raise ValueError(f"The length must be at least one frame; got {request.seconds} s.")
    if request.mode != "generate" and request.source_video is None:
        raise ValueError(f"A {request.mode} render needs a source video.")


def frame_count(request: RenderRequest) -> int:
    """The new frames a request asks for: `num_frames` when given (a new video), else its seconds at its rate."""
    if request.mode == "generate" and request.num_frames is not None:
        return request.num_frames
    return round(request.seconds * (request.fps or FPS))


@dataclass
class _Plan:
    frames: Iterator[Planes]
    total: int
    fps: int
    captioned_from: int  # frames before this one are kept as they are (the source part of an extension)
    audio: Callable[[], np.ndarray]  # float32 (2, samples), made on the audio thread
    kept: frozenset[int] = frozenset()  # placed frames (inpaint_items), shown as they are


def _plan(request: RenderRequest, look: Look, tone: Look) -> _Plan:
    """The frames as `look` draws them, and the sound, whose synthesized pad is `tone`'s."""
    width, height, fps = request.width, request.height, request.fps or FPS
    if request.mode == "generate":
        total = frame_count(request)
        if request.reference_image is not None:
            frames = reference_frames(request.reference_image, look.motion, total, width, height)
        else:
            frames = scene_frames(look, total, width, height)
        spans = [(keyframe, keyframe.covered(total, fps)) for keyframe in request.placed()]
        if spans:
            frames = _with_placed(frames, spans, width, height, fps)
        kept = frozenset(index for keyframe, count in spans for index in range(keyframe.frame_index,
                                                                               keyframe.frame_index + count))
        return _Plan(frames, total, fps, 0, lambda: synth_audio(tone, _samples(total, fps)), kept)

    assert request.source_video is not None
    path = request.source_video
    source = probe_video(path)
    source_total = max(1, round(source.duration * fps))
    if request.mode in ("remix", "edit"):
        frames = restyled_frames(path, source_total, look, width, height, fps)
        return _Plan(
            frames, source_total, fps, 0, lambda: source_audio(path, source, tone, _samples(source_total, fps))
        )

    new_total = frame_count(request)
    frames = extended_frames(path, source_total, new_total, look, width, height, fps)

    def audio() -> np.ndarray:
        first = source_audio(path, source, tone, _samples(source_total, fps))
        return crossfade(first, synth_audio(tone, _samples(new_total, fps)))

    return _Plan(frames, source_total + new_total, fps, source_total, audio)


def _with_placed(drawn: Iterator[Planes], spans: list[tuple[Keyframe, int]], width: int, height: int,
                 fps: int) -> Iterator[Planes]:
    """The drawn frames with the placed ones in their place; where placements overlap, the later one shows."""
    sources = [
        (keyframe.frame_index, count,
         iter([load_picture(keyframe.file, width, height)]) if keyframe.type == "image" else
         placed_clip_frames(keyframe.file, keyframe.crop, count, width, height, fps))
        for keyframe, count in spans
    ]
    for index, frame in enumerate(drawn):
        shown = frame
        for start, count, frames in sources:
            if start <= index < start + count:
                shown = next(frames)  # every covering source moves on, so each stays on its own frame
        yield shown


def _samples(frames: int, fps: int) -> int:
    return frames * AUDIO_RATE // fps


def _captioned(plan: _Plan, overlay: FrameOverlay) -> Iterator[Planes]:
    """Caption the new frames, on the drawing thread."""
    new_frames = plan.total - plan.captioned_from
    for index, frame in enumerate(plan.frames):
        if index >= plan.captioned_from and index not in plan.kept:
            overlay.apply(frame, (index - plan.captioned_from) / max(1, new_frames - 1))
        yield frame


_DONE = object()


def _drawn_ahead(frames: Iterator[Planes], depth: int = 4) -> Iterator[Planes]:
    """Draw frames on a worker thread a few frames ahead, so drawing overlaps encoding."""
    ready: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand_over(item: object) -> bool:
        while not stop.is_set():
            with contextlib.suppress(queue.Full):
                ready.put(item, timeout=0.05)
                return True
        return False

    def draw() -> None:
        try:
            for frame in frames:
                if not hand_over(frame):
                    return
            hand_over(_DONE)
        except BaseException as exc:  # raised again on the rendering thread
            hand_over(exc)
        finally:
            close = getattr(frames, "close", None)
            if close:
                close()  # releases a source video the generator may hold open

    worker = threading.Thread(target=draw, name="localsora-draw", daemon=True)
    worker.start()
    try:
        while (item := ready.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()
