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
from typing import Any

from fastapi.responses import JSONResponse

from localsora.api_errors import APIError
from localsora.engines.base import Parameter
from localsora.store import Job

Route = tuple[str, "re.Pattern[str]"]
REMIX: Route = ("POST", re.compile(r"^/v1/videos/[^/]+/remix$"))
# These match FastAPI's /v1/videos/{video_id}, which has only GET and DELETE: a 405 on such a server.
EDITS: Route = ("POST", re.compile(r"^/v1/videos/edits$"))
EXTENSIONS: Route = ("POST", re.compile(r"^/v1/videos/extensions$"))
CHARACTERS: Route = ("POST", re.compile(r"^/v1/videos/characters$"))
CHARACTER: Route = ("GET", re.compile(r"^/v1/videos/characters/[^/]+$"))


class Dialect:
    """OpenAI's contract, as localsora speaks it by default. Other dialects change what differs."""

    name = "openai"
    absent: tuple[Route, ...] = ()
    poll_header = True  # sends openai-poll-after-ms
    honest_progress = True  # progress grows with the render; others jump from 0 to 100
    free_sizes = False  # any WxH and any whole number of seconds, not the model's lists
    checks_model = True
    extra_parameters: tuple[Parameter, ...] = ()  # taken beyond the engine's own, with this server's ranges
    default_seed: int | None = None  # None: a random seed per job

    def missing_route(self, method: str, path: str) -> JSONResponse | None:
        for route_method, pattern in self.absent:
            if route_method == method and pattern.match(path):
                if path.count("/") == 3:  # /v1/videos/edits is /v1/videos/{video_id} to such a server
                    return JSONResponse({"detail": "Method Not Allowed"}, status_code=405,
                                        headers={"Allow": "GET, DELETE"})
                return JSONResponse({"detail": "Not Found"}, status_code=404)
        return None

    def new_id(self) -> str:
        return "video_" + secrets.token_hex(16)

    def error(self, exc: APIError) -> JSONResponse:
        return exc.response()

    def refused_encoding(self, content_type: str) -> APIError | None:
        return None

    def video(self, job: Job) -> dict[str, Any]:
        return job.to_api()

    def video_status(self, job: Job) -> int:
        return 200

    def content_variant(self, variant: str | None) -> str:
        return variant or "video"

    def page(self, jobs: list[Job], has_more: bool) -> dict[str, Any]:
        return {"object": "list", "data": [self.video(j) for j in jobs], "first_id": jobs[0].id if jobs else None,
                "last_id": jobs[-1].id if jobs else None, "has_more": has_more}

    def default_limit(self) -> int | None:
        return 20

    def deleted(self, job: Job) -> dict[str, Any]:
        return {"id": job.id, "object": "video.deleted", "deleted": True}

    def model(self, model_id: str, created: int, capabilities: dict[str, Any]) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": created, "owned_by": "localsora",
                "capabilities": capabilities}

    def not_ready(self, job: Job) -> APIError:
        detail = f"failed: {job.error_message}" if job.status == "failed" else f"{job.status} ({job.progress}%)"
        return APIError(404, f"Video '{job.id}' has no content: it is {detail}.", code="video_not_ready")


def _coarse(job: Job, video: dict[str, Any]) -> dict[str, Any]:
    """Progress as these servers report it: 0 until the video is done."""
    video["progress"] = 100 if job.status == "completed" else 0
    return video


def _timings(job: Job) -> dict[str, Any]:
    done = job.status == "completed" and job.completed_at is not None
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # this process, as these servers report
    return {"inference_time_s": float(job.completed_at - job.created_at) if done else None,  # type: ignore[operator]
            "peak_memory_mb": round(peak_mb, 1) if done else None}


class VllmOmni(Dialect):
    """vLLM-Omni: form fields only, no remix/edits/extensions/characters, vLLM's error envelope with an integer
    code, `video_gen_` ids, extra timing fields, and a failed job retrieved with its error's status."""

    name = "vllm-omni"
    absent = (REMIX, EDITS, EXTENSIONS, CHARACTERS, CHARACTER)
    poll_header = False
    honest_progress = False
    free_sizes = True
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

    def new_id(self) -> str:
        return "video_gen_" + uuid.uuid4().hex

    def error(self, exc: APIError) -> JSONResponse:
        param = f"body.{exc.param}" if exc.param and exc.status == 400 else None
        body = {"error": {"message": exc.message, "type": http.HTTPStatus(exc.status).phrase, "param": param,
                          "code": exc.status}}
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    def refused_encoding(self, content_type: str) -> APIError | None:
        if content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            return None
        # Every field is a form field, so a JSON body arrives with no prompt at all.
        return APIError(400, "1 validation error:\n  {'type': 'missing', 'loc': 'body.prompt', 'msg': 'Field "
                             "required'}", param="prompt")

    def video(self, job: Job) -> dict[str, Any]:
        base = job.to_api()
        done = job.status == "completed"
        error = {"code": 500, "message": job.error_message or ""} if job.status == "failed" else None
        return _coarse(job, {
            "model": base["model"], "prompt": base["prompt"], "id": base["id"], "object": "video",
            "status": base["status"], "size": base["size"], "progress": base["progress"],
            "seconds": base["seconds"], "quality": "default", "completed_at": base["completed_at"],
            "created_at": base["created_at"], "remixed_from_video_id": None, "error": error,
            "media_type": "video/mp4", "expires_at": None, "file_name": f"{job.id}.mp4" if done else None,
            **_timings(job), "stage_durations": {}, "action": None,
            **({"seed": base["seed"]} if "seed" in base else {}),
        })

    def video_status(self, job: Job) -> int:
        return 500 if job.status == "failed" else 200  # the failed job's error.code, as its HTTP status

    def content_variant(self, variant: str | None) -> str:
        return "video"  # it has only the MP4, whatever variant is asked for

    def default_limit(self) -> int | None:
        return None  # no limit given: every video

    def model(self, model_id: str, created: int, capabilities: dict[str, Any]) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": created, "owned_by": "vllm", "root": model_id,
                "parent": None, "max_model_len": None, "permission": []}

    def not_ready(self, job: Job) -> APIError:
        if job.status == "failed":
            return APIError(422, "Video generation failed. Check job status for error details.")
        return APIError(404, "Generation is still in-progress")


class SGLang(Dialect):
    """SGLang Diffusion: JSON or multipart, no remix/edits/extensions/characters, FastAPI's `{"detail"}` errors,
    uuid ids, no `in_progress`, a fixed default seed, `variant` as an output index, a short list, and a delete
    that answers with the job."""

    name = "sglang"
    absent = (REMIX, EDITS, EXTENSIONS, CHARACTERS, CHARACTER)
    poll_header = False
    honest_progress = False
    free_sizes = True
    checks_model = False
    extra_parameters = tuple(Parameter(p.name, p.kind, p.description) for p in VllmOmni.extra_parameters)
    default_seed = 1024

    def new_id(self) -> str:
        return str(uuid.uuid4())

    def error(self, exc: APIError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status, headers=exc.headers)

    def refused_encoding(self, content_type: str) -> APIError | None:
        if content_type.startswith(("multipart/form-data", "application/json")):
            return None
        return APIError(400, "Invalid request body: 1 validation error for VideoGenerationsRequest\nprompt\n  "
                             "Field required", param="prompt")

    def video(self, job: Job) -> dict[str, Any]:
        base = job.to_api()
        done = job.status == "completed"
        return _coarse(job, {
            "id": base["id"], "object": "video", "model": base["model"],
            "status": "queued" if job.status == "in_progress" else base["status"], "progress": base["progress"],
            "created_at": base["created_at"], "size": base["size"], "seconds": base["seconds"],
            "quality": "standard", "url": None, "remixed_from_video_id": None,
            "completed_at": base["completed_at"], "expires_at": None,
            "error": {"message": job.error_message or ""} if job.status == "failed" else None,
            "file_path": f"/outputs/{job.id}.mp4" if done else None,
            "file_paths": [f"/outputs/{job.id}.mp4"] if done else None, "num_outputs": 1 if done else None,
            **_timings(job), "action": None,
            **({"seed": base["seed"]} if "seed" in base else {}),
        })

    def content_variant(self, variant: str | None) -> str:
        if variant in (None, "0"):  # an output index; this server makes one output
            return "video"
        raise APIError(404, f"Video variant {variant} not found")

    def page(self, jobs: list[Job], has_more: bool) -> dict[str, Any]:
        return {"data": [self.video(j) for j in jobs], "object": "list"}

    def deleted(self, job: Job) -> dict[str, Any]:
        return {**self.video(job), "status": "deleted"}

    def model(self, model_id: str, created: int, capabilities: dict[str, Any]) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": created, "owned_by": "sglang", "root": model_id}

    def not_ready(self, job: Job) -> APIError:
        if job.status == "failed":
            return APIError(404, "Video variant None not found")
        return APIError(404, "Generation is still in-progress")


DIALECTS: dict[str, Dialect] = {d.name: d for d in (Dialect(), VllmOmni(), SGLang())}
