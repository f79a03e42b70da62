"""Keyframes: pictures or clips placed at chosen frames of a video (the Sora 1 API's `inpaint_items`), and Loop and
Blend, which are keyframe requests built from videos in the library.

On the wire a create request carries `inpaint_items`, a JSON array of `{"frame_index", "type", "file_name"}`, as a
JSON-encoded text field of the multipart form, and each placed file as a part named `files`, matched by file name.
`frame_index` counts frames of the delivered MP4; a negative one counts from the end (-1: the last frame), so an end
frame needs no frame rate. localsora takes at most 8 items, and no `input_reference` beside them (the reference goes
as an item at frame 0).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from studio import errors

DEFAULT_FPS = 24  # localsora's and most engines' rate, when the request names none
PLACEABLE_IMAGES = ("image/png", "image/jpeg", "image/webp")
LAST_FRAME = -1
MAX_KEYFRAMES = 8
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
    if len(keyframes) > MAX_KEYFRAMES:
        raise errors.InvalidInput(f"Place at most {MAX_KEYFRAMES} keyframes; there are {len(keyframes)}.")
    seen: dict[int, str] = {}
    for keyframe in keyframes:
        if not -frames <= keyframe.frame_index < frames:
            raise errors.InvalidInput(
                f"{keyframe.file_name} is placed at frame {keyframe.frame_index}, but the video has frames 0 to "
                f"{frames - 1}.")
        frame = keyframe.frame_index % frames
        if frame in seen:
            raise errors.InvalidInput(
                f"{seen[frame]} and {keyframe.file_name} are both placed at frame {frame}; move one.")
        seen[frame] = keyframe.file_name
    names = [k.file_name for k in keyframes]
    if len(set(names)) != len(names):
        raise errors.InvalidInput("Two keyframes have the same file name; the server could not tell them apart.")


def inpaint_form(keyframes: list[Keyframe]) -> tuple[str, list[tuple[str, tuple[str, bytes, str]]]]:
    """The `inpaint_items` field (JSON text, as a form field is text) and the `files` parts that go with it."""
    ordered = sorted(keyframes, key=lambda k: (k.frame_index < 0, k.frame_index))  # the end's last
    return json.dumps([k.item() for k in ordered]), [("files", k.as_upload()) for k in ordered]


def still_at(path: Path, which: Literal["first", "last"]) -> bytes:
    """A clip's first or last picture, as PNG."""
    import av  # loaded with the first Loop or Blend, not with the app (its cold start loads no PyAV)
    from PIL import Image

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


def bridge_keyframes(from_clip: Path, to_clip: Path) -> list[Keyframe]:
    """A bridge from the end of `from_clip` into the start of `to_clip`: the one's last picture at frame 0, the
    other's first at the last frame. Loop bridges a clip into itself (clip + bridge plays round seamlessly); Blend
    bridges one clip into another."""
    return [Keyframe(0, "from.png", still_at(from_clip, "last"), "image/png"),
            Keyframe(LAST_FRAME, "to.png", still_at(to_clip, "first"), "image/png")]


KEPT_KEYFRAMES = "keyframes.json"  # in a video's library folder: what Retry sends again


def keep_keyframes(folder: Path, keyframes: tuple[Keyframe, ...]) -> None:
    """Store the placed pictures beside the video, so a Retry places them again."""
    kept = []
    for number, keyframe in enumerate(keyframes):
        stored = f"keyframe-{number}{Path(keyframe.file_name).suffix or '.png'}"
        (folder / stored).write_bytes(keyframe.data)
        kept.append({**keyframe.item(), "mime": keyframe.mime, "stored": stored})
    (folder / KEPT_KEYFRAMES).write_text(json.dumps(kept))


def kept_keyframes(folder: Path) -> tuple[Keyframe, ...]:
    """The pictures `keep_keyframes` stored; none when there are none (or they were lost)."""
    try:
        kept = json.loads((folder / KEPT_KEYFRAMES).read_text())
        return tuple(Keyframe(int(item["frame_index"]), str(item["file_name"]),
                              (folder / Path(str(item["stored"])).name).read_bytes(), str(item["mime"]))
                     for item in kept)
    except (OSError, ValueError, KeyError, TypeError):
        return ()
