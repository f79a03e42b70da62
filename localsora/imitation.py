"""Dialects of /v1/videos: localsora can answer as other servers that speak the contract do, where they differ,
so the studio is tested against them offline (they need CUDA GPUs). `openai` is the contract itself.

Each fact about another server, with its source, is in docs/providers.md. A dialect changes only how
requests are taken and answers are shaped; the jobs, the store and the engine stay the same.
"""

from __future__ import annotations

import base64
import binascii
import http
import re
import resource
import secrets
import uuid
from typing import Annotated, Any, ClassVar

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from starlette.datastructures import UploadFile

from localsora import api_errors
from localsora.api_errors import APIError
from localsora.catalog import FREE_FPS_MAX, FREE_FRAMES_MAX
from localsora.engines.base import Capabilities, Parameter, RequestRefused
from localsora.protocol import (
    CreateVideo,
    DeletedVideo,
    DetailError,
    ErrorDetail,
    ErrorResponse,
    Model,
    ModelCapabilities,
    ModelList,
    SGLangCreateVideo,
    SGLangModel,
    SGLangModelList,
    SGLangVideo,
    SGLangVideoError,
    SGLangVideoList,
    Video,
    VideoList,
    VllmOmniCreateVideo,
    VllmOmniErrorDetail,
    VllmOmniErrorResponse,
    VllmOmniModel,
    VllmOmniModelList,
    VllmOmniVideo,
    VllmOmniVideoError,
    VllmOmniVideoList,
    refusal,
    wire_response,
)
from localsora.store import Job

# What localsora serves in these dialects when no --models names another: the model path, as a real server
# started with `--model Wan-AI/Wan2.1-T2V-1.3B-Diffusers` names it, at that checkpoint's 480p sizes.
SERVED_MODEL = "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"
SERVED_MODELS: dict[str, tuple[str, ...]] = {SERVED_MODEL: ("832x480", "480x832")}

Route = tuple[str, "re.Pattern[str]"]
REMIX: Route = ("POST", re.compile(r"^/v1/videos/[^/]+/remix$"))
# These match FastAPI's /v1/videos/{video_id}, which has only GET and DELETE: a 405 on such a server.
EDITS: Route = ("POST", re.compile(r"^/v1/videos/edits$"))
EXTENSIONS: Route = ("POST", re.compile(r"^/v1/videos/extensions$"))
CHARACTERS: Route = ("POST", re.compile(r"^/v1/videos/characters$"))
CHARACTER: Route = ("GET", re.compile(r"^/v1/videos/characters/[^/]+$"))
CHARACTER_DELETE: Route = ("DELETE", CHARACTER[1])


class Dialect:
    """OpenAI's contract, as localsora speaks it by default. Other dialects change what differs."""

    name = "openai"
    absent: tuple[Route, ...] = ()
    poll_header = True  # sends openai-poll-after-ms
    honest_progress = True  # progress grows with the render; others jump from 0 to 100
    free_sizes = False  # any WxH and any whole number of seconds, not the model's lists
    create_request: type[CreateVideo] = CreateVideo  # what POST /v1/videos reads
    checks_model = True
    extra_parameters: tuple[Parameter, ...] = ()  # taken beyond the engine's own, with this server's ranges
    default_seed: int | None = None  # None: a random seed per job
    served_models: ClassVar[dict[str, tuple[str, ...]] | None] = None  # served when --models names none (previz)
    model_when_omitted: str | None = None  # a job's model when the request names none; None: the served one
    attachment_downloads = False  # the MP4 as `attachment; filename="<id>.mp4"`, not inline
    # Sora 1's `inpaint_items` (keyframes), a localsora extension of the contract; servers without them ignore the
    # form fields, as they ignore any field they do not know.
    places_keyframes = True
    # The response models this dialect answers with in place of the contract's, for /openapi.json.
    answers: ClassVar[dict[type[BaseModel], type[BaseModel]]] = {}

    def documented(self, model: type[BaseModel]) -> type[BaseModel]:
        """What this dialect reads or answers where a route declares the contract's `model`."""
        if model is CreateVideo:
            return self.create_request
        return self.answers.get(model, model)

    def missing_route(self, method: str, path: str) -> JSONResponse | None:
        for route_method, pattern in self.absent:
            if route_method == method and pattern.match(path):
                if path.count("/") == 3:  # /v1/videos/edits is /v1/videos/{video_id} to such a server
                    return wire_response(DetailError(detail="Method Not Allowed"), 405, {"Allow": "GET, DELETE"})
                return wire_response(DetailError(detail="Not Found"), 404)
        return None

    def new_id(self) -> str:
        return "video_" + secrets.token_hex(16)

    def error(self, exc: APIError) -> JSONResponse:
        detail = ErrorDetail(message=exc.message, type=exc.type, param=exc.param, code=exc.code)
        return wire_response(ErrorResponse(error=detail), exc.status, exc.headers)

    def refused_encoding(self, content_type: str) -> APIError | None:
        return None

    def invalid_body(self, exc: ValidationError, from_form: bool) -> APIError:
        """The answer to a request body its model refuses: the one 400 that names the field."""
        return refusal(exc.errors())

    def list_query(self, limit: int | None, order: str) -> tuple[int | None, str]:
        """GET /v1/videos's `limit` (None: the dialect's default) and `order`, checked as this server checks them."""
        if limit is not None and not 0 <= limit <= 100:
            raise api_errors.bad_request(f"Invalid 'limit': {limit}. It must be between 0 and 100.", param="limit")
        if order not in ("asc", "desc"):
            raise api_errors.bad_request(f"Invalid value: '{order[:40]}'. Supported values are: 'asc' and 'desc'.",
                                         param="order")
        return limit, order

    def reference(self, request: CreateVideo) -> UploadFile | bytes | None:
        """The reference image a create carries, uploaded or given inline; a 400 for one localsora cannot take."""
        upload = request.input_reference
        # {"image_url": ...} or {"file_id": ...}, in JSON or as input_reference[...] form fields: never ignored.
        if upload is not None and not isinstance(upload, UploadFile):
            raise offline_reference("input_reference")
        return upload

    def takes_video_reference(self) -> bool:
        """Whether a reference that is a video (not an image) is taken: its first frame is the picture."""
        return False

    def frames(self, request: CreateVideo, params: dict[str, Any], seconds: str) -> str:
        """Set the frames the engine renders (`num_frames`, `fps` in `params`) and say the `seconds` the job
        reports: by default the request's, whatever `num_frames` says."""
        return seconds

    def read_in_job(self, request: CreateVideo, params: dict[str, Any], caps: Capabilities) -> str | None:
        """The fields these servers read only once the job runs: what the engine gets goes into `params`; the
        answer is why the job must then fail, or None."""
        return None

    def video(self, job: Job) -> BaseModel:
        return Video.model_validate(job.to_api())

    def video_status(self, job: Job) -> int:
        return 200

    def content_variant(self, variant: str | None) -> str:
        return variant or "video"

    def page(self, jobs: list[Job], has_more: bool) -> BaseModel:
        return self.documented(VideoList)(data=[self.video(j) for j in jobs], first_id=jobs[0].id if jobs else None,
                                          last_id=jobs[-1].id if jobs else None, has_more=has_more)

    def default_limit(self) -> int | None:
        return 20

    def deleted(self, job: Job) -> BaseModel:
        return DeletedVideo(id=job.id)

    def model(self, model_id: str, created: int, capabilities: ModelCapabilities) -> BaseModel:
        return Model(id=model_id, created=created, owned_by="localsora", capabilities=capabilities)

    def model_list(self, models: list[BaseModel]) -> BaseModel:
        return self.documented(ModelList)(data=models)

    def not_ready(self, job: Job) -> APIError:
        detail = f"failed: {job.error_message}" if job.status == "failed" else f"{job.status} ({job.progress}%)"
        return APIError(404, f"Video '{job.id}' has no content: it is {detail}.", code="video_not_ready")


def _coarse_progress(job: Job) -> int:
    """Progress as these servers report it: 0 until the video is done."""
    return 100 if job.status == "completed" else 0


def _timings(job: Job) -> dict[str, Any]:
    done = job.status == "completed" and job.completed_at is not None
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # this process, as these servers report
    return {"inference_time_s": float(job.completed_at - job.created_at) if done else None,  # type: ignore[operator]
            "peak_memory_mb": round(peak_mb, 1) if done else None}


def _seed(job: Job) -> int | None:
    return (job.params or {}).get("seed")


def offline_reference(param: str) -> APIError:
    return api_errors.bad_request(
        "localsora runs offline: it does not fetch image URLs or files by id. Upload the image itself as "
        "input_reference (a JPEG, PNG or WebP file).", param=param, code="unsupported_value")


def _data_url(value: object, param: str) -> bytes | None:
    """The bytes of a `data:...;base64,` URL; None for any other value, a 400 for a data URL that is broken."""
    if not isinstance(value, str) or not value.startswith("data:"):
        return None
    header, _, payload = value.partition(",")
    try:
        if header.endswith(";base64"):
            return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        pass
    raise api_errors.bad_request(f"Invalid {param}: expected a base64 data URL (data:<type>;base64,<data>).",
                                 param=param)


def fastapi_errors(exc: ValidationError, *location: str) -> list[dict[str, Any]]:
    """Pydantic's errors as FastAPI lists them in a 422: `loc` starts with where the value was ("body", or
    "query" and the parameter's name)."""
    listed = []
    for error in exc.errors(include_url=False):
        item = {"type": error["type"], "loc": [*location, *error["loc"]], "msg": error["msg"], "input": error["input"]}
        if "ctx" in error:
            item["ctx"] = {k: v if isinstance(v, int | float | str) else str(v) for k, v in error["ctx"].items()}
        listed.append(item)
    return listed


class VllmOmni(Dialect):
    """vLLM-Omni: form fields only, no remix/edits/extensions/characters, vLLM's error envelope with an integer
    code, `video_gen_` ids, extra timing fields, and a failed job retrieved with its error's status."""

    name = "vllm-omni"
    absent = (REMIX, EDITS, EXTENSIONS, CHARACTERS, CHARACTER, CHARACTER_DELETE)
    poll_header = False
    honest_progress = False
    free_sizes = True
    places_keyframes = False
    create_request: type[CreateVideo] = VllmOmniCreateVideo
    served_models = SERVED_MODELS
    attachment_downloads = True
    # localsora's ranges: vLLM-Omni bounds neither fps nor num_frames; a previz render here needs some bound.
    extra_parameters = (
        Parameter("seed", int, "Same seed, same video."),
        Parameter("negative_prompt", str, "What the picture should avoid."),
        Parameter("num_inference_steps", int, "Denoising steps.", 1, 200),
        Parameter("guidance_scale", float, "How closely to follow the prompt.", 0.0, 20.0),
        Parameter("fps", int, "Frames per second.", 1, FREE_FPS_MAX),
        Parameter("num_frames", int, "Frames to generate.", 1, FREE_FRAMES_MAX),
        Parameter("width", int, "Width, when size is not given.", 1),
        Parameter("height", int, "Height, when size is not given.", 1),
    )
    answers: ClassVar[dict[type[BaseModel], type[BaseModel]]] = {
        Video: VllmOmniVideo, VideoList: VllmOmniVideoList, Model: VllmOmniModel, ModelList: VllmOmniModelList,
        ErrorResponse: VllmOmniErrorResponse,
    }
    # Job errors that are the request's fault: vLLM-Omni's OmniClientError (a guardrail's block, a bad field read
    # in the job) is an error.code of 400, and the job is then retrieved with a 400; any other failure is a 500.
    CLIENT_FAILURES = frozenset({"moderation_blocked", "invalid_request"})

    def new_id(self) -> str:
        return "video_gen_" + uuid.uuid4().hex

    def error(self, exc: APIError) -> JSONResponse:
        param = f"body.{exc.param}" if exc.param and exc.status == 400 else None
        detail = VllmOmniErrorDetail(message=exc.message, type=http.HTTPStatus(exc.status).phrase, param=param,
                                     code=exc.status)
        return wire_response(VllmOmniErrorResponse(error=detail), exc.status, exc.headers)

    def refused_encoding(self, content_type: str) -> APIError | None:
        if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            return None
        # Every field is a form field, so a JSON body arrives with no prompt at all.
        return APIError(400, "1 validation error:\n  {'type': 'missing', 'loc': 'body.prompt', 'msg': 'Field "
                             "required'}", param="prompt")

    def reference(self, request: CreateVideo) -> UploadFile | bytes | None:
        assert isinstance(request, VllmOmniCreateVideo)
        upload, image, video = request.input_reference, request.image_reference, request.video_reference
        if upload is not None and (image is not None or video is not None):
            raise api_errors.bad_request(
                "Provide only one of input_reference, image_reference, or video_reference when using "
                "input_reference; image_reference and video_reference may be combined.", param="input_reference")
        for name, given, url_key in (("image_reference", image, "image_url"), ("video_reference", video, "video_url")):
            if given is None:
                continue
            if "file_id" in given:
                raise api_errors.bad_request(f"Invalid {name}: file_id is not supported yet.", param=name)
            data = _data_url(given.get(url_key), name)
            if data is None:  # a web URL, or no URL: localsora fetches nothing
                raise offline_reference(name)
            if image is None or video is None:  # both: the job fails (read_in_job)
                return data
        return super().reference(request)

    def takes_video_reference(self) -> bool:
        return True  # the bytes are tried as an image, then as a video, whatever their declared type

    def read_in_job(self, request: CreateVideo, params: dict[str, Any], caps: Capabilities) -> str | None:
        assert isinstance(request, VllmOmniCreateVideo)
        if request.image_reference is not None and request.video_reference is not None:
            return "This diffusion model does not support mixed image and video references."
        lora = request.lora
        if lora is None:
            return None
        name = next((lora[k] for k in ("name", "lora_name", "adapter") if lora.get(k)), None)
        path = next((lora[k] for k in ("local_path", "path", "lora_path", "lora_local_path") if lora.get(k)), None)
        scale = next((lora[k] for k in ("scale", "lora_scale") if lora.get(k) is not None), None)
        if name is None or path is None:
            return "Invalid lora object: both name and path are required."
        engine_lora = caps.parameter("lora")
        if engine_lora is None:
            return (f"Could not load the LoRA adapter '{str(name)[:80]}' from '{str(path)[:200]}': this server's "
                    f"renderer ({caps.serving}) loads no adapters.")
        # The engine's own adapters, loaded at start (--lora), picked by name; the path is the engine's.
        try:
            params["lora"] = engine_lora.parse({"name": name} if scale is None else {"name": name, "scale": scale})
        except RequestRefused as exc:
            raise api_errors.bad_request(exc.message, param="lora", code=exc.code) from None
        return None

    def video(self, job: Job) -> VllmOmniVideo:
        error = VllmOmniVideoError(code=self._failure_status(job), message=job.error_message or "") \
            if job.status == "failed" else None
        return VllmOmniVideo(
            model=job.model, prompt=job.prompt, id=job.id, status=job.status, size=job.size,
            progress=_coarse_progress(job), seconds=job.seconds, completed_at=job.completed_at,
            created_at=job.created_at, error=error, file_name=f"{job.id}.mp4" if job.status == "completed" else None,
            **_timings(job), seed=_seed(job),
        )

    def video_status(self, job: Job) -> int:
        return self._failure_status(job) if job.status == "failed" else 200  # the error's code, as the status

    def _failure_status(self, job: Job) -> int:
        return 400 if job.error_code in self.CLIENT_FAILURES else 500

    def content_variant(self, variant: str | None) -> str:
        return "video"  # it has only the MP4, whatever variant is asked for

    def default_limit(self) -> int | None:
        return None  # no limit given: every video

    def model(self, model_id: str, created: int, capabilities: ModelCapabilities) -> VllmOmniModel:
        return VllmOmniModel(id=model_id, created=created, root=model_id)

    def not_ready(self, job: Job) -> APIError:
        if job.status == "failed":
            return APIError(422, "Video generation failed. Check job status for error details.")
        return APIError(404, "Generation is still in-progress")


class SGLang(Dialect):
    """SGLang Diffusion: JSON or multipart, no remix/edits/extensions/characters, FastAPI's `{"detail"}` errors,
    uuid ids, no `in_progress`, a fixed default seed, `variant` as an output index, a short list, and a delete
    that answers with the job."""

    name = "sglang"
    absent = (REMIX, EDITS, EXTENSIONS, CHARACTERS, CHARACTER, CHARACTER_DELETE)
    poll_header = False
    honest_progress = False
    free_sizes = True
    places_keyframes = False
    create_request: type[CreateVideo] = SGLangCreateVideo
    checks_model = False
    served_models = SERVED_MODELS
    model_when_omitted = "sora-2"  # its request model's default, echoed whatever it serves
    attachment_downloads = True
    # SGLang bounds none of them; localsora keeps its own bounds on the frames it renders.
    extra_parameters = tuple(p if p.name in ("fps", "num_frames") else Parameter(p.name, p.kind, p.description)
                             for p in VllmOmni.extra_parameters)
    default_seed = 1024
    answers: ClassVar[dict[type[BaseModel], type[BaseModel]]] = {
        Video: SGLangVideo, VideoList: SGLangVideoList, DeletedVideo: SGLangVideo, Model: SGLangModel,
        ModelList: SGLangModelList, ErrorResponse: DetailError,
    }

    def new_id(self) -> str:
        return str(uuid.uuid4())

    def error(self, exc: APIError) -> JSONResponse:
        return wire_response(DetailError(detail=exc.details or exc.message), exc.status, exc.headers)

    def refused_encoding(self, content_type: str) -> APIError | None:
        if content_type.startswith(("multipart/form-data", "application/json")):
            return None
        return APIError(400, "Invalid request body: 1 validation error for VideoGenerationsRequest\nprompt\n  "
                             "Field required", param="prompt")

    def invalid_body(self, exc: ValidationError, from_form: bool) -> APIError:
        refused = refusal(exc.errors())
        if not from_form:  # its JSON model is built inside a try: a 400 with pydantic's text
            return APIError(400, f"Invalid request body: {refused.message}", param=refused.param)
        if exc.errors()[0]["type"].endswith(("_parsing", "_type")):
            # Its form fields are typed Form() parameters: a value of the wrong type is FastAPI's own 422.
            return APIError(422, refused.message, param=refused.param, details=fastapi_errors(exc, "body"))
        if refused.code == "missing_required_parameter":
            return APIError(400, f"{refused.param or 'prompt'} is required", param=refused.param)
        return refused  # the other checks are its own, in the handler: a 400

    def list_query(self, limit: int | None, order: str) -> tuple[int | None, str]:
        if limit is not None:  # Query(None, ge=1, le=100)
            try:
                _LIST_LIMIT.validate_python(limit)
            except ValidationError as exc:  # FastAPI reports the query's text as the input
                raise APIError(422, "Invalid 'limit'.", param="limit", details=[
                    {**error, "input": str(limit)} for error in fastapi_errors(exc, "query", "limit")]) from None
        order = order.lower()
        return limit, order if order in ("asc", "desc") else "desc"  # anything else reads as desc

    def frames(self, request: CreateVideo, params: dict[str, Any], seconds: str) -> str:
        """SGLang's rule: `num_frames` as given, else fps × seconds; `seconds` reported from frames ÷ fps
        (before interpolation, rounded half to even); interpolation makes (n−1)·2^exp+1 frames at fps·2^exp."""
        assert isinstance(request, SGLangCreateVideo)
        fps = params.get("fps") or 24
        frames = params.get("num_frames") or fps * int(seconds)
        reported = str(round(frames / fps))
        if request.enable_frame_interpolation:
            factor = 2 ** request.frame_interpolation_exp
            params["num_frames"], params["fps"] = (frames - 1) * factor + 1, fps * factor
        return reported

    def read_in_job(self, request: CreateVideo, params: dict[str, Any], caps: Capabilities) -> str | None:
        assert isinstance(request, SGLangCreateVideo)
        seeds = request.seed
        if not isinstance(seeds, list):
            return None
        if not seeds or any(seed < 0 for seed in seeds):  # refused when its sampling params are built
            raise APIError(400, "seed list must hold non-negative integers", param="seed")
        params["seed"] = seeds[0]
        if len(seeds) != 1:  # one seed per output, and this server makes one output
            return f"seed list length must match num_outputs_per_prompt: got {len(seeds)} seeds for 1 output"
        return None

    def video(self, job: Job) -> SGLangVideo:
        done = job.status == "completed"
        output = f"/outputs/{job.id}.mp4"
        return SGLangVideo(
            id=job.id, model=job.model, status="queued" if job.status == "in_progress" else job.status,
            progress=_coarse_progress(job), created_at=job.created_at, size=job.size, seconds=job.seconds,
            completed_at=job.completed_at if done else None,  # a failed job has none
            error=SGLangVideoError(message=job.error_message or "") if job.status == "failed" else None,
            file_path=output if done else None, file_paths=[output] if done else None,
            num_outputs=1 if done else None, **_timings(job), seed=_seed(job),
        )

    def content_variant(self, variant: str | None) -> str:
        if variant in (None, "0"):  # an output index; this server makes one output
            return "video"
        raise APIError(404, f"Video variant {variant} not found")

    def page(self, jobs: list[Job], has_more: bool) -> SGLangVideoList:
        return SGLangVideoList(data=[self.video(j) for j in jobs])

    def deleted(self, job: Job) -> SGLangVideo:
        return self.video(job).model_copy(update={"status": "deleted"})

    def model(self, model_id: str, created: int, capabilities: ModelCapabilities) -> SGLangModel:
        return SGLangModel(id=model_id, created=created, root=model_id)

    def not_ready(self, job: Job) -> APIError:
        if job.status == "failed":
            return APIError(404, "Video variant None not found")
        return APIError(404, "Generation is still in-progress")


_LIST_LIMIT = TypeAdapter(Annotated[int, Field(ge=1, le=100)])

DIALECTS: dict[str, Dialect] = {d.name: d for d in (Dialect(), VllmOmni(), SGLang())}
