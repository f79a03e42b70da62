"""The serving layer: every check and job flow of the Videos API, with no HTTP in it (vLLM's `OpenAIServing*`).

Routes (localsora/routes/) read the body and turn what `VideoService` returns into the dialect's response; the
service checks requests against the settings and the engine, makes jobs, and hands them to the job queue. A test
can call it directly.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from localsora import api_errors
from localsora.api_errors import APIError
from localsora.catalog import FREE_FRAMES_MAX, FREE_SECONDS_MAX, FREE_SIDE_MAX, FREE_SIDE_MIN
from localsora.config import Settings
from localsora.engines.base import Engine, RenderRequest, RequestRefused
from localsora.imitation import Dialect
from localsora.job_queue import SOURCE_NAME, JobQueue
from localsora.media import (
    InvalidMedia,
    first_frame_png,
    placed_picture,
    probe_image,
    probe_video,
    probe_whole_mp4,
)
from localsora.protocol import (
    Character,
    CreateCharacter,
    CreateVideo,
    DeletedCharacter,
    EditVideo,
    ExtendVideo,
    ExtraParameters,
    Health,
    InpaintItem,
    ModelCapabilities,
    ParameterRange,
    ReceivedRequest,
    RemixVideo,
    VideoReference,
)
from localsora.protocol.responses import Acceleration, CheckpointProfile
from localsora.store import MEDIA_FILES, Job, Store, new_character_id

MEDIA_TYPES = {"video": "video/mp4", "thumbnail": "image/webp", "spritesheet": "image/jpeg"}
IMAGE_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


@dataclass(frozen=True)
class MediaFile:
    """A finished video's file, ready to send."""

    path: Path
    media_type: str
    filename: str
    disposition: str = "inline"


class VideoService:
    """Jobs and their checks, for every route of the Videos API; `dialect` says how another server would differ."""

    def __init__(self, settings: Settings, store: Store, job_queue: JobQueue, engine: Engine,
                 dialect: Dialect) -> None:
        self.settings = settings
        self.store = store
        self.job_queue = job_queue
        self.engine = engine
        self.capabilities = engine.capabilities
        self.dialect = dialect
        self.started_at = int(time.time())  # the models' `created`

    # ------------------------------------------------------------------------------------ checks

    def check_prompt(self, prompt: str) -> str:
        limit = self.settings.max_prompt_chars
        if len(prompt) > limit:
            raise api_errors.bad_request(f"The prompt is {len(prompt):,} characters; the maximum is {limit:,}.",
                                         param="prompt", code="string_above_max_length")
        return prompt

    def read_params(self, request: ExtraParameters) -> dict[str, Any]:
        """The engine's extra fields (seed, negative_prompt, ...), range-checked; every job gets a seed."""
        caps, dialect = self.capabilities, self.dialect
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
        if getattr(request, "extra_params", None):
            # vLLM-Omni's model-specific arguments, which it hands to the model as they are: kept with the job
            # (/_localsora/videos/{id}/request shows them); no localsora engine reads them.
            params["extra_params"] = request.extra_params  # type: ignore[attr-defined]
        # A random seed, so variants differ and each can be made again (SGLang uses a fixed one instead).
        params.setdefault("seed", secrets.randbelow(2**32) if dialect.default_seed is None else dialect.default_seed)
        return params

    def shape(self, request: CreateVideo, params: dict[str, Any]) -> tuple[str, str, str]:
        """Model, size and seconds of a new video, as this dialect takes them."""
        return self.free_shape(request, params) if self.dialect.free_sizes else self.listed_shape(request)

    def listed_shape(self, request: CreateVideo) -> tuple[str, str, str]:
        """Model, size and seconds, each one of the engine's own (OpenAI's way)."""
        caps = self.capabilities
        model = request.model or caps.default_model
        sizes = caps.sizes(model)
        if sizes is None:
            one_of("model", model, list(caps.models))
        assert sizes is not None
        seconds = request.seconds or ("4" if "4" in caps.durations else caps.durations[0])
        one_of("seconds", seconds, caps.durations)
        size = request.size or sizes[0]
        if size not in sizes:
            others = [m for m, s in caps.models.items() if size in s]
            hint = f" {size} needs {others[0]}." if others else ""
            one_of("size", size, sizes, hint)
        return model, size, seconds

    def free_shape(self, request: CreateVideo, params: dict[str, Any]) -> tuple[str, str, str]:
        """Any WxH and whole seconds (their form checked by CreateVideoAnySize), as vLLM-Omni and SGLang take
        them; width and height stand in for size."""
        caps = self.capabilities
        model = request.model or self.dialect.model_when_omitted or caps.default_model
        if self.dialect.checks_model and caps.sizes(model) is None:
            raise api_errors.bad_request(f"Model mismatch: request specifies '{model}' but server is running "
                                         f"'{caps.default_model}'.", param="model")
        width, height = params.pop("width", None), params.pop("height", None)
        default = f"{width}x{height}" if width and height else caps.models[caps.default_model][0]
        size = request.size or default
        # Their form is digits only; a side or a length longer than the largest is refused before int(), which
        # raises on more than 4,300 digits.
        sides = size.split("x")
        w, h = (int(v) if len(v) <= len(str(FREE_SIDE_MAX)) else 0 for v in sides)
        if not (FREE_SIDE_MIN <= w <= FREE_SIDE_MAX and FREE_SIDE_MIN <= h <= FREE_SIDE_MAX) or w % 2 or h % 2:
            raise api_errors.bad_request(f"localsora renders even sizes from {FREE_SIDE_MIN} to {FREE_SIDE_MAX} "
                                         f"pixels a side; got {size[:40]}.", param="size")
        seconds = request.seconds or "4"
        if len(seconds) > len(str(FREE_SECONDS_MAX)) or not 1 <= int(seconds) <= FREE_SECONDS_MAX:
            raise api_errors.bad_request(
                f"'seconds' must be a whole number from 1 to {FREE_SECONDS_MAX}; got '{seconds[:40]}'.",
                param="seconds")
        return model, size, seconds

    def check_request(self, job: Job, reference: bool = False) -> None:
        """The engine's own checks (mode, sizes, frame counts, parameters): a 400 now, not a failed job later."""
        try:
            self.engine.check(self.render_request(job, reference))
        except RequestRefused as exc:
            raise refused(exc) from None

    def render_request(self, job: Job, reference: bool = False) -> RenderRequest:
        """The job as the engine will see it, its files named but not yet there."""
        width, height = (int(v) for v in job.size.split("x"))
        return RenderRequest(
            job.prompt, width, height, job.render_seconds, mode=job.kind,
            reference_image=Path("input_reference") if reference else None,
            source_video=Path(SOURCE_NAME) if job.kind != "generate" else None,
            **RenderRequest.taken(job.params or {}),
        )

    def plan_keyframes(self, items: list[InpaintItem], job: Job) -> list[dict[str, Any]]:
        """`inpaint_items` as the job keeps them: each index counted from 0 (-1 is the last frame of the MP4), each
        file named as it will be in the job's folder."""
        total = self.engine.delivered_frames(self.render_request(job))
        planned = []
        for number, item in enumerate(items):
            crop = item.crop_bounds
            planned.append({
                "frame_index": item.frame_index + total if item.frame_index < 0 else item.frame_index,
                "type": item.type, "file": f"keyframe-{number}.{'png' if item.type == 'image' else 'mp4'}",
                "crop": None if crop is None else [crop.left_fraction, crop.top_fraction, crop.right_fraction,
                                                   crop.bottom_fraction],
                "item": number,
            })
        return planned

    async def save_keyframes(self, job: Job, items: list[InpaintItem], files: list[UploadFile]) -> None:
        """Keep each placed file in the job's folder: an image cropped and fitted to the job's size, a clip as it
        came, once it is known to decode."""
        by_name = {upload.filename: upload for upload in files}
        named = {item.file_name for item in items}
        unused = [name for name in by_name if name not in named]
        if unused:
            raise api_errors.bad_request(f"The file '{str(unused[0])[:80]}' is named by no item of 'inpaint_items'.",
                                         param="files")
        width, height = (int(v) for v in job.size.split("x"))
        job_dir = self.store.job_dir(job.id)
        job_dir.mkdir(parents=True, exist_ok=True)
        for planned, item in zip(job.params["keyframes"], items, strict=True):
            param = f"inpaint_items[{planned['item']}].file_name"
            upload = by_name.get(item.file_name)
            if upload is None:
                raise api_errors.bad_request(
                    f"'{param}' is '{item.file_name[:80]}', but no 'files' part has that file name.", param=param)
            target = job_dir / planned["file"]
            await upload.seek(0)  # two items may place one file
            try:
                if item.type == "image":
                    picture = await run_in_threadpool(placed_picture, await upload.read(), planned["crop"], width,
                                                      height)
                    target.write_bytes(picture)
                    continue
                await run_in_threadpool(_save_upload, upload, target)
                info = await run_in_threadpool(probe_video, target)
            except InvalidMedia as exc:
                kind = "a JPEG, PNG or WebP image" if item.type == "image" else "an MP4 video"
                raise api_errors.bad_request(f"Invalid file for '{param}': {exc} Upload {kind}.", param=param,
                                             code=f"invalid_{item.type}") from None
            if info.duration > self.settings.max_source_seconds:
                raise api_errors.bad_request(
                    f"The clip for '{param}' is {info.duration:.1f} s; the limit is "
                    f"{self.settings.max_source_seconds:g} s.", param=param, code="invalid_video")

    def check_capacity(self) -> None:
        limit = self.settings.max_active_jobs
        if self.store.count_active() >= limit:
            raise api_errors.rate_limited(
                f"Too many active jobs: at most {limit} can be queued or rendering at once.", retry_after=5)

    # ------------------------------------------------------------------------------------ jobs

    def new_job(self, kind: str, model: str, prompt: str, size: str, seconds: float, render_seconds: float,
                params: dict[str, Any], video_id: str | None = None, **links: str | None) -> Job:
        now = int(time.time())
        return Job(
            id=video_id or self.dialect.new_id(), kind=kind, model=model, status="queued", progress=0,
            created_at=now, completed_at=None, expires_at=now + self.settings.ttl_seconds, prompt=prompt,
            size=size, seconds=str(max(1, round(seconds))), render_seconds=render_seconds, params=params, **links,
        )

    def enqueue(self, job: Job) -> Job:
        self.store.insert(job)
        self.job_queue.submit(job.id)
        return job

    def find(self, video_id: str, param: str = "video_id") -> Job:
        job = self.store.get(video_id)
        if job is None:
            raise api_errors.not_found(f"No video found with id '{video_id[:80]}'.", param=param)
        return job

    def completed_source(self, video_id: str, action: str) -> Job:
        """The completed, unexpired video that a remix, edit or extension starts from."""
        job = self.find(video_id, param="video")
        if job.status != "completed":
            raise api_errors.bad_request(
                f"Video '{video_id}' is {job.status}; only completed videos can be {action}.",
                param="video", code="invalid_video_status",
            )
        if _expired(job):
            raise api_errors.bad_request(f"Video '{video_id}' has expired.", param="video", code="video_expired")
        return job

    def output_size(self, width: int, height: int, model: str) -> str:
        """The allowed size closest in aspect to an uploaded source, preferring the exact size."""
        caps = self.capabilities
        sizes = caps.sizes(model) or next(iter(caps.models.values()))
        if f"{width}x{height}" in sizes:
            return f"{width}x{height}"
        aspect = width / height

        def distance(size: str) -> tuple[float, int]:
            w, h = (int(v) for v in size.split("x"))
            return abs(w / h - aspect), abs(w * h - width * height)

        return min(sizes, key=distance)

    async def take_source(self, request: EditVideo, job_id: str, action: str) -> tuple[float, str, str, str | None]:
        """Put the source clip in the new job's folder: (duration, size, model, source video id)."""
        reference = request.video
        source = self.completed_source(reference.id, action) if isinstance(reference, VideoReference) else None
        target = self.store.job_dir(job_id) / SOURCE_NAME  # the caller removes the folder if this fails
        target.parent.mkdir(parents=True, exist_ok=True)
        if source is not None:
            await run_in_threadpool(_link_or_copy, self.store.media_path(source.id, "video"), target)
            info = await run_in_threadpool(probe_video, target)
            return info.duration, source.size, source.model, source.id
        assert isinstance(reference, UploadFile)
        await run_in_threadpool(_save_upload, reference, target)
        try:
            info = await run_in_threadpool(probe_video, target)
        except InvalidMedia as exc:
            raise invalid_video(exc) from None
        if info.duration > self.settings.max_source_seconds:
            raise api_errors.bad_request(
                f"The uploaded video is {info.duration:.1f} s; the limit is {self.settings.max_source_seconds:g} s.",
                param="video", code="invalid_video",
            )
        model = self.capabilities.default_model
        return info.duration, self.output_size(info.width, info.height, model), model, None

    # ------------------------------------------------------------------------------------ the operations

    async def create(self, create: CreateVideo) -> Job:
        """POST /v1/videos: a new video from a prompt, and from a reference image when one is uploaded."""
        prompt = self.check_prompt(create.prompt)
        params = self.read_params(create)
        model, size, seconds = self.shape(create, params)
        dialect = self.dialect
        reference = dialect.reference(create)
        reported_seconds = dialect.frames(create, params, seconds)
        check_frames(params, seconds)
        failure = dialect.read_in_job(create, params, self.capabilities)
        items, files = (create.inpaint_items, create.files or []) if dialect.places_keyframes else (None, [])
        if items is None and files:
            raise api_errors.bad_request("'files' are the files of 'inpaint_items'; this request places none.",
                                         param="files")
        if items is not None and reference is not None:
            raise api_errors.bad_request("Send either 'input_reference' or 'inpaint_items': an image placed at "
                                         "frame 0 is an input reference.", param="inpaint_items")
        self.check_capacity()
        job = self.new_job("generate", model, prompt, size, float(seconds), float(seconds), params)
        job.seconds = reported_seconds
        if items is not None:
            params["keyframes"] = self.plan_keyframes(items, job)
        if failure is not None:  # taken, and failed when its turn comes, as the server it imitates does
            job.error_code, job.error_message = "invalid_request", failure
        with removed_unless_done(self.store.job_dir(job.id)):
            self.check_request(job, reference=reference is not None)
            if reference is not None:
                await self.save_reference(job, reference)
            if items is not None:
                await self.save_keyframes(job, items, files)
            return self.enqueue(job)

    async def save_reference(self, job: Job, reference: UploadFile | bytes) -> None:
        """Keep the reference image in the job's folder, once it is known to be an image of the job's size (or,
        where the dialect takes a video, the first frame of one)."""
        data = reference if isinstance(reference, bytes) else await reference.read()
        try:
            width, height, mime = await run_in_threadpool(probe_image, data)
        except InvalidMedia as exc:
            if not self.dialect.takes_video_reference():
                raise api_errors.bad_request(
                    f"Invalid input_reference: {exc} Upload a JPEG, PNG or WebP image.",
                    param="input_reference", code="invalid_image",
                ) from None
            try:
                data = await run_in_threadpool(first_frame_png, data)
                width, height, mime = await run_in_threadpool(probe_image, data)
            except InvalidMedia:
                raise api_errors.bad_request(
                    "Invalid input_reference: provided content is not a valid image or video.",
                    param="input_reference", code="invalid_image",
                ) from None
        if f"{width}x{height}" != job.size and not self.dialect.free_sizes:  # those servers fit it themselves
            raise api_errors.bad_request(
                f"Inpaint image must match the requested width and height: the image is {width}x{height}, "
                f"the requested size is {job.size}.",
                param="input_reference", code="invalid_image_size",
            )
        job_dir = self.store.job_dir(job.id)
        job_dir.mkdir(parents=True, exist_ok=True)
        (job_dir / f"reference.{IMAGE_EXTENSIONS[mime]}").write_bytes(data)

    async def remix(self, video_id: str, remix: RemixVideo) -> Job:
        """POST /v1/videos/{video_id}/remix: the same model, size and length, with a new prompt."""
        prompt = self.check_prompt(remix.prompt)
        params = self.read_params(remix)
        source = self.completed_source(video_id, "remixed")
        self.check_capacity()
        seconds = float(source.seconds)
        job = self.new_job("remix", source.model, prompt, source.size, seconds, seconds, params,
                           remixed_from_video_id=source.id, source_video_id=source.id)
        self.check_request(job)
        target = self.store.job_dir(job.id) / SOURCE_NAME
        with removed_unless_done(target.parent):
            target.parent.mkdir(parents=True, exist_ok=True)
            await run_in_threadpool(_link_or_copy, self.store.media_path(source.id, "video"), target)
            return self.enqueue(job)

    async def edit(self, edit: EditVideo) -> Job:
        """POST /v1/videos/edits: a completed video, or an uploaded MP4, changed by a prompt."""
        prompt = self.check_prompt(edit.prompt)
        params = self.read_params(edit)
        self.check_capacity()
        video_id = self.dialect.new_id()
        with removed_unless_done(self.store.job_dir(video_id)):
            duration, size, model, source_id = await self.take_source(edit, video_id, "edited")
            job = self.new_job("edit", model, prompt, size, duration, duration, params, video_id,
                               source_video_id=source_id)
            self.check_request(job)
            return self.enqueue(job)

    async def extend(self, extend: ExtendVideo) -> Job:
        """POST /v1/videos/extensions: a video with `seconds` more of it, rendered from its end."""
        prompt = self.check_prompt(extend.prompt)
        seconds = extend.seconds
        one_of("seconds", seconds, self.capabilities.extension_durations)
        params = self.read_params(extend)
        self.check_capacity()
        video_id = self.dialect.new_id()
        with removed_unless_done(self.store.job_dir(video_id)):
            duration, size, model, source_id = await self.take_source(extend, video_id, "extended")
            total = round(duration) + int(seconds)
            job = self.new_job("extend", model, prompt, size, total, float(seconds), params, video_id,
                               source_video_id=source_id)
            self.check_request(job)
            return self.enqueue(job)

    def list_page(self, after: str | None, limit: int | None, order: str) -> tuple[list[Job], bool]:
        """GET /v1/videos: one page of jobs, and whether more follow."""
        limit, order = self.dialect.list_query(limit, order)
        limit = self.dialect.default_limit() if limit is None else limit
        if limit is None:  # this dialect lists everything when no limit is given
            limit = max(1, self.store.count())
        page = self.store.page(after=after, limit=limit, order=order)
        if page is None:
            raise api_errors.bad_request(f"No video found with id '{(after or '')[:80]}' for 'after'.", param="after")
        return page

    async def delete(self, video_id: str) -> Job:
        """DELETE /v1/videos/{video_id}: a render in flight stops at its next step; the job as it was."""
        job = self.find(video_id)
        self.job_queue.cancel(job.id)
        await run_in_threadpool(self.store.delete, job.id)
        return job

    def content(self, video_id: str, variant: str | None) -> MediaFile:
        """GET /v1/videos/{video_id}/content: the file of a completed, unexpired video."""
        variant = self.dialect.content_variant(variant)
        one_of("variant", variant, tuple(MEDIA_FILES))
        job = self.find(video_id)
        if job.status != "completed":
            raise self.dialect.not_ready(job)
        if _expired(job):
            raise api_errors.not_found(f"The content of video '{video_id}' has expired.", code="video_expired")
        path = self.store.media_path(job.id, variant)
        if not path.exists():
            raise api_errors.not_found(f"Video '{video_id}' has no {variant}.", code="not_found")
        if self.dialect.attachment_downloads:  # Starlette's FileResponse, as those servers send the MP4
            return MediaFile(path, MEDIA_TYPES[variant], f"{job.id}.mp4", "attachment")
        return MediaFile(path, MEDIA_TYPES[variant], f"{job.id}_{path.name}")

    def received_request(self, video_id: str) -> ReceivedRequest:
        job = self.find(video_id)
        return ReceivedRequest(id=job.id, model=job.model, prompt=job.prompt, size=job.size, seconds=job.seconds,
                               params=job.params or {})

    # ------------------------------------------------------------------------------------ characters

    async def create_character(self, character: CreateCharacter) -> Character:
        """POST /v1/videos/characters: a named clip, kept if it is a video that decodes."""
        limit = self.settings.max_characters
        if self.store.count_characters() >= limit:
            raise api_errors.bad_request(
                f"This server keeps at most {limit:,} characters; delete some (DELETE /v1/videos/characters/ID) "
                "before making another.", param="video", code="too_many_characters")
        character_id = new_character_id()
        target = self.store.character_dir(character_id) / "video.mp4"
        created_at = int(time.time())
        with removed_unless_done(target.parent):
            target.parent.mkdir(parents=True, exist_ok=True)
            await run_in_threadpool(_save_upload, character.video, target)
            try:
                await run_in_threadpool(probe_whole_mp4, target)
            except InvalidMedia as exc:
                raise invalid_video(exc) from None
            self.store.insert_character(character_id, character.name, created_at)
        return Character(id=character_id, name=character.name, created_at=created_at)

    async def delete_character(self, character_id: str) -> DeletedCharacter:
        self.character(character_id)  # a 404 for an unknown one
        await run_in_threadpool(self.store.delete_character, character_id)
        return DeletedCharacter(id=character_id)

    def character(self, character_id: str) -> Character:
        found = self.store.get_character(character_id)
        if found is None:
            raise api_errors.not_found(f"No character found with id '{character_id[:80]}'.", param="character_id")
        return Character.model_validate(found)

    # ------------------------------------------------------------------------------------ models and health

    def model_capabilities(self, sizes: tuple[str, ...]) -> ModelCapabilities:
        """What `GET /v1/models` says a model can do; the studio shows only this."""
        caps = self.capabilities
        return ModelCapabilities(
            engine=caps.engine, serving=caps.serving, modes=list(caps.modes), sizes=list(sizes),
            seconds=list(caps.durations), extension_seconds=list(caps.extension_durations), fps=caps.fps,
            audio=caps.audio, notes=caps.notes,
            parameters={p.name: ParameterRange.model_validate(p.to_api()) for p in caps.parameters},
            profile=None if caps.profile is None else CheckpointProfile.model_validate(asdict(caps.profile)),
            acceleration=None if caps.acceleration is None else Acceleration.model_validate(
                {**asdict(caps.acceleration),
                 "loras": [{"name": name, "scale": scale} for name, scale in caps.acceleration.loras]}),
        )

    def model_sizes(self, model_id: str) -> tuple[str, ...]:
        sizes = self.capabilities.sizes(model_id)
        if sizes is None:
            raise api_errors.not_found(f"The model '{model_id[:80]}' does not exist.", param="model",
                                       code="model_not_found")
        return sizes

    def health(self) -> Health:
        caps = self.capabilities
        return Health(engine=caps.engine, renderer=caps.serving, active_jobs=self.store.count_active(),
                      instance=os.environ.get("LOCALSORA_INSTANCE", ""))


def check_frames(params: dict[str, Any], seconds: str) -> None:
    """A bound on the frames one clip asks for, whatever mix of seconds, fps and num_frames asks for them."""
    if "num_frames" not in params and "fps" not in params:
        return  # seconds alone are bounded where they are checked
    frames = params.get("num_frames") or int(seconds) * (params.get("fps") or 24)
    if frames > FREE_FRAMES_MAX:
        raise api_errors.bad_request(f"localsora renders at most {FREE_FRAMES_MAX:,} frames a clip; this asks for "
                                     f"{frames:,}.", param="num_frames")


def refused(exc: RequestRefused) -> APIError:
    return api_errors.bad_request(exc.message, param=exc.param, code=exc.code)


def invalid_video(exc: InvalidMedia) -> APIError:
    return api_errors.bad_request(f"The uploaded video could not be read: {exc}", param="video",
                                  code="invalid_video")


def one_of(param: str, value: str, allowed: tuple[str, ...] | list[str], extra: str = "") -> None:
    if value not in allowed:
        raise api_errors.bad_request(
            f"Invalid value: '{value}'. Supported values are: {_quote_list(allowed)}.{extra}", param=param
        )


def _quote_list(values: tuple[str, ...] | list[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f", and {quoted[-1]}"


def _expired(job: Job) -> bool:
    return job.expired or bool(job.expires_at and job.expires_at <= time.time())


@contextlib.contextmanager
def removed_unless_done(folder: Path) -> Iterator[None]:
    """Remove a new job's or character's `folder` when making it fails (a refusal, a full disk) before it is
    recorded: nothing half-written is kept."""
    try:
        yield
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


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
