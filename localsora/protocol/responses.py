"""Typed responses: what each route answers, as pydantic models, so /openapi.json documents it.

The contract's objects come first (video, list, deleted video, character, model, error), then localsora's own
(health, capabilities, faults, the received request), then each dialect's shapes (localsora.imitation builds
them). A route sends `model.model_dump(mode="json")`: every field is on the wire, null or not, except those marked
`exclude_if` (the seed), which are left out when empty, as the servers they imitate do.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field


def wire_response(body: BaseModel, status_code: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    """`body` as JSON: every field, null or not, except those its model leaves out when empty."""
    return JSONResponse(body.model_dump(mode="json"), status_code=status_code, headers=headers)


def _absent(value: object) -> bool:
    return value is None


class _Response(BaseModel):
    # Strict: a builder that passes the wrong type fails loudly instead of changing the wire.
    # Defaults required in the schema: a field with a default is still always sent.
    model_config = ConfigDict(strict=True, extra="forbid", json_schema_serialization_defaults_required=True)


SEED = Field(None, exclude_if=_absent, description="The seed that makes this video again; absent when unknown.")

# ------------------------------------------------------------------------------------------- the contract


class VideoError(_Response):
    code: str
    message: str


class Video(_Response):
    """The contract's Video object."""

    id: str
    object: Literal["video"] = "video"
    model: str
    status: Literal["queued", "in_progress", "completed", "failed"]
    progress: int
    created_at: int
    completed_at: int | None
    expires_at: int | None
    prompt: str
    size: str
    seconds: str
    remixed_from_video_id: str | None
    error: VideoError | None
    # Beyond the contract, as vLLM-Omni adds fields: the seed that reproduces this video.
    seed: int | None = SEED


class VideoList(_Response):
    object: Literal["list"] = "list"
    data: list[Video]
    first_id: str | None
    last_id: str | None
    has_more: bool


class DeletedVideo(_Response):
    id: str
    object: Literal["video.deleted"] = "video.deleted"
    deleted: Literal[True] = True


class Character(_Response):
    id: str
    name: str
    created_at: int


class DeletedCharacter(_Response):
    """DELETE /v1/videos/characters/{character_id}: localsora's own, shaped as a deleted video (the contract has
    no such route; without it characters were kept for ever)."""

    id: str
    object: Literal["character.deleted"] = "character.deleted"
    deleted: Literal[True] = True


class ParameterRange(_Response):
    """An extra request field an engine takes (seed, negative_prompt, ...), with its range."""

    type: Literal["integer", "number", "string", "boolean", "object"]
    minimum: int | float | None  # as the engine declares it: 0 stays 0, 0.0 stays 0.0
    maximum: int | float | None
    description: str


class CheckpointProfile(_Response):
    """The loaded checkpoint's own settings: what it was trained for and the defaults a request gets."""

    checkpoint: str
    trained_frames: int | None
    trained_fps: int
    frame_rule: str
    default_steps: int | None
    default_guidance: float | None
    guidance_scale_2: float | None
    flow_shift: dict[str, float]
    default_negative_prompt: str | None


class LoadedLora(_Response):
    name: str
    scale: float


class Acceleration(_Response):
    """How the loaded model fits the device and runs fast: the memory and speed settings in force."""

    memory: Literal["none", "model", "group", "sequential"]
    vae_tiling: Literal["auto", "on", "off"]
    weights: Literal["bf16", "fp8"]
    quantize: str
    attention: str
    compile: bool
    cache: str | None
    loras: list[LoadedLora]


class ModelCapabilities(_Response):
    """What a model can do here (localsora's own field of the Model object); the studio shows only this."""

    engine: str
    serving: str
    modes: list[str]
    sizes: list[str]
    seconds: list[str]
    extension_seconds: list[str]
    fps: int
    audio: bool
    parameters: dict[str, ParameterRange]
    notes: str
    profile: CheckpointProfile | None = Field(None, exclude_if=_absent,
                                               description="The checkpoint's settings; absent for previz.")
    acceleration: Acceleration | None = Field(None, exclude_if=_absent,
                                              description="Memory and speed settings; absent for previz.")


class Model(_Response):
    """OpenAI's Model object, with what this server can do with it alongside."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    capabilities: ModelCapabilities


class ModelList(_Response):
    object: Literal["list"] = "list"
    data: list[Model]


class ErrorDetail(_Response):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(_Response):
    """The contract's error body: `{"error": {"message", "type", "param", "code"}}`."""

    error: ErrorDetail


# ------------------------------------------------------------------------------------------- localsora's own


class Health(_Response):
    status: Literal["ok"] = "ok"
    service: Literal["localsora"] = "localsora"
    engine: str
    renderer: str
    active_jobs: int
    # The token its starter gave it (LOCALSORA_INSTANCE), so a starter can tell its own server from another
    # that holds the port; empty when started by hand.
    instance: str = ""


class FaultSettings(_Response):
    """The faults and limits in force (GET and POST /_localsora/faults)."""

    error_rate: float
    render_delay: float
    blocked_words: list[str]
    rate_limit: int
    rate_window: float
    cut_downloads: int


class ReceivedRequest(_Response):
    """What localsora took from the request that made a video: tests and demos check the wire with it."""

    id: str
    model: str
    prompt: str
    size: str
    seconds: str
    params: dict[str, Any]


# ------------------------------------------------------------------------------------------- vLLM-Omni


class VllmOmniVideoError(_Response):
    code: int
    message: str


class VllmOmniVideo(_Response):
    """vLLM-Omni's video: the contract's fields, coarse progress, and its own timing and file fields."""

    model: str
    prompt: str
    id: str
    object: Literal["video"] = "video"
    status: Literal["queued", "in_progress", "completed", "failed"]
    size: str
    progress: int
    seconds: str
    quality: Literal["default"] = "default"
    completed_at: int | None
    created_at: int
    remixed_from_video_id: None = None
    error: VllmOmniVideoError | None
    media_type: Literal["video/mp4"] = "video/mp4"
    expires_at: None = None
    file_name: str | None
    inference_time_s: float | None
    peak_memory_mb: float | None
    stage_durations: dict[str, float] = Field(default_factory=dict)
    action: None = None
    seed: int | None = SEED


class VllmOmniVideoList(_Response):
    object: Literal["list"] = "list"
    data: list[VllmOmniVideo]
    first_id: str | None
    last_id: str | None
    has_more: bool


class VllmOmniModel(_Response):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: Literal["vllm"] = "vllm"
    root: str
    parent: None = None
    max_model_len: None = None
    permission: list[Any] = Field(default_factory=list)


class VllmOmniModelList(_Response):
    object: Literal["list"] = "list"
    data: list[VllmOmniModel]


class VllmOmniErrorDetail(_Response):
    message: str
    type: str  # the status's phrase: "Bad Request"
    param: str | None  # "body.prompt"
    code: int  # the HTTP status


class VllmOmniErrorResponse(_Response):
    error: VllmOmniErrorDetail


# ------------------------------------------------------------------------------------------- SGLang


class SGLangVideoError(_Response):
    message: str


class SGLangVideo(_Response):
    """SGLang Diffusion's video: no `in_progress`, coarse progress, output paths; a deleted one says `deleted`."""

    id: str
    object: Literal["video"] = "video"
    model: str
    status: Literal["queued", "completed", "failed", "deleted"]
    progress: int
    created_at: int
    size: str
    seconds: str
    quality: Literal["standard"] = "standard"
    url: None = None
    remixed_from_video_id: None = None
    completed_at: int | None
    expires_at: None = None
    error: SGLangVideoError | None
    file_path: str | None
    file_paths: list[str] | None
    num_outputs: int | None
    inference_time_s: float | None
    peak_memory_mb: float | None
    action: None = None
    seed: int | None = SEED


class SGLangVideoList(_Response):
    data: list[SGLangVideo]
    object: Literal["list"] = "list"


class SGLangModel(_Response):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: Literal["sglang"] = "sglang"
    root: str


class SGLangModelList(_Response):
    object: Literal["list"] = "list"
    data: list[SGLangModel]


class DetailError(_Response):
    """FastAPI's own error body, which SGLang answers with (and any server for a route it lacks): a message, or
    a validation error's list of `{type, loc, msg, input, ctx}`."""

    detail: str | list[dict[str, Any]]
