"""Typed requests: one pydantic model per operation of the Videos API (create, remix, edit, extend, character),
and one for localsora's fault endpoint.

The server's `Body` (localsora/request_body.py) only turns a JSON or multipart body into a dict of fields and
files; these models decide what each field may hold. JSON is validated in strict mode: a string field takes only a
string, a number field only a number, a file field only an uploaded file. A form carries every value as text, so it
is validated in lax mode (pydantic reads "7" as 7 for a number field, as `model_validate_strings` does), but a text
field where a file is expected is still refused. `refusal()` turns a ValidationError into the one 400 that names
the field.

Checks that depend on settings (sizes per model, prompt length, the engine's parameter ranges) run in the serving
layer (localsora/serving.py) after validation. The shape follows vLLM-Omni's `protocol/videos.py`; the dialects
that take any size (vLLM-Omni, SGLang) get a variant of the create model with their own fields.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError
from starlette.datastructures import UploadFile

from localsora import api_errors
from localsora.api_errors import APIError
from localsora.faults import MAX_CUT_DOWNLOADS, MAX_QUEUED_FAULTS

FREE_SIZE = re.compile(r"^\d+x\d+$")
FREE_SECONDS = re.compile(r"^[1-9]\d*$")


def _valid_unicode(text: str) -> str:
    """Refuse text SQLite cannot store: a lone surrogate ("\\ud800") is valid JSON but not UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("invalid_value", "the text is not valid Unicode (a lone surrogate)") from None
    return text


def _not_blank(text: str) -> str:
    if not text.strip():
        raise PydanticCustomError("missing_required_parameter", "the text is blank")
    return text


def _whole_number_as_text(value: object) -> object:
    # {"seconds": 4}, as vLLM-Omni and SGLang clients send it; a bool is not a number here.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _free_size(text: str) -> str:
    if not FREE_SIZE.match(text):
        raise PydanticCustomError("invalid_value", "it must look like 1280x720")
    return text


def _free_seconds(text: str) -> str:
    if not FREE_SECONDS.match(text):
        raise PydanticCustomError("invalid_value", "it must be a whole number of seconds, such as 4")
    return text


def _character_name(text: str) -> str:
    if not 1 <= len(text.strip()) <= 80:
        raise PydanticCustomError("invalid_value", "it must be 1 to 80 characters")
    return text.strip()


def _json_object_text(value: object) -> object:
    """vLLM-Omni takes `extra_params` as JSON text of an object in a form; decode it, or say why not."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except (ValueError, RecursionError):  # RecursionError: nested thousands deep
        raise PydanticCustomError("invalid_value", "Invalid JSON in form field") from None


def _form_json_object(value: object) -> object:
    """JSON text of an object (or the object itself), in vLLM-Omni's words where it is not one."""
    value = _json_object_text(value)
    if not isinstance(value, dict):
        kind = {list: "list", str: "str", int: "int", float: "float", bool: "bool"}.get(type(value), "value")
        raise PydanticCustomError("invalid_value", "Invalid JSON in form field: expected dict, got {kind}",
                                  {"kind": kind})
    return value


def _json_array_text(value: object) -> object:
    """`inpaint_items` as JSON text of an array in a form (or the array itself in JSON); decode it, or say why not."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        raise PydanticCustomError("invalid_value", "it must be JSON text of an array of items") from None


def _integer_text(value: object) -> object:
    # SGLang's JSON model is lax: {"seconds": "8"} is 8, as the SDK sends it.
    return int(value) if isinstance(value, str) and re.fullmatch(r"-?\d{1,9}", value.strip()) else value


def _zero_seconds_as_default(value: int) -> str | None:
    # SGLang reads a multipart `seconds` of 0 as "not given" (its default, 4).
    return str(value) if value else None


def _kind_of_upload(value: object) -> str | None:
    return "file" if isinstance(value, UploadFile) else None


def _kind_of_video(value: object) -> str | None:
    if isinstance(value, UploadFile):
        return "file"
    return "id" if isinstance(value, dict) else None


def _kind_of_image(value: object) -> str | None:
    if isinstance(value, UploadFile):
        return "file"
    if isinstance(value, dict):  # told apart by their one key, as the contract's ImageRefParam is
        return "image_url" if "image_url" in value else "file_id" if "file_id" in value else None
    return None


# Field types, each declared once and shared by the models below.
Text = Annotated[str, AfterValidator(_valid_unicode)]
Prompt = Annotated[Text, AfterValidator(_not_blank), Field(description="What the video shows.")]
Seconds = Annotated[Text, BeforeValidator(_whole_number_as_text),
                    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "integer"}],
                                    "description": 'Clip length, as text ("4"); a JSON whole number is taken too.'})]
FreeSize = Annotated[Text, AfterValidator(_free_size), Field(description="Any WIDTHxHEIGHT.")]
FreeSeconds = Annotated[Seconds, AfterValidator(_free_seconds)]
# A file part of a multipart body; the schema says so, as OpenAPI describes uploads.
Upload = Annotated[UploadFile, Tag("file"), WithJsonSchema({"type": "string", "format": "binary"})]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", arbitrary_types_allowed=True)


class VideoReference(_Strict):
    """A completed video by id: `{"video": {"id": ...}}` in JSON, `video[id]` in a form."""

    id: Text


class ImageUrlReference(_Strict):
    image_url: Text


class FileIdReference(_Strict):
    file_id: Text


UploadedFile = Annotated[
    Upload, Discriminator(_kind_of_upload, custom_error_type="invalid_type", custom_error_message="an uploaded file")
]
VideoSource = Annotated[
    Upload | Annotated[VideoReference, Tag("id")],
    Discriminator(_kind_of_video, custom_error_type="invalid_type",
                  custom_error_message='an uploaded MP4 or {"id": "<video id>"}'),
]
ImageReference = Annotated[
    Upload | Annotated[ImageUrlReference, Tag("image_url")] | Annotated[FileIdReference, Tag("file_id")],
    Discriminator(_kind_of_image, custom_error_type="invalid_type",
                  custom_error_message="an uploaded JPEG, PNG or WebP image"),
]
JsonObject = Annotated[dict[Text, Any], BeforeValidator(_form_json_object)]
# vLLM-Omni's `lora`: an object ({"name", "scale"}) or a list of them; JSON text in a form. The engine checks names.
LoraChoice = Annotated[dict[Text, Any] | list[dict[Text, Any]], BeforeValidator(_json_object_text)]


class CropBounds(_Strict):
    """The part of a placed image or clip to keep, as fractions of its width and height (Sora 1's shape)."""

    left_fraction: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.0
    top_fraction: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.0
    right_fraction: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 1.0
    bottom_fraction: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 1.0

    @model_validator(mode="after")
    def _not_empty(self) -> CropBounds:
        if self.left_fraction >= self.right_fraction or self.top_fraction >= self.bottom_fraction:
            raise PydanticCustomError("invalid_value", "left must be below right and top below bottom")
        return self


class InpaintItem(_Strict):
    """An image or clip placed at a frame of the new video (Sora 1's `inpaint_items`); its file is the `files`
    part of that file name."""

    frame_index: int = Field(description="The frame of the delivered MP4 it is placed at; negative counts from "
                                         "the end (-1: the last frame).")
    type: Literal["image", "video"]
    file_name: Annotated[Text, Field(min_length=1, max_length=255)]
    crop_bounds: CropBounds | None = None


MAX_INPAINT_ITEMS = 8
InpaintItems = Annotated[list[InpaintItem], BeforeValidator(_json_array_text),
                         Field(min_length=1, max_length=MAX_INPAINT_ITEMS)]


class _Request(BaseModel):
    """Fields beyond an operation's own are ignored (clients send more, such as `user`); every field it has is
    type-checked, and every field name must be valid Unicode."""

    model_config = ConfigDict(strict=True, extra="ignore", arbitrary_types_allowed=True)

    @model_validator(mode="before")
    @classmethod
    def _names_are_text(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in data:
                _valid_unicode(name)
        return data


# Fields beyond Sora's that an engine may take, with vLLM-Omni's names. Types here; each engine's ranges are
# checked after validation (they differ per engine and per dialect, and GET /v1/models reports them).
EXTRA_PARAMETERS = ("seed", "negative_prompt", "num_inference_steps", "guidance_scale", "fps", "num_frames",
                    "strength", "lora", "sound", "audio_prompt")


class ExtraParameters(_Request):
    DIALECT_PARAMETERS: ClassVar[tuple[str, ...]] = ()

    seed: int | None = Field(None, description="Same seed, same video.")
    negative_prompt: Text | None = Field(None, description="What the picture should avoid.")
    num_inference_steps: int | None = Field(None, description="Denoising steps.")
    guidance_scale: float | None = Field(None, allow_inf_nan=False, description="How closely to follow the prompt.")
    fps: int | None = Field(None, description="Frames per second.")
    num_frames: int | None = Field(None, description="Frames to generate.")
    strength: float | None = Field(None, allow_inf_nan=False,
                                   description="Remix and edits: how far from the source, 0 to 1 (diffusers' name).")
    lora: LoraChoice | None = Field(None, description="Loaded LoRAs to use, by name: {name, scale} or a list.")
    sound: bool | None = Field(None, description="false: no audio track.")
    audio_prompt: Text | None = Field(None, description="What the soundtrack should sound like.")

    def parameters(self) -> dict[str, Any]:
        """The extra parameters given, by name (a dialect's variant may add its own)."""
        names = (*EXTRA_PARAMETERS, *self.DIALECT_PARAMETERS)
        return {name: value for name in names if (value := getattr(self, name)) is not None}


class CreateVideo(ExtraParameters):
    """POST /v1/videos."""

    prompt: Prompt
    model: Text | None = None
    size: Text | None = None
    seconds: Seconds | None = None
    input_reference: ImageReference | None = None
    inpaint_items: InpaintItems | None = Field(None, description="Images or clips placed at frames (keyframes); "
                                                                 "JSON text of an array in a form.")
    files: list[UploadedFile] | None = Field(None, description="The files of `inpaint_items`, by file name.")


class CreateVideoAnySize(CreateVideo):
    """POST /v1/videos as vLLM-Omni and SGLang take it: any WxH, whole seconds, `width` and `height` in place of
    `size`, and vLLM-Omni's `extra_params` (model-specific arguments)."""

    DIALECT_PARAMETERS: ClassVar[tuple[str, ...]] = ("width", "height")

    size: FreeSize | None = None
    seconds: FreeSeconds | None = None
    width: int | None = None
    height: int | None = None
    extra_params: JsonObject | None = None


class VllmOmniCreateVideo(CreateVideoAnySize):
    """vLLM-Omni's form: besides the upload, a reference as JSON text (`image_reference`, `video_reference`) and a
    LoRA adapter as JSON text (`lora`: name and path). Which of them may come together, and whether the adapter
    names both, is the dialect's to say (localsora.imitation)."""

    image_reference: JsonObject | None = Field(None, description='{"image_url": "data:..."}, as JSON text.')
    video_reference: JsonObject | None = Field(None, description='{"video_url": "data:..."}, as JSON text.')
    lora: JsonObject | None = Field(None, description='{"name": ..., "path": ..., "scale": ...}, as JSON text.')

    def parameters(self) -> dict[str, Any]:
        # The adapter object is the dialect's to read (in the job, as vLLM-Omni reads it), not an engine field.
        return {name: value for name, value in super().parameters().items() if name != "lora"}


class SGLangCreateVideo(CreateVideoAnySize):
    """SGLang Diffusion's request: `seconds` as an integer, a seed or one seed per output, frame interpolation,
    and `extra_body` (and vLLM-Omni's `extra_params`) folded into the top level as SGLang folds them: a JSON
    `extra_body` over the top level, a form's as a fallback; `extra_params` always as a fallback."""

    seconds: Annotated[int, BeforeValidator(_integer_text), AfterValidator(_zero_seconds_as_default)] | None = None  # type: ignore[assignment]
    seed: int | list[int] | None = Field(None, description="A seed, or one per output.")  # type: ignore[assignment]
    enable_frame_interpolation: bool = False
    frame_interpolation_exp: Annotated[int, Field(ge=1, le=4)] = 1
    extra_body: JsonObject | None = None  # folded into the fields above before they are read

    @model_validator(mode="before")
    @classmethod
    def _folded(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        from_form = bool(info.context and info.context.get("from_form"))
        for name, over_top in (("extra_body", not from_form), ("extra_params", False)):
            try:
                folded = _form_json_object(data[name]) if name in data else None
            except PydanticCustomError:
                continue  # left in place: its field's check names it
            if isinstance(folded, dict):
                del data[name]
                data = {**data, **folded} if over_top else {**folded, **data}
        return data

    def parameters(self) -> dict[str, Any]:
        # A list of seeds is the dialect's to check against the outputs (localsora.imitation.SGLang).
        return {name: value for name, value in super().parameters().items()
                if not (name == "seed" and isinstance(value, list))}


class RemixVideo(ExtraParameters):
    """POST /v1/videos/{video_id}/remix."""

    prompt: Prompt


class EditVideo(ExtraParameters):
    """POST /v1/videos/edits: an uploaded MP4, or a completed video by id."""

    prompt: Prompt
    video: VideoSource


class ExtendVideo(EditVideo):
    """POST /v1/videos/extensions."""

    seconds: Seconds


class CreateCharacter(_Request):
    """POST /v1/videos/characters."""

    name: Annotated[Text, AfterValidator(_character_name)]
    video: UploadedFile


class InjectFault(_Strict):
    """Queued one-off errors: `count` answers of `status`, for one route ("POST /v1/videos") or any."""

    status: Literal[429, 500] = 500
    count: int = Field(1, ge=1, le=MAX_QUEUED_FAULTS)
    retry_after: float = Field(1.0, ge=0, le=3600, allow_inf_nan=False)
    route: Annotated[Text, Field(max_length=200)] = ""


class FaultChange(_Request):
    """POST /_localsora/faults (tests and demos): any of these; an unknown key is refused, so a typo is seen."""

    model_config = ConfigDict(extra="forbid")

    inject: InjectFault | None = None
    clear: bool = False  # first drop queued faults and owed download cuts
    error_rate: float | None = Field(None, ge=0, le=1, allow_inf_nan=False)
    render_delay: float | None = Field(None, ge=0, le=3600, allow_inf_nan=False)
    rate_limit: int | None = Field(None, ge=0, le=1_000_000)
    rate_window: float | None = Field(None, ge=0.001, le=86400, allow_inf_nan=False)
    blocked_words: Annotated[list[Annotated[Text, Field(max_length=100)]], Field(max_length=100)] | None = None
    cut_downloads: int | None = Field(None, ge=0, le=MAX_CUT_DOWNLOADS)


# -------------------------------------------------------------------------------------------- the one 400

_EXPECTED = {
    "string_type": "a string", "int_type": "an integer", "int_parsing": "an integer",
    "int_from_float": "an integer", "float_type": "a number", "float_parsing": "a number",
    "finite_number": "a finite number", "dict_type": "an object", "model_type": "an object",
    "model_attributes_type": "an object", "bool_type": "a boolean", "bool_parsing": "a boolean",
    "is_instance_of": "an uploaded file",
}
_UNION_TAGS = ("file", "id", "image_url", "file_id")
_KINDS = {bool: "a boolean", int: "a number", float: "a number", list: "an array", dict: "an object",
          type(None): "null"}


def refusal(details: Sequence[ErrorDetails] | Sequence[dict[str, Any]]) -> APIError:
    """The 400 for the first thing wrong with a request, naming its field: for localsora's own models and for
    FastAPI's query-parameter checks alike."""
    first = details[0] if details else {"type": "value_error", "loc": (), "msg": "invalid"}
    path = [part if isinstance(part, int) else _printable(str(part))
            for part in first["loc"] if part not in ("body", "query", "path", "header")]
    if len(path) > 2 and path[1] in _UNION_TAGS:  # ("video", "id", "id"): the tag says which form was sent
        del path[1]
    param = field_path(*path)  # "prompt", "video.id", "inject.count"; None: the body as a whole
    named = f"'{param}'" if param else "The body"
    kind = first["type"]
    if kind in ("missing", "missing_required_parameter"):
        return api_errors.bad_request(f"Missing required parameter: {named}.", param=param,
                                  code="missing_required_parameter")
    if kind in _EXPECTED or kind == "invalid_type":
        expected = first["msg"] if kind == "invalid_type" else _EXPECTED[kind]
        return api_errors.bad_request(f"{named} must be {expected}; got {_shown(first.get('input'))}.",
                                  param=param, code="invalid_type")
    if kind == "extra_forbidden":
        return api_errors.bad_request(f"Unknown parameter: {named}.", param=param, code="unknown_parameter")
    message = first["msg"].rstrip(".")
    return api_errors.bad_request(f"Invalid value for {named}: {message}.", param=param)


class OpenAPIBody(dict[str, Any]):
    """A route's `openapi_extra`: `model` as its request body, in JSON and as a form, so /openapi.json documents
    what the route reads (and a fuzz of that schema sends real bodies). It keeps `model`, so a dialect that reads
    another model in its place documents that one (localsora.routes.include_router)."""

    def __init__(self, model: type[BaseModel]) -> None:
        schema = model.model_json_schema()
        definitions = schema.pop("$defs", {})

        def inline(node: Any) -> Any:  # OpenAPI has no $defs here: put each referenced model in place
            if isinstance(node, dict):
                ref = node.get("$ref", "")
                return inline(definitions[ref.rsplit("/", 1)[-1]]) if ref.startswith("#/$defs/") else {
                    key: inline(value) for key, value in node.items()}
            return [inline(item) for item in node] if isinstance(node, list) else node

        body = inline(schema)
        super().__init__(requestBody={"required": True, "content": {"application/json": {"schema": body},
                                                                    "multipart/form-data": {"schema": body}}})
        self.model = model



def validate(model: type[BaseModel], values: dict[str, Any], *, from_form: bool) -> Any:
    """`values` as `model`: strict for JSON, lax (text read as numbers) for a form. A ValidationError is left to
    the app's one handler, which answers with `refusal()`."""
    return model.model_validate(values, strict=not from_form, context={"from_form": from_form})


def field_path(*parts: str | int) -> str | None:
    """A field's name as the 400 gives it: "video.id", "inpaint_items[0].frame_index"; None for the body."""
    named = ""
    for part in parts:
        named += f"[{part}]" if isinstance(part, int) else f".{part}" if named else part
    return named or None


def _shown(value: object) -> str:
    if isinstance(value, str):
        return f"the string {_printable(value[:40])!r}"
    if isinstance(value, UploadFile):
        return "an uploaded file"
    return _KINDS.get(type(value), type(value).__name__)


def _printable(text: str) -> str:
    """Text safe to put in a JSON answer: a lone surrogate is shown escaped, never sent raw."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


__all__ = [
    "CreateCharacter", "CreateVideo", "CreateVideoAnySize", "CropBounds", "EditVideo", "ExtendVideo",
    "ExtraParameters", "FaultChange", "InpaintItem", "OpenAPIBody", "RemixVideo", "SGLangCreateVideo",
    "ValidationError", "VideoReference", "VllmOmniCreateVideo", "refusal", "validate"
]
