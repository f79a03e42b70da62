"""Dialects of /v1/videos: localsora can answer as other servers that speak the contract do, where they differ,
so the studio is tested against them offline (they need CUDA GPUs). `openai` is the contract itself.

Each fact about another server, with its source, is in docs/providers.md. A dialect changes only how
requests are taken and answers are shaped; the jobs, the store and the engine stay the same.
"""

from __future__ import annotations

import http
import re
import resource
import secrets
import uuid
from typing import Any, ClassVar

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from localsora.api_errors import APIError
from localsora.engines.base import Parameter
from localsora.protocol import (
    CreateVideo,
    CreateVideoAnySize,
    DeletedVideo,
    DetailError,
    ErrorDetail,
    ErrorResponse,
    Model,
    ModelCapabilities,
    ModelList,
    SGLangModel,
    SGLangModelList,
    SGLangVideo,
    SGLangVideoError,
    SGLangVideoList,
    Video,
    VideoList,
    VllmOmniErrorDetail,
    VllmOmniErrorResponse,
    VllmOmniModel,
    VllmOmniModelList,
    VllmOmniVideo,
    VllmOmniVideoError,
    VllmOmniVideoList,
    wire_response,
)
from localsora.store import Job

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


class VllmOmni(Dialect):
    """vLLM-Omni: form fields only, no remix/edits/extensions/characters, vLLM's error envelope with an integer
    code, `video_gen_` ids, extra timing fields, and a failed job retrieved with its error's status."""

    name = "vllm-omni"
    absent = (REMIX, EDITS, EXTENSIONS, CHARACTERS, CHARACTER, CHARACTER_DELETE)
    poll_header = False
    honest_progress = False
    free_sizes = True
    create_request = CreateVideoAnySize
    extra_parameters = (
        Parameter("seed", int, "Same seed, same video."),
        Parameter("negative_prompt", str, "What the picture should avoid."),
        Parameter("num_inference_steps", int, "Denoising steps.", 1, 200),
        Parameter("guidance_scale", float, "How closely to follow the prompt.", 0.0, 20.0),
        Parameter("fps", int, "Frames per second.", 1),
        Parameter("num_frames", int, "Frames to generate.", 1),
        Parameter("width", int, "Width, when size is not given.", 1),
        Parameter("height", int, "Height, when size is not given.", 1),
    )
    answers: ClassVar[dict[type[BaseModel], type[BaseModel]]] = {
        Video: VllmOmniVideo, VideoList: VllmOmniVideoList, Model: VllmOmniModel, ModelList: VllmOmniModelList,
        ErrorResponse: VllmOmniErrorResponse,
    }

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

    def video(self, job: Job) -> VllmOmniVideo:
        error = VllmOmniVideoError(code=500, message=job.error_message or "") if job.status == "failed" else None
        return VllmOmniVideo(
            model=job.model, prompt=job.prompt, id=job.id, status=job.status, size=job.size,
            progress=_coarse_progress(job), seconds=job.seconds, completed_at=job.completed_at,
            created_at=job.created_at, error=error, file_name=f"{job.id}.mp4" if job.status == "completed" else None,
            **_timings(job), seed=_seed(job),
        )

    def video_status(self, job: Job) -> int:
        return 500 if job.status == "failed" else 200  # the failed job's error.code, as its HTTP status

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
    create_request = CreateVideoAnySize
    checks_model = False
    extra_parameters = tuple(Parameter(p.name, p.kind, p.description) for p in VllmOmni.extra_parameters)
    default_seed = 1024
    answers: ClassVar[dict[type[BaseModel], type[BaseModel]]] = {
        Video: SGLangVideo, VideoList: SGLangVideoList, DeletedVideo: SGLangVideo, Model: SGLangModel,
        ModelList: SGLangModelList, ErrorResponse: DetailError,
    }

    def new_id(self) -> str:
        return str(uuid.uuid4())

    def error(self, exc: APIError) -> JSONResponse:
        return wire_response(DetailError(detail=exc.message), exc.status, exc.headers)

    def refused_encoding(self, content_type: str) -> APIError | None:
        if content_type.startswith(("multipart/form-data", "application/json")):
            return None
        return APIError(400, "Invalid request body: 1 validation error for VideoGenerationsRequest\nprompt\n  "
                             "Field required", param="prompt")

    def video(self, job: Job) -> SGLangVideo:
        done = job.status == "completed"
        output = f"/outputs/{job.id}.mp4"
        return SGLangVideo(
            id=job.id, model=job.model, status="queued" if job.status == "in_progress" else job.status,
            progress=_coarse_progress(job), created_at=job.created_at, size=job.size, seconds=job.seconds,
            completed_at=job.completed_at,
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


DIALECTS: dict[str, Dialect] = {d.name: d for d in (Dialect(), VllmOmni(), SGLang())}
