"""Jobs: submit, poll, archive, retry, delete and sync videos for one provider and one library.

Creating calls never let the SDK retry (a retried POST could start a second billed job); we retry them
ourselves only where the server cannot have made a job: a 429, or a connection that was refused.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import random
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import httpx2  # the SDK's HTTP library

from studio import errors, pricing
from studio.access import Actor, require_owner
from studio.catalog import DEFAULT_MODEL, DURATIONS, SORA_SIZES
from studio.keyframes import (
    Keyframe,
    bridge_keyframes,
    check_keyframes,
    frame_count,
    inpaint_form,
    keep_keyframes,
    kept_keyframes,
)
from studio.library import Library, VideoRecord
from studio.media.images import FittedImage
from studio.media.sizes import check_free_size
from studio.media.thumbnails import write_stills
from studio.prompts import short_title, validate_prompt
from studio.provider.dialects import dialect_named, route_missing
from studio.provider.error_mapping import caused_by, from_job_failure, from_sdk, retry_after_seconds
from studio.provider.profiles import Provider, ProviderOffer
from studio.provider.sdk import openai
from studio.provider.url_redaction import host_of, redacted_url

if TYPE_CHECKING:
    from openai.types import Video

Kind = Literal["generate", "image", "remix", "edit", "extend", "loop", "blend"]
KEYFRAMED_KINDS = ("image", "loop", "blend")  # the kinds whose request may place keyframes
DeleteScope = Literal["provider", "local", "both"]
OnWait = Callable[[float, errors.RateLimited], None]
DEFAULT_DEADLINE = 30 * 60.0
MAX_POLL_BACKOFF = 15.0
LEARNABLE_MODES = ("remix", "edit", "extend")  # a 404/405 on their routes means the server lacks them
BLENDED_WITH = "blended_with"  # a blend's second parent, kept in the record's `extra` beside `parent_video_id`
MEDIA_NAMES = {"video": "video.mp4", "thumbnail": "thumbnail.webp", "spritesheet": "spritesheet.jpg"}

# A download holds the job's claim in the library (its `next_poll_at`), so two sessions, workers or processes never
# download the same video twice. The claim is renewed while bytes arrive. A killed download's claim is void at once:
# the folder's OS lock (`Library.download_lock`) says no download of it is alive.
DOWNLOAD_LEASE = 120.0
# A list route that refuses rather than lists: LiteLLM 1.108 answers 400; a gateway with no list, 404 or 405.
LIST_NOT_OFFERED = (400, 404, 405, 422, 501)
# A download that could not be saved (a full disk) is tried again this often, until there is space.
SAVE_RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class VideoRequest:
    """Everything needed to make (and later repeat) a video.

    `seconds` is always the length of the video made; an extension's is its source's plus `added_seconds`, which is
    what it sends as the wire's `seconds`."""

    prompt: str
    model: str = DEFAULT_MODEL
    size: str = SORA_SIZES[DEFAULT_MODEL][0]
    seconds: str = DURATIONS[0]
    kind: Kind = "generate"
    added_seconds: str = ""  # extend only: the seconds the extension adds
    reference: FittedImage | None = None
    source_video_id: str | None = None  # remix, edit, extend
    source_upload: tuple[str, bytes] | None = field(default=None, repr=False)  # edit/extend an uploaded MP4
    keyframes: tuple[Keyframe, ...] = ()  # pictures placed at frames (an end frame, Loop's, Blend's)
    blend_with: str | None = None  # blend only: the video the transition leads into
    variants: int = 1
    params: dict[str, Any] = field(default_factory=dict)  # extra fields the provider declares: seed, steps, ...

    @property
    def billed_seconds(self) -> int:
        """What a provider bills: the new video's length, or for an extension only the seconds it adds."""
        return int(float(self.added_seconds if self.kind == "extend" else self.seconds))

    def cost(self, provider_kind: str) -> pricing.CostEstimate:
        return pricing.estimate_cost(self.model, self.size, self.billed_seconds, provider_kind, variants=self.variants)


# Remix and edits on servers that take it (localsora's diffusers engine): how far the result moves from the
# source, 0 to 1, with diffusers' name and default.
STRENGTH, DEFAULT_STRENGTH = "strength", 0.7


def strength_for(follow: float) -> float:
    """The `strength` for how closely a remix should follow its source (1: keep it as it is, 0: ignore it)."""
    return round(min(1.0, max(0.0, 1.0 - follow)), 2)


def extended_length(source_seconds: str, added_seconds: str) -> str:
    """The length of an extension of a `source_seconds` video by `added_seconds`: its `seconds`."""
    return str(int(float(source_seconds)) + int(float(added_seconds)))


class PartialSubmit(errors.StudioError):
    """Some variants started before the rest failed; `records` are the ones that started."""

    def __init__(self, message: str, records: list[VideoRecord], cause: errors.StudioError) -> None:
        super().__init__(message, code=cause.code)
        self.records = records
        self.title = cause.title


@dataclass
class SyncReport:
    seen: int = 0
    added: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)
    downloading_elsewhere: list[str] = field(default_factory=list)  # the background worker (or a tab) has them
    failed: dict[str, str] = field(default_factory=dict)
    unlisted: str = ""  # why the provider's list was not read, when it has none

    @property
    def summary(self) -> str:
        parts = [f"{self.seen} on the provider", f"{len(self.added)} added", f"{len(self.archived)} downloaded"]
        if self.unlisted:
            parts[0] = f"{self.unlisted}: {self.seen} checked"
        if self.downloading_elsewhere:
            parts.append(f"{len(self.downloading_elsewhere)} being downloaded in the background")
        if self.failed:
            parts.append(f"{len(self.failed)} could not be downloaded")
        return ", ".join(parts) + "."


class Jobs:
    def __init__(self, provider: Provider, library: Library, *, deadline_seconds: float = DEFAULT_DEADLINE,
                 max_rate_wait: float = 180.0, sleep: Callable[[float], None] = time.sleep, owner: str = "",
                 actor: Actor | None = None, max_poll_backoff: float = MAX_POLL_BACKOFF) -> None:
        self.provider = provider
        self.library = library
        self.owner = owner  # who the jobs submitted here are recorded as started by, unless a submit names someone
        self.actor = actor  # who asks for deletes: checked against each video's owner (None: the server itself)
        self.deadline_seconds = deadline_seconds
        self.max_rate_wait = max_rate_wait
        self.max_poll_backoff = max_poll_backoff  # the longest wait after failed polls (2, 4, 8... s up to it)
        self._sleep = sleep

    # Submitting.
    def submit(self, request: VideoRequest, *, on_wait: OnWait | None = None,
               owner: str | None = None) -> list[VideoRecord]:
        """Create the request's jobs and record them as queued, started by `owner` (default: this Jobs' owner)."""
        owner = self.owner if owner is None else owner
        prompt = validate_prompt(request.prompt)
        self._check(request)
        group = uuid.uuid4().hex if request.variants > 1 else None
        records: list[VideoRecord] = []
        for index, params in enumerate(variant_params(request, self.provider.capabilities)):
            try:
                video = self._create_with_retry(functools.partial(self._create_call, request, prompt, params),
                                                on_wait, mode=request.kind)
            except errors.StudioError as error:
                if not records:
                    raise
                raise PartialSubmit(
                    f"{len(records)} of {request.variants} variants started; the rest failed: {error}",
                    records, error) from error
            records.append(self._record_new(video, request, params, group, index if group else None, owner))
        return records

    def retry(self, video_id: str, *, on_wait: OnWait | None = None, owner: str | None = None) -> list[VideoRecord]:
        """Submit the same request again, with the same reference image or source."""
        return self.submit(self.request_of(video_id), on_wait=on_wait, owner=owner)

    def loop_request(self, video_id: str, prompt: str = "") -> VideoRequest:
        """Loop: one clip, made from `video_id`'s end and start, that plays it round again seamlessly."""
        source = self._get(video_id)
        clip = self._archived_clip(source, "loop")
        return VideoRequest(
            prompt=prompt or f"Seamless loop: {source.prompt}", model=source.model, size=source.size,
            seconds=self._keyframed_seconds(source.seconds), kind="loop", source_video_id=video_id,
            keyframes=tuple(bridge_keyframes(clip, clip)),
            params={k: v for k, v in source.params.items() if k != "seed"})

    def blend_request(self, first_id: str, second_id: str, prompt: str = "") -> VideoRequest:
        """Blend: one clip that carries `first_id`'s last frame into `second_id`'s first, at the first's size."""
        if first_id == second_id:
            raise errors.InvalidInput("Pick two different videos to blend.")
        first, second = self._get(first_id), self._get(second_id)
        clips = self._archived_clip(first, "blend"), self._archived_clip(second, "blend")
        return VideoRequest(
            prompt=prompt or f"A smooth transition from “{first.display_title}” into “{second.display_title}”.",
            model=first.model, size=first.size, seconds=self._keyframed_seconds(first.seconds), kind="blend",
            source_video_id=first_id, blend_with=second_id, keyframes=tuple(bridge_keyframes(*clips)),
            params={k: v for k, v in first.params.items() if k != "seed"})

    def _archived_clip(self, record: VideoRecord, action: str) -> Path:
        path = self.library.path(record.video_path) if record.video_path else None
        if path is None or not path.exists():
            raise errors.InvalidInput(
                f"“{short_title(record.display_title, 60)}” is not downloaded yet; it can {action} once it is ready.")
        return path

    def _keyframed_seconds(self, wanted: str) -> str:
        """The source's length where the provider offers it, else the nearest length it does."""
        offered = self.provider.capabilities.durations
        if wanted in offered or not offered:
            return wanted
        return min(offered, key=lambda s: abs(float(s) - float(wanted)))

    def request_of(self, video_id: str) -> VideoRequest:
        record = self._get(video_id)
        if record.kind == "loop" and record.parent_video_id:
            return replace(self.loop_request(record.parent_video_id, record.prompt), params=dict(record.params))
        if record.kind == "blend" and record.parent_video_id and (second := record.extra.get(BLENDED_WITH)):
            return replace(self.blend_request(record.parent_video_id, str(second), record.prompt),
                           params=dict(record.params))
        reference = None
        if record.reference_path and (path := self.library.path(record.reference_path)) and path.exists():
            width, height = (int(v) for v in record.size.split("x"))
            mime = "image/jpeg" if path.suffix == ".jpg" else "image/png"
            reference = FittedImage(path.read_bytes(), mime, path.name, width, height, width, height)
        upload = None
        if record.source_upload_path and (path := self.library.path(record.source_upload_path)) and path.exists():
            upload = (path.name, path.read_bytes())
        added = ""
        if record.kind == "extend" and record.parent_video_id and (parent := self.library.get(record.parent_video_id)):
            added = str(int(float(record.seconds)) - int(float(parent.seconds)))  # the library keeps only totals
        return VideoRequest(
            prompt=record.prompt, model=record.model, size=record.size, seconds=record.seconds, added_seconds=added,
            kind=record.kind,  # type: ignore[arg-type]
            reference=reference, source_video_id=record.parent_video_id if not upload else None,
            keyframes=kept_keyframes(self.library.folder_for(video_id)) if record.kind == "image" else (),
            source_upload=upload, params=dict(record.params),
        )

    def _check(self, request: VideoRequest) -> None:
        caps = self.provider.capabilities
        if not 1 <= request.variants <= 4:
            raise errors.InvalidInput("Variants must be between 1 and 4.")
        action = {"generate": caps.text, "image": caps.image, "remix": caps.remix, "edit": caps.edit,
                  "extend": caps.extend, "loop": caps.keyframes, "blend": caps.keyframes}
        if not action.get(request.kind, True):
            what = {"generate": "text to video", "image": "image to video"}.get(request.kind, request.kind)
            raise errors.UnsupportedParameter(f"{self.provider.label} does not offer {what}.")
        unknown = sorted(set(request.params) - set(caps.parameters))
        if unknown:
            raise errors.UnsupportedParameter(
                f"{self.provider.label} does not take {', '.join(unknown)}; "
                f"it takes {', '.join(caps.parameters) or 'no extra parameters'}.")
        if request.kind in ("remix", "edit", "extend") and not (request.source_video_id or request.source_upload):
            raise errors.InvalidInput(f"Pick the video to {request.kind} first.")
        source = self.library.get(request.source_video_id) if request.source_video_id and not request.source_upload \
            else None
        if source is not None and source.remote_deleted:
            title = short_title(source.display_title, 60)
            if request.kind == "remix":
                raise errors.InvalidInput(
                    f"“{title}” is only in this library: {self.provider.label} no longer has it, and a remix starts "
                    "from the provider's copy. Edit or extend it instead: they send the library's MP4.")
            if self.library_copy(source.video_id) is None:
                raise errors.InvalidInput(f"“{title}” is not on {self.provider.label} any more, and this library has "
                                          "no copy of its file to send.")
        if request.keyframes and not caps.keyframes:
            raise errors.UnsupportedParameter(f"{self.provider.label} cannot place pictures at chosen frames.")
        if request.keyframes:
            starts_with_reference = [Keyframe(0, "reference", b"", "image/png")] if request.reference else []
            check_keyframes([*starts_with_reference, *request.keyframes],
                            frame_count(request.seconds, request.params.get("fps")))
        if request.kind in ("generate", *KEYFRAMED_KINDS):
            if request.model not in caps.sizes and not caps.free_text_models:
                raise errors.UnsupportedParameter(
                    f"{self.provider.label} offers {', '.join(caps.models)}, not '{request.model}'.")
            if caps.free_sizes:
                check_free_size(request.size)
            elif request.model in caps.sizes and request.size not in caps.sizes_for(request.model):
                raise errors.UnsupportedParameter(
                    f"{request.model} makes {' or '.join(caps.sizes_for(request.model))}, not {request.size}.")
        if request.kind == "extend" and request.added_seconds not in caps.extension_durations:
            chosen = f"{request.added_seconds} is not offered" if request.added_seconds else "none was chosen"
            raise errors.UnsupportedParameter(
                f"Choose {', '.join(caps.extension_durations)} seconds to add; {chosen}.")
        if request.kind in ("generate", *KEYFRAMED_KINDS) and request.seconds not in caps.durations:
            raise errors.UnsupportedParameter(
                f"Choose {', '.join(caps.durations)} seconds; {request.seconds} is not offered.")
        reference = request.reference
        if reference is not None and f"{reference.width}x{reference.height}" != request.size:
            raise errors.SizeMismatch(
                f"The reference image must be {request.size}; it is {reference.width}x{reference.height}. "
                "Fit it to the size first.")

    def library_copy(self, video_id: str | None) -> Path | None:
        """The library's MP4 of a video the provider no longer has (deleted there, or a storyboard's film, made
        here): an edit or an extension sends it in the video's place."""
        record = self.library.get(video_id) if video_id else None
        if record is None or not record.remote_deleted:
            return None
        path = self.library.path(record.video_path)
        return path if path is not None and path.exists() else None

    def _create_call(self, request: VideoRequest, prompt: str, params: dict[str, Any]) -> Video:
        videos = self.provider.client(creating=True).videos
        # Extra fields ride in the body (JSON, or multipart form fields next to an upload); none, none sent.
        extra: dict[str, Any] = {"extra_body": dict(params)} if params else {}
        if request.kind in ("edit", "extend"):
            upload = request.source_upload
            if upload is None and (copy := self.library_copy(request.source_video_id)) is not None:
                upload = (copy.name, copy.read_bytes())  # read when sent, not with each rerun: a film can be large
            if upload:
                extra["video"] = (upload[0], upload[1], "video/mp4")
                if self._dialect_routes_by_model():  # an upload carries no id for a gateway to route by
                    extra["extra_body"] = {**params, "model": request.model}
            else:
                extra["video"] = openai.omit
                extra["extra_body"] = {**params, "video": {"id": request.source_video_id}}
                if self._dialect_routes_by_model():  # LiteLLM reads the id it routes by from a JSON body only
                    extra["extra_headers"] = {"Content-Type": "application/json"}
        if request.kind == "remix":
            return videos.remix(str(request.source_video_id), prompt=prompt, **extra)
        if request.kind == "edit":
            return videos.edit(prompt=prompt, **extra)
        if request.kind == "extend":
            # The wire's `seconds` for an extension is what it adds; the video it answers with says the total.
            return videos.extend(prompt=prompt, seconds=request.added_seconds, **extra)  # type: ignore[arg-type]
        if request.keyframes:
            return self._create_keyframed(request, prompt, params)
        if request.reference:
            extra["input_reference"] = request.reference.as_upload()
        return videos.create(prompt=prompt, model=request.model, size=request.size,  # type: ignore[arg-type]
                             seconds=request.seconds, **extra)  # type: ignore[arg-type]

    def _create_keyframed(self, request: VideoRequest, prompt: str, params: dict[str, Any]) -> Video:
        """A create that places keyframes: `videos.create` cannot send more than one file, so the same form goes
        out through the SDK's own `post`, with `inpaint_items` and a `files` part per keyframe."""
        keyframes = list(request.keyframes)
        if request.reference:  # refused beside inpaint_items: it goes as the item at frame 0
            keyframes.append(Keyframe(0, f"start-{request.reference.filename}", request.reference.data,
                                      request.reference.mime))
        items, files = inpaint_form(keyframes)
        body = {**params, "prompt": prompt, "model": request.model, "size": request.size, "seconds": request.seconds,
                "inpaint_items": items}
        return self.provider.client(creating=True).post(
            "/videos", body=body, files=files, cast_to=openai.types.Video,
            options={"headers": {"Content-Type": "multipart/form-data"}})

    def _create_with_retry(self, create: Callable[[], Video], on_wait: OnWait | None, mode: str = "") -> Video:
        waited = 0.0
        refused = 0
        while True:
            try:
                return create()
            except openai.RateLimitError as exc:
                wait = retry_after_seconds(exc.response.headers)
                error = from_sdk(exc, self.provider)
                assert isinstance(error, errors.RateLimited)
                if waited + wait > self.max_rate_wait:
                    raise error from exc
            except openai.APIConnectionError as exc:
                # A refused connection never reached a server; a timeout might have, so it is not retried.
                if isinstance(exc, openai.APITimeoutError) or not caused_by(exc, ConnectionRefusedError) \
                        or refused >= 3:
                    raise from_sdk(exc, self.provider) from exc
                refused += 1
                wait = float(2**refused)
                error = errors.RateLimited(f"Backend unreachable: trying again in {wait:.0f} s.", retry_after=wait)
            except openai.APIStatusError as exc:
                if mode in LEARNABLE_MODES and route_missing(exc):
                    raise self._learn_absent(mode, exc.status_code) from exc
                raise from_sdk(exc, self.provider) from exc
            except openai.APIError as exc:
                raise from_sdk(exc, self.provider) from exc
            if on_wait is not None:
                on_wait(wait, error)
            self._sleep(wait)
            waited += wait

    def _learn_absent(self, mode: str, status_code: int) -> errors.ModeNotOffered:
        """Remember that this server lacks `mode`, so the pages stop offering it; say so in words."""
        if self.provider.base_url:
            self.library.mark_mode_absent(self.provider.base_url, mode, status_code)
        return errors.ModeNotOffered(
            f"This server does not offer {mode}: {self.provider.host} answered {status_code} on its {mode} route. "
            f"The studio will not offer {mode} for it again.", code=f"{mode}_not_offered")

    def _record_new(self, video: Video, request: VideoRequest, params: dict[str, Any], group: str | None,
                    index: int | None, owner: str) -> VideoRecord:
        folder = self.library.folder_for(video.id)
        folder.mkdir(parents=True, exist_ok=True)
        reference_path = upload_path = None
        if request.reference is not None:
            path = folder / ("reference.jpg" if request.reference.mime == "image/jpeg" else "reference.png")
            _write_atomic(path, request.reference.data)
            reference_path = self.library.relative(path)
        if request.keyframes and request.kind == "image":  # Loop's and Blend's are made again from their sources
            keep_keyframes(folder, request.keyframes)
        if request.source_upload is not None:
            path = folder / "source.mp4"
            _write_atomic(path, request.source_upload[1])
            upload_path = self.library.relative(path)
        # A remix or an edit is billed for the video it makes, which is as long as its source: the answer says.
        billed_seconds = request.billed_seconds if request.kind in ("generate", "image", "extend", *KEYFRAMED_KINDS) \
            else int(float(video.seconds))
        cost = pricing.estimate_cost(str(video.model), str(video.size), billed_seconds, self.provider.kind).usd
        record = _record_from_video(video, self.provider, self.deadline_seconds)
        record.kind = request.kind
        record.parent_video_id = request.source_video_id or video.remixed_from_video_id
        if record.parent_video_id and (parent := self.library.get(record.parent_video_id)) is not None:
            record.folder = parent.folder  # a remix, edit or extension of a campaign's video belongs to it too
        record.variant_group, record.variant_index = group, index
        record.reference_path, record.source_upload_path = reference_path, upload_path
        record.cost_usd = cost
        record.params = dict(params)
        record.owner = owner
        if request.blend_with:
            record.extra = {**record.extra, BLENDED_WITH: request.blend_with}
        return self.library.add(record, note="submitted")

    # Polling.
    def refresh_active(self) -> list[VideoRecord]:
        """One poll for every active job whose poll time has come; archive finished ones still missing files."""
        changed = []
        for record in self.library.active(provider=self.provider.kind):
            try:
                updated = self.refresh(record.video_id)
            except errors.StudioError:
                continue  # this job's trouble is its own; the others are still polled
            if (updated.status, updated.progress) != (record.status, record.progress):
                changed.append(updated)
        for record in self.library.unarchived(provider=self.provider.kind):
            with contextlib.suppress(errors.StudioError):  # kept for the next tick; the error is on the record
                changed.append(self.archive(record.video_id))
        return changed

    def refresh(self, video_id: str, *, force: bool = False) -> VideoRecord:
        """Poll one job, honouring `openai-poll-after-ms` unless forced. A timed-out job can be forced back."""
        record = self._get(video_id)
        if not (record.is_active or (force and record.status == "timed_out")):
            return record
        if (elsewhere := self.made_elsewhere(record)) is not None:
            return record if record.last_poll_error == elsewhere else (
                self.library.update(video_id, last_poll_error=elsewhere) or record)
        if (problem := unaddressable(video_id)) is not None:
            return self.library.update(video_id, status="failed", error_code=UNADDRESSABLE_CODE,
                                       error_message=problem) or record
        now = time.time()
        if not self.library.claim_poll(video_id, now if not force else float("inf"), now + 30):
            return record  # not due yet, or another session is polling it right now
        headers: Mapping[str, str] = {}
        try:
            response = self.provider.client().with_options(max_retries=0).videos.with_raw_response.retrieve(video_id)
            video, headers = response.parse(), response.headers
        except openai.APIStatusError as exc:
            # vLLM-Omni answers a failed job with its error's status (500...) and the job itself as the body.
            failed_job = _failed_video_in(exc)
            if failed_job is None:
                return self._poll_failed(record, exc, now)
            video = failed_job
        except (openai.APIError, errors.StudioError) as exc:
            return self._poll_failed(record, exc, now)
        poll_after = _poll_after(headers.get("openai-poll-after-ms"))
        changes: dict[str, object] = {
            "status": video.status, "progress": video.progress or 0, "expires_at": video.expires_at,
            "completed_at": video.completed_at, "next_poll_at": now + poll_after, "poll_failures": 0,
            "last_poll_error": None, "seconds": str(video.seconds),
        }
        if (seed := _seed_of(video)) is not None:
            changes["seed"] = seed
        if extra := extra_fields(video):
            changes["extra"] = {**record.extra, **extra}
        if video.status == "completed":
            changes["next_poll_at"] = now  # no more polls: the download below may claim it at once
        elif video.status == "failed":
            error = video.error
            changes.update(error_code=_error_code(error) or "failed",
                           error_message=_error_message(error) or "The provider did not say why.")
        elif video.status in ("queued", "in_progress"):
            deadline = record.deadline_at or record.created_at + self.deadline_seconds
            if force and record.status == "timed_out":
                changes["deadline_at"] = now + self.deadline_seconds
            elif now > deadline:
                changes["status"] = "timed_out"
                changes["error_message"] = (f"Still {video.status} after {self.deadline_seconds / 60:.0f} min. "
                                            "Refresh it to keep waiting.")
        updated = self.library.update(video_id, **changes) or record
        if updated.status == "completed" and not updated.is_archived:
            try:
                updated = self.archive(video_id)
            except errors.StudioError:
                updated = self._get(video_id)
        return updated

    def _poll_failed(self, record: VideoRecord, exc: Exception, now: float) -> VideoRecord:
        error = from_sdk(exc, self.provider) if isinstance(exc, openai.APIError) else exc
        assert isinstance(error, errors.StudioError)
        if isinstance(error, errors.NotFound):
            return self.library.update(record.video_id, status="failed", error_code="not_found",
                                       error_message=str(error), last_poll_error=None) or record
        failures = record.poll_failures + 1
        wait = error.retry_after if isinstance(error, errors.RateLimited) else min(self.max_poll_backoff, 2.0**failures)
        changes: dict[str, object] = {"poll_failures": failures, "last_poll_error": str(error),
                                      "next_poll_at": now + wait}
        if now > (record.deadline_at or record.created_at + self.deadline_seconds) and record.is_active:
            changes["status"] = "timed_out"
        return self.library.update(record.video_id, **changes) or record

    def made_elsewhere(self, record: VideoRecord) -> str | None:
        """Why `record` is not followed here: it was made on another server than the one this profile names now
        (its id means nothing there). None when it can be. The embedded localsora keeps its jobs in the data dir,
        so a new port of its own is the same server."""
        # The library keeps a base URL without its credentials (library._column_value): compare it so.
        made_on, now_on = (redacted_url(url or "").rstrip("/") for url in (record.base_url, self.provider.base_url))
        if self.provider.kind == "local" or not made_on or made_on == now_on:
            return None
        return (f"Made on {host_of(made_on)}, and {self.provider.label} now points at {self.provider.host}. "
                "It is kept as it is: point the profile back to follow and download it.")

    # Archiving.
    def archive(self, video_id: str) -> VideoRecord:
        """Stream the video, thumbnail and spritesheet into the library: temp file, then atomic rename.

        Returns the record unarchived, without waiting, when another session or process holds the download."""
        record = self._get(video_id)
        if record.is_archived or self.made_elsewhere(record) is not None:
            return record
        folder = self.library.folder_for(video_id)
        try:
            with self.library.download_lock(video_id) as held:
                now = time.time()
                if not held or not self.library.claim_download(video_id, now, now + DOWNLOAD_LEASE,
                                                               SAVE_RETRY_SECONDS):
                    return record  # downloading elsewhere, or waiting for space
                try:
                    record = self._get(video_id)  # a download that ended before the claim was taken
                    if record.is_archived:
                        return record
                    self.library.remove_part_files(video_id)
                    return self._download_all(record)
                except BaseException:
                    self.library.update(video_id, next_poll_at=time.time())  # released: the next refresh tries again
                    raise
        except OSError as exc:  # the folder, its lock or a file in it could not be written
            error = cannot_save(exc, folder)
            self.library.update(video_id, last_poll_error=str(error), next_poll_at=time.time() + SAVE_RETRY_SECONDS)
            raise error from exc

    def _download_all(self, record: VideoRecord) -> VideoRecord:
        video_id = record.video_id
        folder = self.library.folder_for(video_id)
        folder.mkdir(parents=True, exist_ok=True)
        client = self.provider.client()
        paths: dict[str, str | None] = {}
        for variant, name in MEDIA_NAMES.items():
            target = folder / name
            try:
                self._download(client, video_id, variant, target)
                paths[variant] = self.library.relative(target)
            except WrongMedia:
                paths[variant] = None  # vLLM-Omni and LiteLLM answer every variant with the MP4
            except (openai.NotFoundError, openai.BadRequestError) as exc:
                if variant == "video":  # the one file we must have
                    error = from_sdk(exc, self.provider)
                    self.library.update(video_id, last_poll_error=str(error))
                    raise error from exc
                paths[variant] = None  # some gateways have no thumbnail or spritesheet
            except openai.APIError as exc:
                error = from_sdk(exc, self.provider)
                self.library.update(video_id, last_poll_error=str(error))
                raise error from exc
            except httpx2.TransportError as exc:  # the body stopped mid-stream: the SDK does not wrap that
                error = errors.BackendUnreachable(
                    f"The download of the {variant} was cut off before the end; it is tried again.")
                self.library.update(video_id, last_poll_error=str(error))
                raise error from exc
        made_here = {variant: folder / MEDIA_NAMES[variant] for variant in ("thumbnail", "spritesheet")
                     if paths[variant] is None}
        if made_here and write_stills(folder / MEDIA_NAMES["video"], **made_here):
            paths.update({variant: self.library.relative(path) for variant, path in made_here.items()})
        return self.library.update(
            video_id, note="archived", video_path=paths["video"], thumbnail_path=paths["thumbnail"],
            spritesheet_path=paths["spritesheet"], last_poll_error=None,
        ) or record

    def _download(self, client: openai.OpenAI, video_id: str, variant: str, target: Path) -> None:
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        # The video is the contract's default variant: asked for plainly, as servers that read `variant`
        # differently (SGLang: an output index) still serve it.
        chosen = openai.omit if variant == "video" else variant
        try:
            with client.videos.with_streaming_response.download_content(
                video_id, variant=chosen  # type: ignore[arg-type]
            ) as response:
                kind = response.headers.get("content-type", "")
                if variant != "video" and not kind.startswith("image/"):
                    raise WrongMedia(f"The {variant} came as {kind or 'unknown content'}.")
                renewed = time.monotonic()
                with open(partial, "wb") as out:
                    for chunk in response.iter_bytes(1024 * 1024):
                        out.write(chunk)
                        if time.monotonic() - renewed > DOWNLOAD_LEASE / 4:  # a long download keeps its claim
                            self.library.update(video_id, next_poll_at=time.time() + DOWNLOAD_LEASE)
                            renewed = time.monotonic()
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)

    # Deleting.
    def delete(self, video_id: str, scope: DeleteScope) -> str:
        """Delete the provider copy (for good), move the library copy to the trash (restorable), or both. Only the
        video's owner or an admin may. Returns what happened, in words."""
        record = self._get(video_id)
        require_owner(self.actor, record.owner, "delete it")
        said = []
        if scope in ("provider", "both") and not record.remote_deleted and unaddressable(video_id):
            said.append(f"{self.provider.label} gave it an id no request can address, so it stays there.")
        elif scope in ("provider", "both") and not record.remote_deleted:
            try:
                if not self._dialect_says("deletes"):
                    raise NoSuchRoute
                self.provider.client().videos.delete(video_id)
                said.append(f"Deleted from {self.provider.label}.")
                self.library.update(video_id, remote_deleted=True, note="deleted on provider")
            except openai.NotFoundError as exc:
                if not route_missing(exc):
                    said.append(f"{self.provider.label} no longer had it.")
                    self.library.update(video_id, remote_deleted=True, note="deleted on provider")
                else:
                    said.append(self._no_delete_note())
            except NoSuchRoute:
                said.append(self._no_delete_note())
            except openai.APIStatusError as exc:
                if not route_missing(exc):
                    raise from_sdk(exc, self.provider) from exc
                said.append(self._no_delete_note())
            except openai.APIError as exc:
                raise from_sdk(exc, self.provider) from exc
        if scope in ("local", "both"):
            self.library.trash(video_id, self.actor)
            said.append("Moved to the trash.")
        return " ".join(said)

    # Syncing.
    def sync(self, on_progress: Callable[[int, int], None] | None = None) -> SyncReport:
        """Add what the provider has and the library lacks (every page), then download finished ones.

        `on_progress(done, total)` follows the downloads, which are the long part."""
        report = SyncReport()
        try:
            if not self._dialect_says("lists"):
                raise NoSuchRoute
            for video in self.provider.client().videos.list(limit=100):
                report.seen += 1
                try:
                    self._sync_one(video, report)
                except (ValueError, errors.StudioError) as exc:  # one bad row; the rest are still synced
                    report.failed[video.id] = f"Could not add it: {exc}"
        except NoSuchRoute:
            report.unlisted = self._follow_one_by_one(report)
        except openai.APIStatusError as exc:
            if exc.status_code not in LIST_NOT_OFFERED:
                raise from_sdk(exc, self.provider) from exc
            report.unlisted = self._follow_one_by_one(report)
        except openai.APIError as exc:
            raise from_sdk(exc, self.provider) from exc
        waiting = self.library.unarchived(provider=self.provider.kind)
        for done, record in enumerate(waiting, start=1):
            try:
                if self.archive(record.video_id).is_archived:
                    report.archived.append(record.video_id)
                elif self.made_elsewhere(record) is None:  # another session, or the worker, is downloading it now
                    report.downloading_elsewhere.append(record.video_id)
            except errors.StudioError as error:
                report.failed[record.video_id] = str(error)
            if on_progress is not None:
                on_progress(done, len(waiting))
        return report

    def _follow_one_by_one(self, report: SyncReport) -> str:
        """A provider with no list (a gateway): what this library follows there is asked for one by one."""
        for record in self.library.active(provider=self.provider.kind):
            if self.made_elsewhere(record) is not None:
                continue
            report.seen += 1
            try:
                self.refresh(record.video_id, force=True)
            except errors.StudioError as error:
                report.failed[record.video_id] = str(error)
        return (f"{self.provider.label} does not list its videos, so the jobs this library made there were "
                "checked one by one")

    def _dialect_says(self, feature: Literal["lists", "deletes"]) -> bool:
        dialect = dialect_named(self.provider.dialect)
        return dialect is None or getattr(dialect, feature)

    def _dialect_routes_by_model(self) -> bool:
        dialect = dialect_named(self.provider.dialect)
        return dialect is not None and dialect.routes_by_model

    def _no_delete_note(self) -> str:
        return f"{self.provider.label} has no delete; its copy there expires by itself."

    def _sync_one(self, video: Video, report: SyncReport) -> None:
        existing = self.library.get(video.id)
        if existing is None:
            record = _record_from_video(video, self.provider, self.deadline_seconds)
            record.kind = "remix" if video.remixed_from_video_id else "generate"
            record.parent_video_id = video.remixed_from_video_id
            record.cost_usd = pricing.estimate_cost(
                str(video.model), str(video.size), int(float(video.seconds)), self.provider.kind).usd
            self.library.add(record, note="found by sync")
            report.added.append(video.id)
        elif existing.status != video.status and existing.status != "timed_out" and not unaddressable(video.id):
            self.library.update(video.id, status=video.status, progress=video.progress)

    def failure(self, record: VideoRecord) -> errors.StudioError | None:
        """The typed error for a failed or timed-out job, for the page to show."""
        if record.status == "failed":
            return from_job_failure(record.error_code, record.error_message)
        if record.status == "timed_out":
            return errors.JobTimedOut(record.error_message or "The job timed out. Refresh it to keep waiting.")
        return None

    def _get(self, video_id: str) -> VideoRecord:
        record = self.library.get(video_id)
        if record is None:
            raise errors.NotFound(f"No video '{video_id}' in the library.")
        return record


class WrongMedia(Exception):
    """A thumbnail or spritesheet that the server answered with something else (the MP4)."""


class NoSuchRoute(Exception):
    """The provider has no route for this operation, as its dialect says: nothing is sent."""



def _failed_video_in(exc: openai.APIStatusError) -> Video | None:
    """The failed job in an error answer's body, when a server sends one (vLLM-Omni), else None."""
    try:
        body = exc.response.json()
    except ValueError:
        return None
    if not isinstance(body, dict) or body.get("object") != "video" or body.get("status") != "failed":
        return None
    return openai.types.Video.model_construct(**body)


# The SDK refuses to put "." or ".." (also percent-encoded) in a URL path, so such an id can never be polled.
DOT_SEGMENT = re.compile(r"^(\.|%2e){1,2}$", re.IGNORECASE)
UNADDRESSABLE_CODE = "unaddressable_id"


def unaddressable(video_id: str) -> str | None:
    """Why no request can name this provider id, or None when it is fine."""
    if not video_id or DOT_SEGMENT.match(video_id):
        return (f"The provider gave this job the id {video_id!r}, which no request can address, so it cannot be "
                "followed, downloaded or deleted there.")
    return None


def _record_from_video(video: Video, provider: Provider, deadline_seconds: float) -> VideoRecord:
    created_at = float(video.created_at or time.time())
    record = VideoRecord(
        video_id=video.id, provider=provider.kind, base_url=provider.base_url, kind="generate", status=video.status,
        progress=video.progress or 0, prompt=video.prompt or "", model=str(video.model), size=str(video.size),
        seconds=str(video.seconds), created_at=created_at,
        completed_at=video.completed_at, expires_at=video.expires_at,
        deadline_at=created_at + deadline_seconds,
        error_code=_error_code(video.error), error_message=_error_message(video.error),
        seed=_seed_of(video), extra=extra_fields(video),
    )
    if (problem := unaddressable(video.id)) is not None:
        record.status, record.error_code, record.error_message = "failed", UNADDRESSABLE_CODE, problem
    return record


def extra_fields(video: Video) -> dict[str, Any]:
    """Every field the provider sent beyond OpenAI's Video (vLLM-Omni's inference_time_s, peak_memory_mb, ...)."""
    return dict(video.model_extra or {})


def _error_field(error: object, name: str) -> str | None:
    # A parsed error object, or the plain dict of a job read from an error answer's body.
    value = error.get(name) if isinstance(error, dict) else getattr(error, name, None)
    return None if value is None else str(value)  # vLLM-Omni's code may be an integer; codes are kept as text


def _error_code(error: object) -> str | None:
    return _error_field(error, "code")


def _error_message(error: object) -> str | None:
    return _error_field(error, "message")


def _seed_of(video: Video) -> int | None:
    """The seed the provider says it used (localsora and vLLM-Omni add it to the Video object)."""
    seed = (video.model_extra or {}).get("seed")
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


def variant_params(request: VideoRequest, caps: ProviderOffer) -> list[dict[str, Any]]:
    """Each variant's extra fields. Where the provider takes a seed, variants get distinct ones: the chosen
    seed plus the variant's index, or distinct random seeds when none was chosen, so takes differ and repeat."""
    spec = caps.parameters.get("seed")
    if request.variants == 1 or spec is None:
        return [dict(request.params) for _ in range(request.variants)]
    low = int(spec.minimum if spec.minimum is not None else 0)
    high = int(spec.maximum if spec.maximum is not None else 2**32 - 1)
    span = high - low + 1
    chosen = request.params.get("seed")
    if chosen is None:
        seeds = random.sample(range(low, high + 1), request.variants)
    else:
        seeds = [low + (int(chosen) - low + index) % span for index in range(request.variants)]
    return [{**request.params, "seed": seed} for seed in seeds]


def cannot_save(exc: OSError, folder: Path) -> errors.CannotSave:
    """What stops a download being saved in `folder`, in words, saying where."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return errors.CannotSave(f"The disk is full: the video cannot be saved in {folder}. It is downloaded as soon "
                                 "as there is space: free some, or move the data folder (SORA_STUDIO_DATA_DIR).",
                                 code="disk_full")
    return errors.CannotSave(f"The video cannot be saved in {folder}: {exc.strerror or exc}. It is tried again.",
                             code="cannot_save")


def _poll_after(header: str | None) -> float:
    try:
        return max(0.2, float(header) / 1000) if header else 2.0
    except ValueError:
        return 2.0


def _write_atomic(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    partial.write_bytes(data)
    os.replace(partial, path)
