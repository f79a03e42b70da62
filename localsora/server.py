"""The HTTP API: every path of the OpenAI Videos contract under /v1, with the real status codes and errors."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
from starlette.routing import Route

from localsora import api_errors
from localsora.api_errors import APIError
from localsora.catalog import FREE_SECONDS_MAX, FREE_SIDE_MAX, FREE_SIDE_MIN
from localsora.config import Settings
from localsora.engines import create_engine
from localsora.engines.base import Capabilities, Engine, RenderRequest, RequestRefused
from localsora.faults import MAX_QUEUED_FAULTS, FaultInjector
from localsora.imitation import DIALECTS, Dialect
from localsora.job_queue import SOURCE_NAME, JobQueue
from localsora.media import InvalidMedia, probe_image, probe_video
from localsora.protocol import (
    CreateCharacter,
    CreateVideo,
    CreateVideoAnySize,
    EditVideo,
    ExtendVideo,
    ExtraParameters,
    FaultChange,
    RemixVideo,
    VideoReference,
    openapi_body,
    refusal,
    validate,
)
from localsora.rate_limit import RateLimiter
from localsora.store import MEDIA_FILES, Job, Store, new_character_id

log = logging.getLogger("localsora")
ModelT = TypeVar("ModelT", bound=BaseModel)

MEDIA_TYPES = {"video": "video/mp4", "thumbnail": "image/webp", "spritesheet": "image/jpeg"}
IMAGE_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
MULTIPART_OVERHEAD = 1024 * 1024
JOB_CREATING = ("/v1/videos", "/v1/videos/edits", "/v1/videos/extensions")
FAULTS_BODY_BYTES = 64 * 1024
# A form field named like `video[id]` is the SDK's encoding of {"video": {"id": ...}}.
NESTED_FIELD = re.compile(r"^([^\[\]]+)\[([^\[\]]+)\]$")


def _quote_list(values: tuple[str, ...] | list[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f", and {quoted[-1]}"


def _one_of(param: str, value: str, allowed: tuple[str, ...] | list[str], extra: str = "") -> None:
    if value not in allowed:
        raise api_errors.bad_request(
            f"Invalid value: '{value}'. Supported values are: {_quote_list(allowed)}.{extra}", param=param
        )


class Body:
    """A request's fields and files as one dict, from JSON or a form (multipart or urlencoded): only the
    content-type adapter in front of the typed models in localsora/protocol.py, which check every field.

    JSON values keep their types (a list stays a list); a form's nested names (`video[id]`) become objects, as
    the SDK encodes them. Uploads are closed when the request ends (the gatekeeper calls `close_uploads`).
    """

    def __init__(self, values: dict[str, Any], from_form: bool) -> None:
        self.values = values
        self.from_form = from_form

    @classmethod
    async def read(cls, request: Request, max_bytes: int, dialect: Dialect) -> Body:
        body_limit = max_bytes + MULTIPART_OVERHEAD
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > body_limit:
            raise too_large(int(declared), max_bytes)
        content_type = request.headers.get("content-type", "")
        refused = dialect.refused_encoding(content_type)
        if refused is not None:
            raise refused
        if not content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            data = parse_json(await read_limited(request, body_limit, max_bytes) or b"{}")
            if not isinstance(data, dict):
                raise api_errors.bad_request("The JSON body must be an object.", code=None)
            # JSON null means "not given", as for an optional field.
            return cls({key: value for key, value in data.items() if value is not None}, from_form=False)
        # Parsed from a counted stream: a chunked upload (no Content-Length) stops at the limit, unspooled.
        stream = stream_limited(request, body_limit, max_bytes)
        parser: MultiPartParser | FormParser
        if content_type.startswith("multipart/form-data"):
            parser = MultiPartParser(request.headers, stream, max_files=4, max_fields=32)
        else:
            parser = FormParser(request.headers, stream)
        try:
            form = await parser.parse()  # on any error the parser closes the files it opened
        except MultiPartException as exc:
            raise api_errors.bad_request(f"We could not parse the multipart body: {exc.message}", code=None) from None
        request.state.uploads = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
        values: dict[str, Any] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile) and value.size is not None and value.size > max_bytes:
                raise api_errors.bad_request(
                    f"The uploaded {key} is {value.size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB.",
                    param=key, code="file_too_large",
                )
            if value == "":
                continue  # a form field left empty is a field not given
            nested = NESTED_FIELD.match(key)
            if nested is None:
                values[key] = value
            elif isinstance(values.setdefault(nested[1], {}), dict):
                values[nested[1]][nested[2]] = value
            else:
                raise api_errors.bad_request(f"'{nested[1]}' was sent both as a value and as '{key[:80]}'.",
                                         param=nested[1])
        return cls(values, from_form=True)

    def parse(self, model: type[ModelT]) -> ModelT:
        """The body as `model`; a field of the wrong type or value is a 400 naming it (protocol.refusal)."""
        return validate(model, self.values, from_form=self.from_form)  # type: ignore[no-any-return]


async def close_uploads(request: Request) -> None:
    """Close the spooled files a form upload opened: the request is over, whether it succeeded or not."""
    for upload in getattr(request.state, "uploads", ()):
        await upload.close()


def parse_json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: nested thousands deep
        raise api_errors.bad_request("We could not parse the JSON body of your request.", code=None) from None


def too_large(size: int, max_bytes: int) -> APIError:
    return api_errors.bad_request(
        f"The request is {size / 1e6:.1f} MB; uploads are limited to {max_bytes / 1e6:.0f} MB.",
        code="file_too_large",
    )


async def stream_limited(request: Request, body_limit: int, max_bytes: int) -> AsyncGenerator[bytes, None]:
    """The request body, chunk by chunk, stopping with a 400 once more than `body_limit` bytes came."""
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > body_limit:
            raise too_large(received, max_bytes)
        yield chunk


async def read_limited(request: Request, body_limit: int, max_bytes: int) -> bytes:
    return b"".join([chunk async for chunk in stream_limited(request, body_limit, max_bytes)])


def refused(exc: RequestRefused) -> APIError:
    return api_errors.bad_request(exc.message, param=exc.param, code=exc.code)


def create_app(settings: Settings, renderer: Engine | None = None) -> FastAPI:
    """The app. `renderer` defaults to the engine `settings.engine` names, built here (a model loads now)."""
    renderer = renderer or create_engine(settings)
    caps = renderer.capabilities
    dialect = DIALECTS[settings.dialect]
    create_model = CreateVideoAnySize if dialect.free_sizes else CreateVideo  # the dialect's create request
    started_at = int(time.time())
    store = Store(settings.data_dir)
    engine = JobQueue(settings, store, renderer)
    limiter = RateLimiter(settings.rate_limit, settings.rate_window)
    faults = FaultInjector(settings.error_rate, max_queued=MAX_QUEUED_FAULTS)
    stop_sweeper = threading.Event()

    def sweep() -> None:
        while not stop_sweeper.wait(30):
            store.expire_due()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        store.expire_due()
        engine.start()
        sweeper = threading.Thread(target=sweep, name="localsora-expiry", daemon=True)
        sweeper.start()
        log.info("localsora serving %s", settings.data_dir)
        yield
        stop_sweeper.set()
        engine.stop()
        store.close()

    app = FastAPI(title="localsora", description="A local OpenAI Videos API server.", lifespan=lifespan)
    app.state.settings, app.state.store, app.state.engine = settings, store, engine
    app.state.limiter, app.state.faults = limiter, faults

    @app.exception_handler(APIError)
    async def api_error(_: Request, exc: APIError) -> JSONResponse:
        return dialect.error(exc)

    @app.exception_handler(RequestValidationError)  # FastAPI's checks of query and path parameters
    @app.exception_handler(ValidationError)  # localsora.protocol's request models
    async def validation_error(_: Request, exc: RequestValidationError | ValidationError) -> JSONResponse:
        return dialect.error(refusal(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code in (404, 405):
            message = f"Invalid URL ({request.method} {request.url.path})"
            headers = {"Allow": allowed_methods(request.url.path)} if exc.status_code == 405 else None
            return dialect.error(APIError(exc.status_code, message, code=None, headers=headers))
        return dialect.error(APIError(exc.status_code, str(exc.detail), code=None, headers=exc.headers))

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        # A bug, still answered in the contract's shape; the traceback goes to the log.
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return dialect.error(api_errors.server_error("The server had an error while processing your request."))

    def allowed_methods(path: str) -> str:
        """Every method some route serves at `path`: the Allow header of a 405."""
        methods = {m for r in app.routes if isinstance(r, Route) and r.path_regex.match(path) for m in r.methods or ()}
        return ", ".join(sorted(methods))

    @app.middleware("http")
    async def gatekeeper(request: Request, call_next: Any) -> Response:
        request_id = "req_" + secrets.token_hex(12)
        path = request.url.path
        guarded = path.startswith(("/v1/", "/_localsora/"))
        if guarded and settings.api_key and not secrets.compare_digest(
            request.headers.get("authorization", "").encode(), f"Bearer {settings.api_key}".encode()
        ):
            return _with_id(dialect.error(api_errors.unauthorized()), request_id)
        missing = dialect.missing_route(request.method, path)
        if missing is not None:
            return _with_id(missing, request_id)
        if path.startswith("/v1/"):
            fault = faults.next_fault(request.method, path)
            if fault is not None:
                status, retry_after = fault
                error = (api_errors.rate_limited("Rate limit reached (injected fault).", retry_after)
                         if status == 429 else api_errors.server_error())
                return _with_id(dialect.error(error), request_id)
            if request.method == "POST" and (path in JOB_CREATING or path.endswith("/remix")):
                wait = limiter.acquire()
                if wait > 0:
                    message = (f"Rate limit reached: {settings.rate_limit} job requests per "
                               f"{settings.rate_window:g} s. Try again in {wait:.0f} s.")
                    return _with_id(dialect.error(api_errors.rate_limited(message, wait)), request_id)
        try:
            return _with_id(await call_next(request), request_id)
        finally:
            await close_uploads(request)

    def poll_headers() -> dict[str, str]:
        return {"openai-poll-after-ms": str(settings.poll_after_ms)} if dialect.poll_header else {}

    def video_response(job: Job) -> JSONResponse:
        return JSONResponse(dialect.video(job), status_code=dialect.video_status(job), headers=poll_headers())

    def find(video_id: str, param: str = "video_id") -> Job:
        job = store.get(video_id)
        if job is None:
            raise api_errors.not_found(f"No video found with id '{video_id[:80]}'.", param=param)
        return job

    def completed_source(video_id: str, action: str) -> Job:
        job = find(video_id, param="video")
        if job.status != "completed":
            raise api_errors.bad_request(
                f"Video '{video_id}' is {job.status}; only completed videos can be {action}.",
                param="video", code="invalid_video_status",
            )
        if job.expired or (job.expires_at and job.expires_at <= time.time()):
            raise api_errors.bad_request(f"Video '{video_id}' has expired.", param="video", code="video_expired")
        return job

    def check_capacity() -> None:
        if store.count_active() >= settings.max_active_jobs:
            raise api_errors.rate_limited(
                f"Too many active jobs: at most {settings.max_active_jobs} can be queued or rendering at once.",
                retry_after=5,
            )

    def enqueue(job: Job) -> JSONResponse:
        store.insert(job)
        engine.submit(job.id)
        return video_response(job)

    def new_job(kind: str, model: str, prompt: str, size: str, seconds: float, render_seconds: float,
                params: dict[str, Any], video_id: str | None = None, **links: str | None) -> Job:
        now = int(time.time())
        return Job(
            id=video_id or dialect.new_id(), kind=kind, model=model, status="queued", progress=0, created_at=now,
            completed_at=None, expires_at=now + settings.ttl_seconds, prompt=prompt, size=size,
            seconds=str(max(1, round(seconds))),
            render_seconds=render_seconds, params=params, **links,
        )

    def check_prompt(prompt: str) -> str:
        if len(prompt) > settings.max_prompt_chars:
            raise api_errors.bad_request(
                f"The prompt is {len(prompt):,} characters; the maximum is {settings.max_prompt_chars:,}.",
                param="prompt", code="string_above_max_length",
            )
        return prompt

    def read_params(request: ExtraParameters) -> dict[str, Any]:
        """The engine's extra fields (seed, negative_prompt, ...), range-checked; every job gets a seed."""
        params: dict[str, Any] = {}
        # Another server's dialect takes its own fields, with its own ranges.
        accepted = {p.name: p for p in (*caps.parameters, *dialect.extra_parameters)}
        for name, raw in request.parameters().items():
            parameter = accepted.get(name)
            if parameter is None:
                raise api_errors.bad_request(
                    f"'{name}' is not used by {caps.serving}; it takes: "
                    f"{', '.join(p.name for p in caps.parameters) or 'no extra parameters'}.",
                    param=name, code="unsupported_parameter",
                )
            try:
                params[name] = parameter.parse(raw)
            except RequestRefused as exc:
                raise refused(exc) from None
        if getattr(request, "extra_params", None):  # vLLM-Omni's model-specific arguments: none apply here
            raise api_errors.bad_request(
                f"'extra_params' holds model-specific arguments, and {caps.serving} takes none; use the named "
                f"fields: {', '.join(p.name for p in caps.parameters) or 'none'}.",
                param="extra_params", code="unsupported_parameter",
            )
        # A random seed, so variants differ and each can be made again (SGLang uses a fixed one instead).
        params.setdefault("seed", secrets.randbelow(2**32) if dialect.default_seed is None else dialect.default_seed)
        return params

    def listed_shape(request: CreateVideo, params: dict[str, Any]) -> tuple[str, str, str]:
        """Model, size and seconds, each one of the engine's own (OpenAI's way)."""
        model = request.model or caps.default_model
        sizes = caps.sizes(model)
        if sizes is None:
            _one_of("model", model, list(caps.models))
        assert sizes is not None
        seconds = request.seconds or ("4" if "4" in caps.durations else caps.durations[0])
        _one_of("seconds", seconds, caps.durations)
        size = request.size or sizes[0]
        if size not in sizes:
            others = [m for m, s in caps.models.items() if size in s]
            hint = f" {size} needs {others[0]}." if others else ""
            _one_of("size", size, sizes, hint)
        return model, size, seconds

    def free_shape(request: CreateVideo, params: dict[str, Any]) -> tuple[str, str, str]:
        """Any WxH and whole seconds (their form checked by CreateVideoAnySize), as vLLM-Omni and SGLang take
        them; width and height stand in for size."""
        model = request.model or caps.default_model
        if dialect.checks_model and caps.sizes(model) is None:
            raise api_errors.bad_request(f"Model mismatch: request specifies '{model}' but server is running "
                                     f"'{caps.default_model}'.", param="model")
        width, height = params.pop("width", None), params.pop("height", None)
        default = f"{width}x{height}" if width and height else caps.models[caps.default_model][0]
        size = request.size or default
        w, h = (int(v) for v in size.split("x"))
        if not (FREE_SIDE_MIN <= w <= FREE_SIDE_MAX and FREE_SIDE_MIN <= h <= FREE_SIDE_MAX) or w % 2 or h % 2:
            raise api_errors.bad_request(f"localsora renders even sizes from {FREE_SIDE_MIN} to {FREE_SIDE_MAX} "
                                         f"pixels a side; got {size}.", param="size")
        seconds = request.seconds or "4"
        if int(seconds) > FREE_SECONDS_MAX:
            raise api_errors.bad_request(
                f"'seconds' must be a whole number from 1 to {FREE_SECONDS_MAX}; got '{seconds[:40]}'.",
                param="seconds")
        return model, size, seconds

    def check_request(job: Job, reference: bool = False) -> None:
        """The engine's own checks (mode, sizes, frame counts, parameters): a 400 now, not a failed job later."""
        width, height = (int(v) for v in job.size.split("x"))
        request = RenderRequest(
            job.prompt, width, height, job.render_seconds, mode=job.kind,
            reference_image=Path("input_reference") if reference else None,
            source_video=Path(SOURCE_NAME) if job.kind != "generate" else None, **(job.params or {}),
        )
        try:
            renderer.check(request)
        except RequestRefused as exc:
            shutil.rmtree(store.job_dir(job.id), ignore_errors=True)
            raise refused(exc) from None

    def output_size(width: int, height: int, model: str) -> str:
        """The allowed size closest in aspect to an uploaded source, preferring the exact size."""
        sizes = caps.sizes(model) or next(iter(caps.models.values()))
        if f"{width}x{height}" in sizes:
            return f"{width}x{height}"
        aspect = width / height

        def distance(size: str) -> tuple[float, int]:
            w, h = (int(v) for v in size.split("x"))
            return abs(w / h - aspect), abs(w * h - width * height)

        return min(sizes, key=distance)

    async def take_source(request: EditVideo, job_id: str, action: str) -> tuple[float, str, str, str | None]:
        """Put the source clip in the new job's folder: (duration, size, model, source video id)."""
        reference = request.video
        source = completed_source(reference.id, action) if isinstance(reference, VideoReference) else None
        target = store.job_dir(job_id) / SOURCE_NAME
        target.parent.mkdir(parents=True, exist_ok=True)
        if source is not None:
            await run_in_threadpool(_link_or_copy, store.media_path(source.id, "video"), target)
            info = await run_in_threadpool(probe_video, target)
            return info.duration, source.size, source.model, source.id
        assert isinstance(reference, UploadFile)
        await run_in_threadpool(_save_upload, reference, target)
        try:
            info = await run_in_threadpool(probe_video, target)
        except InvalidMedia as exc:
            shutil.rmtree(target.parent, ignore_errors=True)
            raise api_errors.bad_request(f"The uploaded video could not be read: {exc}", param="video",
                                     code="invalid_video") from None
        if info.duration > settings.max_source_seconds:
            shutil.rmtree(target.parent, ignore_errors=True)
            raise api_errors.bad_request(
                f"The uploaded video is {info.duration:.1f} s; the limit is {settings.max_source_seconds:g} s.",
                param="video", code="invalid_video",
            )
        model = caps.default_model
        return info.duration, output_size(info.width, info.height, model), model, None

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "service": "localsora", "engine": caps.engine, "renderer": caps.serving,
                "active_jobs": store.count_active()}

    def model_entry(model: str, sizes: tuple[str, ...]) -> dict[str, Any]:
        # OpenAI's Model object, with what this server can do with it alongside (in localsora's own dialect).
        return dialect.model(model, started_at, capabilities_api(caps, sizes))

    @app.get("/v1/models")
    async def list_models() -> JSONResponse:
        return JSONResponse({"object": "list", "data": [model_entry(m, s) for m, s in caps.models.items()]})

    @app.get("/v1/models/{model_id}")
    async def retrieve_model(model_id: str) -> JSONResponse:
        sizes = caps.sizes(model_id)
        if sizes is None:
            raise api_errors.not_found(f"The model '{model_id[:80]}' does not exist.", param="model",
                                   code="model_not_found")
        return JSONResponse(model_entry(model_id, sizes))

    @app.post("/v1/videos", openapi_extra=openapi_body(create_model))
    async def create_video(request: Request) -> JSONResponse:
        body = await Body.read(request, settings.max_image_bytes, dialect)
        create = body.parse(create_model)
        prompt = check_prompt(create.prompt)
        params = read_params(create)
        model, size, seconds = (free_shape if dialect.free_sizes else listed_shape)(create, params)
        upload = create.input_reference
        # {"image_url": ...} or {"file_id": ...}, in JSON or as input_reference[...] form fields: never ignored.
        if upload is not None and not isinstance(upload, UploadFile):
            raise api_errors.bad_request(
                "localsora runs offline: it does not fetch image URLs or files by id. Upload the image itself as "
                "input_reference (a JPEG, PNG or WebP file).",
                param="input_reference", code="unsupported_value",
            )
        check_capacity()
        job = new_job("generate", model, prompt, size, float(seconds), float(seconds), params)
        check_request(job, reference=upload is not None)
        if upload is not None:
            data = await upload.read()
            try:
                width, height, mime = await run_in_threadpool(probe_image, data)
            except InvalidMedia as exc:
                raise api_errors.bad_request(
                    f"Invalid input_reference: {exc} Upload a JPEG, PNG or WebP image.",
                    param="input_reference", code="invalid_image",
                ) from None
            if f"{width}x{height}" != size and not dialect.free_sizes:  # those servers fit it themselves
                raise api_errors.bad_request(
                    f"Inpaint image must match the requested width and height: the image is {width}x{height}, "
                    f"the requested size is {size}.",
                    param="input_reference", code="invalid_image_size",
                )
            job_dir = store.job_dir(job.id)
            job_dir.mkdir(parents=True, exist_ok=True)
            (job_dir / f"reference.{IMAGE_EXTENSIONS[mime]}").write_bytes(data)
        return enqueue(job)

    @app.get("/v1/videos")
    async def list_videos(after: str | None = None, limit: int | None = None, order: str = "desc") -> JSONResponse:
        limit = dialect.default_limit() if limit is None else limit
        if limit is None:  # this dialect lists everything when no limit is given
            limit = max(1, store.count())
        elif not 0 <= limit <= 100:
            raise api_errors.bad_request(f"Invalid 'limit': {limit}. It must be between 0 and 100.", param="limit")
        _one_of("order", order, ("asc", "desc"))
        page = store.page(after=after, limit=limit, order=order)
        if page is None:
            raise api_errors.bad_request(f"No video found with id '{(after or '')[:80]}' for 'after'.", param="after")
        jobs, has_more = page
        return JSONResponse(dialect.page(jobs, has_more))

    @app.post("/v1/videos/edits", openapi_extra=openapi_body(EditVideo))
    async def create_edit(request: Request) -> JSONResponse:
        edit = (await Body.read(request, settings.max_video_bytes, dialect)).parse(EditVideo)
        prompt = check_prompt(edit.prompt)
        params = read_params(edit)
        check_capacity()
        video_id = dialect.new_id()
        duration, size, model, source_id = await take_source(edit, video_id, "edited")
        job = new_job("edit", model, prompt, size, duration, duration, params, video_id, source_video_id=source_id)
        check_request(job)
        return enqueue(job)

    @app.post("/v1/videos/extensions", openapi_extra=openapi_body(ExtendVideo))
    async def create_extension(request: Request) -> JSONResponse:
        extend = (await Body.read(request, settings.max_video_bytes, dialect)).parse(ExtendVideo)
        prompt = check_prompt(extend.prompt)
        seconds = extend.seconds
        _one_of("seconds", seconds, caps.extension_durations)
        params = read_params(extend)
        check_capacity()
        video_id = dialect.new_id()
        duration, size, model, source_id = await take_source(extend, video_id, "extended")
        total = round(duration) + int(seconds)
        job = new_job("extend", model, prompt, size, total, float(seconds), params, video_id,
                      source_video_id=source_id)
        check_request(job)
        return enqueue(job)

    @app.post("/v1/videos/characters", openapi_extra=openapi_body(CreateCharacter))
    async def create_character(request: Request) -> JSONResponse:
        character = (await Body.read(request, settings.max_video_bytes, dialect)).parse(CreateCharacter)
        name, upload = character.name, character.video
        character_id = new_character_id()
        target = store.character_dir(character_id) / "video.mp4"
        target.parent.mkdir(parents=True, exist_ok=True)
        await run_in_threadpool(_save_upload, upload, target)
        try:
            await run_in_threadpool(probe_video, target)
        except InvalidMedia as exc:
            shutil.rmtree(target.parent, ignore_errors=True)
            raise api_errors.bad_request(f"The uploaded video could not be read: {exc}", param="video",
                                     code="invalid_video") from None
        created_at = int(time.time())
        store.insert_character(character_id, name, created_at)
        return JSONResponse({"id": character_id, "name": name, "created_at": created_at})

    @app.get("/v1/videos/characters/{character_id}")
    async def get_character(character_id: str) -> JSONResponse:
        character = store.get_character(character_id)
        if character is None:
            raise api_errors.not_found(f"No character found with id '{character_id[:80]}'.", param="character_id")
        return JSONResponse(character)

    @app.get("/v1/videos/{video_id}")
    async def retrieve_video(video_id: str) -> JSONResponse:
        return video_response(find(video_id))

    @app.delete("/v1/videos/{video_id}")
    async def delete_video(video_id: str) -> JSONResponse:
        job = find(video_id)
        engine.cancel(job.id)
        await run_in_threadpool(store.delete, job.id)
        return JSONResponse(dialect.deleted(job))

    @app.get("/v1/videos/{video_id}/content")
    async def video_content(video_id: str, request: Request, variant: str | None = None) -> Response:
        variant = dialect.content_variant(variant)
        _one_of("variant", variant, tuple(MEDIA_FILES))
        job = find(video_id)
        if job.status != "completed":
            raise dialect.not_ready(job)
        if job.expired or (job.expires_at and job.expires_at <= time.time()):
            raise api_errors.not_found(f"The content of video '{video_id}' has expired.", code="video_expired")
        path = store.media_path(job.id, variant)
        if not path.exists():
            raise api_errors.not_found(f"Video '{video_id}' has no {variant}.", code="not_found")
        if request.headers.get("range") is not None:
            check_range(request.headers["range"], path.stat().st_size)
        if faults.take_download_cut():
            return cut_download(request, path, MEDIA_TYPES[variant])
        return FileResponse(path, media_type=MEDIA_TYPES[variant], filename=f"{job.id}_{path.name}",
                            content_disposition_type="inline")

    @app.post("/v1/videos/{video_id}/remix", openapi_extra=openapi_body(RemixVideo))
    async def remix_video(video_id: str, request: Request) -> JSONResponse:
        remix = (await Body.read(request, settings.max_image_bytes, dialect)).parse(RemixVideo)
        prompt = check_prompt(remix.prompt)
        params = read_params(remix)
        source = completed_source(video_id, "remixed")
        check_capacity()
        job = new_job("remix", source.model, prompt, source.size, float(source.seconds), float(source.seconds),
                      params, remixed_from_video_id=source.id, source_video_id=source.id)
        check_request(job)
        target = store.job_dir(job.id) / SOURCE_NAME
        target.parent.mkdir(parents=True, exist_ok=True)
        await run_in_threadpool(_link_or_copy, store.media_path(source.id, "video"), target)
        return enqueue(job)

    @app.get("/_localsora/videos/{video_id}/request")
    async def received_request(video_id: str) -> dict[str, Any]:
        """What localsora took from the request that made this video (tests and demos check the wire with it)."""
        job = find(video_id)
        return {"id": job.id, "model": job.model, "prompt": job.prompt, "size": job.size, "seconds": job.seconds,
                "params": job.params or {}}

    if settings.enable_faults:  # off: these paths answer 404, as any unknown route does

        @app.get("/_localsora/faults")
        async def read_faults() -> dict[str, Any]:
            return _fault_settings(settings, faults)

        @app.post("/_localsora/faults")
        async def set_faults(request: Request) -> dict[str, Any]:
            """Change faults and limits at run time (tests and demos): JSON with any of the keys below."""
            data = parse_json(await read_limited(request, FAULTS_BODY_BYTES, FAULTS_BODY_BYTES) or b"{}")
            # Every value is checked before any is applied, so a bad request changes nothing.
            change = validate(FaultChange, data, from_form=False)
            if change.clear:
                faults.clear()
            inject = change.inject
            if inject is not None and not faults.queue(inject.status, inject.count, inject.retry_after, inject.route):
                raise api_errors.bad_request(f"At most {MAX_QUEUED_FAULTS} injected faults can wait at once; send "
                                         '{"clear": true} first.', param="inject.count")
            if change.error_rate is not None:
                faults.error_rate = settings.error_rate = change.error_rate
            if change.render_delay is not None:
                settings.render_delay = change.render_delay
            if change.blocked_words is not None:
                settings.blocked_words = tuple(change.blocked_words)
            if change.rate_limit is not None:
                limiter.limit = settings.rate_limit = change.rate_limit
            if change.rate_window is not None:
                limiter.window = settings.rate_window = change.rate_window
            if change.cut_downloads is not None:
                faults.cut_downloads = change.cut_downloads
            return _fault_settings(settings, faults)

    app.add_middleware(DropCutConnections)  # added last, so it wraps the gatekeeper
    return app


def capabilities_api(caps: Capabilities, sizes: tuple[str, ...]) -> dict[str, Any]:
    """What `GET /v1/models` says a model can do; the studio shows only this."""
    return {
        "engine": caps.engine, "serving": caps.serving, "modes": list(caps.modes), "sizes": list(sizes),
        "seconds": list(caps.durations), "extension_seconds": list(caps.extension_durations), "fps": caps.fps,
        "audio": caps.audio, "parameters": {p.name: p.to_api() for p in caps.parameters}, "notes": caps.notes,
    }


BYTE_RANGE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


def check_range(header: str, size: int) -> None:
    """Refuse a Range header with the contract's error body before the file response would answer in plain text.

    A range that starts past the end (or asks for the last 0 bytes) is a 416 with `Content-Range: bytes */SIZE`.
    An unparseable one (`bytes=5-1`, `bytes=abc`, `items=0-1`) is a 400: RFC 9110 would also allow serving the
    whole file, but a client that sent a broken Range is better told so.
    """
    unit, _, spec = header.partition("=")
    parts = [BYTE_RANGE.match(part) for part in spec.split(",")]
    malformed = unit.strip().lower() != "bytes" or not all(m and (m[1] or m[2]) for m in parts)
    if not malformed:
        malformed = any(m[1] and m[2] and int(m[1]) > int(m[2]) for m in parts)  # type: ignore[index]
    if malformed:
        raise api_errors.bad_request(f"Invalid Range header {header[:80]!r}: expected bytes=START-END, bytes=START- "
                                 "or bytes=-LENGTH.", param="Range", code="invalid_range")
    satisfiable = any(int(m[1]) < size if m[1] else int(m[2]) > 0 and size > 0 for m in parts)  # type: ignore[index]
    if not satisfiable:
        raise APIError(416, f"The range {header[:80]!r} is outside the file's {size:,} bytes.", param="Range",
                       code="range_not_satisfiable", headers={"Content-Range": f"bytes */{size}"})


def _fault_settings(settings: Settings, faults: FaultInjector) -> dict[str, Any]:
    return {"error_rate": faults.error_rate, "render_delay": settings.render_delay,
            "blocked_words": list(settings.blocked_words), "rate_limit": settings.rate_limit,
            "rate_window": settings.rate_window, "cut_downloads": faults.cut_downloads}


def cut_download(request: Request, path: Path, media_type: str) -> StreamingResponse:
    """The whole file's headers (Content-Length included) and about half its body; `DropCutConnections` then
    leaves the response unfinished, so the server drops the connection (the cut_downloads fault)."""
    size = path.stat().st_size
    request.state.download_cut = True
    log.info("cutting the download of %s halfway (injected fault)", path)

    def half() -> Any:
        with open(path, "rb") as file:
            yield file.read(size // 2)

    return StreamingResponse(half(), media_type=media_type, headers={"content-length": str(size)})


class DropCutConnections:
    """Outermost ASGI layer: holds back the last message of a cut download, so the response never completes and
    the server closes the connection. Outermost, because the gatekeeper middleware always finishes a body."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def send_unless_cut(message: Any) -> None:
            if (message["type"] == "http.response.body" and not message.get("more_body")
                    and scope.get("state", {}).get("download_cut")):
                if message.get("body"):
                    await send({**message, "more_body": True})
                return
            await send(message)

        await self.app(scope, receive, send_unless_cut)


def _with_id(response: Response, request_id: str) -> Response:
    response.headers["x-request-id"] = request_id
    return response


def _save_upload(upload: UploadFile, target: Path) -> None:
    upload.file.seek(0)
    partial = target.with_suffix(".part")
    with open(partial, "wb") as out:
        shutil.copyfileobj(upload.file, out, 1024 * 1024)
    os.replace(partial, target)


def _link_or_copy(source: Path, target: Path) -> None:
    # A hard link costs nothing and keeps the source safe if the original is deleted.
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
