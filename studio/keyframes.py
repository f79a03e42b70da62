"""Keyframes: pictures or clips placed at chosen frames of a video (the Sora 1 API's `inpaint_items`), and Loop and
Blend, which are keyframe requests built from videos in the library.

On the wire a create request carries `inpaint_items`, a JSON array of `{"frame_index", "type", "file_name"}`, as a
JSON-encoded text field of the multipart form, and each placed file as a part named `files`, matched by file name.
`frame_index` counts frames of the delivered MP4.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av
from PIL import Image

from studio import errors

DEFAULT_FPS = 24  # localsora's and most engines' rate, when the request names none
PLACEABLE_IMAGES = ("image/png", "image/jpeg", "image/webp")
ItemType = Literal["image", "video"]


@dataclass(frozen=True)
class Keyframe:
    """One picture or clip, placed at `frame_index` of the video made."""

    frame_index: int
    file_name: str
    data: bytes = field(repr=False)
    mime: str

    @property
    def type(self) -> ItemType:
        return "video" if self.mime.startswith("video/") else "image"

    def item(self) -> dict[str, Any]:
        return {"frame_index": self.frame_index, "type": self.type, "file_name": self.file_name}

    def as_upload(self) -> tuple[str, bytes, str]:
        return self.file_name, self.data, self.mime


def frame_count(seconds: str | float, fps: int | float | None = None) -> int:
    """How many frames a video of `seconds` has at `fps` (the request's own, else the usual 24)."""
    return max(1, round(float(seconds) * float(fps or DEFAULT_FPS)))


def image_keyframe(frame_index: int, name: str, data: bytes, mime: str) -> Keyframe:
    if mime not in PLACEABLE_IMAGES:
        raise errors.InvalidInput(f"{name} is {mime or 'of no known type'}; a keyframe must be PNG, JPEG or WebP.")
    return Keyframe(frame_index, name, data, mime)


def check_keyframes(keyframes: list[Keyframe], frames: int) -> None:
    """Every placement inside the video, one per frame, with distinct file names (the server matches by name)."""
    seen: dict[int, str] = {}
    for keyframe in keyframes:
        if not 0 <= keyframe.frame_index < frames:
            raise errors.InvalidInput(
                f"{keyframe.file_name} is placed at frame {keyframe.frame_index}, but the video has frames 0 to "
                f"{frames - 1}.")
        if keyframe.frame_index in seen:
            raise errors.InvalidInput(
                f"{seen[keyframe.frame_index]} and {keyframe.file_name} are both placed at frame "
                f"{keyframe.frame_index}; move one.")
        seen[keyframe.frame_index] = keyframe.file_name
    names = [k.file_name for k in keyframes]
    if len(set(names)) != len(names):
        raise errors.InvalidInput("Two keyframes have the same file name; the server could not tell them apart.")


def inpaint_form(keyframes: list[Keyframe]) -> tuple[str, list[tuple[str, tuple[str, bytes, str]]]]:
    """The `inpaint_items` field (JSON text, as a form field is text) and the `files` parts that go with it."""
    ordered = sorted(keyframes, key=lambda k: k.frame_index)
    return json.dumps([k.item() for k in ordered]), [("files", k.as_upload()) for k in ordered]


def still_at(path: Path, which: Literal["first", "last"]) -> bytes:
    """A clip's first or last picture, as PNG."""
    chosen = None
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                chosen = frame
                if which == "first":
                    break
    except av.FFmpegError as exc:
        raise errors.InvalidInput(f"{path.name} cannot be read: {exc}.") from exc
    if chosen is None:
        raise errors.InvalidInput(f"{path.name} has no frames.")
    out = io.BytesIO()
    Image.fromarray(chosen.to_ndarray(format="rgb24")).save(out, "PNG")
    return out.getvalue()


def clip_fps(path: Path) -> Fraction:
    with av.open(str(path)) as container:
        return container.streams.video[0].average_rate or Fraction(DEFAULT_FPS)


def loop_keyframes(clip: Path, frames: int) -> list[Keyframe]:
    """Loop: a clip that starts where `clip` ends and leads back into its first frame, so the two play on repeat:
    the clip's last picture at frame 0 and its first at the last frame."""
    return [Keyframe(0, "loop-start.png", still_at(clip, "last"), "image/png"),
            Keyframe(frames - 1, "loop-end.png", still_at(clip, "first"), "image/png")]


def blend_keyframes(first: Path, second: Path, frames: int) -> list[Keyframe]:
    """Blend: a transition from the end of `first` to the start of `second`: the one's last picture at frame 0,
    the other's first at the last frame."""
    return [Keyframe(0, "blend-from.png", still_at(first, "last"), "image/png"),
            Keyframe(frames - 1, "blend-to.png", still_at(second, "first"), "image/png")]
