"""What every engine is: it declares what it can do, checks a request up front, and renders a job's frames.

The job engine (localsora/job_queue.py) owns the queue, progress and cancelling; the server owns the HTTP
contract; an engine only turns one `RenderRequest` into the three files the writer (localsora/encode.py)
makes. So a new model family is one new engine, or one new entry in the diffusers engine's registry.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from localsora.media import probe_video

# The contract's job kinds, as a capability: create without and with a reference image, remix, edit, extend;
# and keyframes: a create with images or clips placed at frames (`inpaint_items`).
MODES = ("text", "image", "remix", "edit", "extend", "keyframes")

ProgressCallback = Callable[[float], None]  # the share done, 0..1; raising from it stops the render


class RenderCancelled(Exception):
    """Raised by a progress callback to stop a render (the job was deleted, or the server is stopping)."""


class RequestRefused(ValueError):
    """A request this engine cannot serve: a 400 at create time, never a failed job later."""

    def __init__(self, message: str, param: str | None = None, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


class JobFailed(Exception):
    """A render that failed for a reason the user can act on: the job fails with this code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Parameter:
    """A request field beyond Sora's, named as vLLM-Omni names it, with the range the engine accepts."""

    name: str
    kind: type  # int, float, str or bool
    description: str
    minimum: float | None = None
    maximum: float | None = None

    def parse(self, raw: object) -> Any:
        """The value of a JSON or multipart field, checked; a wrong type or range names this field."""
        if self.kind is bool:
            if raw in (True, False, "true", "false"):  # a multipart form's text, where it came as one
                return raw in (True, "true")
            raise RequestRefused(f"'{self.name}' must be true or false; got {str(raw)[:40]!r}.", param=self.name,
                                 code="invalid_type")
        if self.kind is str:
            if not isinstance(raw, str):
                raise RequestRefused(f"'{self.name}' must be a string.", param=self.name, code="invalid_type")
            if self.maximum is not None and len(raw) > self.maximum:
                raise RequestRefused(f"'{self.name}' is {len(raw):,} characters; the maximum is "
                                     f"{self.maximum:,.0f}.", param=self.name, code="string_above_max_length")
            return raw
        value = _number(raw, self.kind)
        if value is None:
            article = "an integer" if self.kind is int else "a number"
            raise RequestRefused(f"'{self.name}' must be {article}; got {str(raw)[:40]!r}.", param=self.name,
                                 code="invalid_type")
        low = -math.inf if self.minimum is None else self.minimum
        high = math.inf if self.maximum is None else self.maximum
        if not low <= value <= high:
            raise RequestRefused(f"'{self.name}' must be between {_plain(low)} and {_plain(high)}; got "
                                 f"{_plain(value)}.", param=self.name)
        return value

    def to_api(self) -> dict[str, Any]:
        kind = {int: "integer", float: "number", str: "string", bool: "boolean"}[self.kind]
        return {"type": kind, "minimum": self.minimum, "maximum": self.maximum, "description": self.description}


def _number(raw: object, kind: type) -> int | float | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str):  # multipart sends every field as text
        try:
            raw = float(raw) if kind is float else int(raw.strip())
        except ValueError:
            return None
    if kind is int and isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if kind is int and not isinstance(raw, int):
        return None
    if not isinstance(raw, int | float) or not math.isfinite(raw):
        return None
    return kind(raw)


def _plain(value: float) -> str:
    if math.isfinite(value) and float(value).is_integer():
        return str(int(value))
    return f"{value:g}" if math.isfinite(value) else str(value)


SEED = Parameter("seed", int, "Same seed, same video. Left out, a random seed is chosen.", 0, 2**32 - 1)
NEGATIVE_PROMPT = Parameter("negative_prompt", str, "What the picture should avoid.", maximum=4000)
STEPS = Parameter("num_inference_steps", int, "Denoising steps: more is slower and finer.", 1, 200)
GUIDANCE = Parameter("guidance_scale", float, "How closely to follow the prompt.", 0.0, 30.0)
FPS = Parameter("fps", int, "Frames per second of the delivered MP4.", 1, 60)
NUM_FRAMES = Parameter("num_frames", int, "Frames the model generates; the clip still lasts `seconds`.", 1, 1025)
STRENGTH = Parameter("strength", float, "Remix and edits: how far to move from the source video; 0 keeps it, 1 "
                     "ignores it (0.7 when left out).", 0.0, 1.0)
SOUND = Parameter("sound", bool, "false: the clip gets no audio track, even where the model makes sound.")
AUDIO_PROMPT = Parameter("audio_prompt", str, "What the soundtrack should sound like; left out, the prompt says.",
                         maximum=4000)


@dataclass(frozen=True)
class CheckpointSummary:
    """What the loaded checkpoint was trained for and what a request that leaves a setting out gets."""

    checkpoint: str  # "Wan2.1-T2V-1.3B", or the family's name for a checkpoint no profile knows
    trained_frames: int | None
    trained_fps: int
    frame_rule: str  # "4k+1": the frame counts the model takes
    default_steps: int | None  # None: the pipeline's own default
    default_guidance: float | None
    guidance_scale_2: float | None  # a second expert's guidance (Wan 2.2 A14B)
    flow_shift: dict[str, float]  # size class ("480p") -> the scheduler's flow_shift there
    default_negative_prompt: str | None


@dataclass(frozen=True)
class Acceleration:
    """How the loaded model is fitted to the device and sped up: the `--memory`, `--weights`, `--attention`, ...
    settings in force (`auto` resolved), for GET /v1/models."""

    memory: str  # none | model | group | sequential
    vae_tiling: str  # auto | on | off
    weights: str  # bf16 | fp8
    quantize: str
    attention: str
    compile: bool
    cache: str | None
    loras: tuple[tuple[str, float], ...] = ()  # (name, scale) of each loaded LoRA


@dataclass(frozen=True)
class Capabilities:
    engine: str  # "previz" or "diffusers"
    serving: str  # what the studio shows: "Wan2.1-T2V-1.3B on cuda:0"
    models: dict[str, tuple[str, ...]]  # model id -> sizes "WxH"
    modes: tuple[str, ...]  # a subset of MODES
    durations: tuple[str, ...]
    extension_durations: tuple[str, ...]
    fps: int
    audio: bool
    parameters: tuple[Parameter, ...] = ()
    max_parallel: int = 64  # jobs this engine renders at once; the job engine never starts more
    notes: str = ""
    aliases: dict[str, str] = field(default_factory=dict)  # other model names that mean one of `models`
    profile: CheckpointSummary | None = None  # the checkpoint's own settings (engines that load one)
    acceleration: Acceleration | None = None  # memory and speed settings (engines that load a model)

    @property
    def default_model(self) -> str:
        return next(iter(self.models))

    def sizes(self, model: str) -> tuple[str, ...] | None:
        return self.models.get(self.aliases.get(model, model))

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)


@dataclass(frozen=True)
class RenderRequest:
    """One job for an engine. `seconds` is the new material: the whole clip, or the extension's part."""

    prompt: str
    width: int
    height: int
    seconds: float
    reference_image: Path | None = None
    source_video: Path | None = None
    mode: str = "generate"  # generate (text, or image with a reference) | remix | edit | extend
    seed: int | None = None
    negative_prompt: str | None = None
    num_inference_steps: int | None = None
    guidance_scale: float | None = None
    fps: int | None = None
    num_frames: int | None = None
    strength: float | None = None  # remix and edits: how far from the source (diffusers' name)
    lora: list[Any] | None = None  # loaded LoRAs picked by name: [name, scale or None] pairs (JSON-stored)
    # Placed images and clips (a create's `inpaint_items`), JSON-stored: {"frame_index", "type", "file", "crop"}
    # each, the index counted from 0, the file named in the job's folder (a path once the job runs).
    keyframes: list[Any] | None = None
    sound: bool | None = None  # False: no audio track
    audio_prompt: str | None = None  # the soundtrack's description, where it differs from the prompt

    @classmethod
    def taken(cls, params: dict[str, Any]) -> dict[str, Any]:
        """The job's parameters an engine renders with; others (vLLM-Omni's `extra_params`) are only kept."""
        names = {f.name for f in fields(cls)}
        return {name: value for name, value in params.items() if name in names}

    @property
    def capability(self) -> str:
        """The entry of MODES this request needs."""
        if self.mode == "generate":
            if self.keyframes:
                return "keyframes"
            return "image" if self.reference_image is not None else "text"
        return self.mode

    def placed(self) -> list[Keyframe]:
        """The placed images and clips, by frame."""
        return sorted((Keyframe.from_stored(item) for item in self.keyframes or ()), key=lambda k: k.frame_index)


@dataclass(frozen=True)
class Keyframe:
    """An image or clip placed at a frame of the delivered clip. An image is stored already cropped and fitted to
    the clip's size; a clip is cropped (`crop`: left, top, right, bottom fractions) and fitted as it is read."""

    frame_index: int
    type: str  # image | video
    file: Path
    crop: tuple[float, float, float, float] | None = None
    item: int = 0  # its place in the request's `inpaint_items`, for a 400 that names it

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> Keyframe:
        crop = stored.get("crop")
        return cls(int(stored["frame_index"]), str(stored["type"]), Path(stored["file"]),
                   None if crop is None else tuple(crop), int(stored.get("item", 0)))  # type: ignore[arg-type]

    @property
    def param(self) -> str:
        return f"inpaint_items[{self.item}]"

    def covered(self, total: int, fps: int) -> int:
        """The frames it covers in a clip of `total`: one for an image, a clip's length up to the end."""
        count = 1 if self.type == "image" else max(1, round(probe_video(self.file).duration * fps))
        return min(count, total - self.frame_index)


class Engine(abc.ABC):
    """One renderer behind localsora's job engine. Built inside `create_app`, never at import."""

    @property
    @abc.abstractmethod
    def capabilities(self) -> Capabilities: ...

    def check(self, request: RenderRequest) -> None:
        """Refuse, with a RequestRefused naming the field, what this engine cannot render."""
        caps = self.capabilities
        if request.capability == "keyframes" and "keyframes" not in caps.modes:
            raise RequestRefused(f"{caps.serving} cannot place frames (inpaint_items); it can do: "
                                 f"{', '.join(caps.modes) or 'nothing'}.", param="inpaint_items",
                                 code="unsupported_mode")
        if request.capability not in caps.modes:
            names = {"text": "text-to-video", "image": "image-to-video (input_reference)", "remix": "remix",
                     "edit": "edits", "extend": "extensions", "keyframes": "keyframes (inpaint_items)"}
            offered = ", ".join(names[m] for m in caps.modes) or "nothing"
            raise RequestRefused(
                f"{caps.serving} cannot do {names[request.capability]}; it offers: {offered}.",
                param="input_reference" if request.capability == "image" else None,
                code="unsupported_mode",
            )
        if request.capability == "keyframes":
            total = self.delivered_frames(request)
            placed = request.placed()
            for keyframe in placed:
                if not 0 <= keyframe.frame_index < total:
                    raise RequestRefused(
                        f"'{keyframe.param}.frame_index' is past the clip: it has {total} frames (0 to {total - 1}, "
                        f"or -1 for the last).", param=f"{keyframe.param}.frame_index")
            self.check_keyframes(placed, total)

    def delivered_frames(self, request: RenderRequest) -> int:
        """How many frames the MP4 of a new video has: what `inpaint_items`' frame_index counts."""
        return max(1, round(request.seconds * (request.fps or self.capabilities.fps)))

    def check_keyframes(self, placed: list[Keyframe], total: int) -> None:
        """Refuse placements this engine cannot honour (a type, a frame); every engine with the mode takes images
        at any frame unless it says otherwise."""
        return None

    @abc.abstractmethod
    def render(self, request: RenderRequest, out_dir: Path, on_progress: ProgressCallback) -> None:
        """Write video.mp4, thumbnail.webp and spritesheet.jpg into `out_dir` (through localsora.encode)."""

    def close(self) -> None:
        """Let go of models and devices; the server is stopping. Engines that hold none keep this."""
        return None
