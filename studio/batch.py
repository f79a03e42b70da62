"""Batch queues: many videos from one CSV (or one prompt × N seeds), every row checked before anything is sent,
then submitted at the provider's pace from a queue kept in the library, so a restart loses and doubles nothing.

A row is marked 'submitting' in the library before its create is sent. A row still 'submitting' after
SUBMIT_LEASE_SECONDS belongs to a process that stopped mid-create: `advance` looks for the video that create may
have made (in the library, then on the provider) and adopts it, or sends the row again only when none exists.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import time
import uuid
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from studio import errors, pricing
from studio.access import Actor, require_owner
from studio.jobs import Jobs, VideoRequest
from studio.library import Filters, Library, VideoRecord
from studio.media.images import FittedImage, fit, parse_size
from studio.media.sizes import check_free_size
from studio.prompts import short_title, validate_prompt
from studio.provider.error_mapping import from_sdk
from studio.provider.profiles import Provider, ProviderOffer
from studio.provider.sdk import openai

COLUMNS = ("prompt", "size", "seconds", "model", "seed", "image")
# Other headers people write for the same columns.
COLUMN_ALIASES = {"image file": "image", "image_file": "image", "image file name": "image", "image name": "image",
                  "image_name": "image", "reference": "image", "duration": "seconds", "length": "seconds"}
MAX_ROWS = 500
SUBMIT_LEASE_SECONDS = 120.0  # longer than a create's HTTP timeout (60 s): past it, no create is still in flight
CLOCK_SKEW_SECONDS = 5.0  # a provider's created_at may trail our own clock a little
CONNECTION_BACKOFF_SECONDS = 30.0
STATES = ("running", "paused", "cancelled", "finished")


@dataclass(frozen=True)
class Pace:
    """How fast a batch may submit: jobs in flight at once, and job requests per window (0: no cap)."""

    max_concurrent: int = 2
    per_window: int = 0
    window_seconds: float = 60.0

    @property
    def label(self) -> str:
        rate = (f"{self.per_window} per {self.window_seconds:g} s" if self.window_seconds != 60
                else f"{self.per_window} a minute") if self.per_window else "no rate cap"
        return f"{self.max_concurrent} at once, {rate}"


PACE_PRESETS: dict[str, Pace] = {
    "Azure OpenAI: 2 a minute": Pace(max_concurrent=2, per_window=2),
    "Gentle: 2 at once, 10 a minute": Pace(max_concurrent=2, per_window=10),
    "Local: 2 at once, no rate cap": Pace(max_concurrent=2),
}


def pace_for(provider: Provider) -> Pace:
    """The provider's own pace where its profile says it (Azure: 2 a minute), else 2 at once with no rate cap."""
    per_minute = provider.capabilities.jobs_per_minute
    return Pace(max_concurrent=2, per_window=per_minute or 0)


# ---------------------------------------------------------------- reading and checking rows


@dataclass(frozen=True)
class RowDefaults:
    """What a blank cell means."""

    model: str
    size: str
    seconds: str


@dataclass
class DraftRow:
    line: int  # the CSV line the row starts on (1 is the header), or the take's number for prompt × seeds
    prompt: str
    model: str
    size: str
    seconds: str
    seed_text: str = ""
    image_name: str = ""
    problems: list[str] = field(default_factory=list)  # found while reading: a cell too many, ...


@dataclass(frozen=True)
class RowProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"Line {self.line}: {self.message}" if self.line else self.message


class BatchRejected(errors.InvalidInput):
    """Rows that need fixing; nothing was sent."""

    title = "Fix these rows first"

    def __init__(self, problems: Sequence[RowProblem]) -> None:
        lines = sorted({p.line for p in problems if p.line})
        where = f" (line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))})" if lines else ""
        super().__init__(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} to fix{where}; nothing was "
                         "sent: " + " ".join(str(p) for p in problems), code="batch_rejected")
        self.problems = list(problems)


def parse_csv(text: str, defaults: RowDefaults) -> list[DraftRow]:
    """Rows from CSV text. A header row names the columns (any order; `prompt` is required); without one, the
    columns are prompt, size, seconds, model, seed, image. Blank cells take `defaults`."""
    text = text.lstrip("\ufeff")
    first_line = text.splitlines()[0] if text.strip() else ""
    delimiter = next((d for d in (";", "\t") if d in first_line and "," not in first_line), ",")
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows: list[DraftRow] = []
    columns: list[str] | None = None
    last_line = 0
    try:
        for cells in reader:
            line, last_line = last_line + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if columns is None:
                columns = _header(cells)
                if columns is not None:
                    continue
                columns = list(COLUMNS)
            if len(rows) >= MAX_ROWS:
                raise BatchRejected([RowProblem(line, f"A batch holds at most {MAX_ROWS} rows; split the CSV.")])
            rows.append(_draft(line, columns, cells, defaults))
    except csv.Error as exc:
        raise BatchRejected([RowProblem(reader.line_num, f"The CSV cannot be read here: {exc}.")]) from exc
    if not rows:
        raise BatchRejected([RowProblem(0, "The CSV has no rows: write one prompt per line, under a header "
                                           "such as prompt,size,seconds.")])
    return rows


def rows_from_seeds(prompt: str, takes: int, first_seed: int, defaults: RowDefaults) -> list[DraftRow]:
    """One prompt, `takes` rows with seeds first_seed, first_seed + 1, ...; each take's number is its line."""
    if not 1 <= takes <= MAX_ROWS:
        raise BatchRejected([RowProblem(0, f"Choose between 1 and {MAX_ROWS} takes.")])
    return [DraftRow(line=index + 1, prompt=prompt, model=defaults.model, size=defaults.size,
                     seconds=defaults.seconds, seed_text=str(first_seed + index)) for index in range(takes)]


def _header(cells: list[str]) -> list[str] | None:
    """The column names, when this row is a header (every cell names a column); else None."""
    names = [_column_name(c) for c in cells]
    known = [n for n in names if n in COLUMNS]
    if not known:
        return None
    unknown = [c.strip() for c, n in zip(cells, names, strict=True) if n not in COLUMNS and c.strip()]
    if unknown:
        raise BatchRejected([RowProblem(1, f"Unknown column {', '.join(repr(u) for u in unknown)}; the columns are "
                                           f"{', '.join(COLUMNS)}.")])
    if "prompt" not in names:
        raise BatchRejected([RowProblem(1, "The header has no prompt column.")])
    if len(set(known)) != len(known):
        raise BatchRejected([RowProblem(1, "A column is named twice in the header.")])
    return names


def _column_name(cell: str) -> str:
    name = re.sub(r"\s+", " ", cell.strip().lower())
    return COLUMN_ALIASES.get(name, name)


def _draft(line: int, columns: list[str], cells: list[str], defaults: RowDefaults) -> DraftRow:
    if columns == ["prompt"]:
        cells = [",".join(cells)]  # prompts alone: a comma in one is part of it, quoted or not
    values = {name: cell.strip() for name, cell in zip(columns, cells, strict=False) if name}
    row = DraftRow(
        line=line, prompt=values.get("prompt", ""),
        model=values.get("model") or defaults.model,
        size=_size_text(values.get("size") or defaults.size),
        seconds=_seconds_text(values.get("seconds") or defaults.seconds),
        seed_text=values.get("seed", ""), image_name=values.get("image", ""),
    )
    extra = [c for c in cells[len(columns):] if c.strip()]
    if extra:
        row.problems.append(f"{len(extra)} cell{'s' if len(extra) > 1 else ''} more than the header has columns "
                            "(a comma inside a prompt needs the prompt in double quotes).")
    return row


def _size_text(text: str) -> str:
    return re.sub(r"\s+", "", text).lower().replace("×", "x")


def _seconds_text(text: str) -> str:
    bare = text.strip().lower().removesuffix("seconds").removesuffix("s").strip()
    try:
        number = float(bare)
    except ValueError:
        return text.strip()
    return str(int(number)) if number.is_integer() else bare


@dataclass
class PlannedRow:
    """A checked row, ready to queue."""

    line: int
    prompt: str
    model: str
    size: str
    seconds: str
    params: dict[str, Any]
    image: FittedImage | None = None
    image_name: str = ""


@dataclass(frozen=True)
class BatchEstimate:
    rows: int
    seconds: int
    usd: float  # for the rows with a list price
    unpriced: int  # rows with no list price
    local: bool

    @property
    def label(self) -> str:
        videos = f"{self.rows} video{'s' if self.rows != 1 else ''}, {self.seconds} s in all"
        if self.local:
            return f"Free (local renderer): {videos}"
        if self.unpriced == self.rows:
            return f"Price unknown: {videos}; this provider's models have no list price"
        unknown = f", plus {self.unpriced} with no list price" if self.unpriced else ""
        return f"{pricing.format_usd(self.usd)} for {videos}{unknown}"


@dataclass
class BatchPlan:
    rows: list[PlannedRow]
    problems: list[RowProblem]
    estimate: BatchEstimate

    @property
    def ok(self) -> bool:
        return not self.problems


def plan_batch(drafts: Sequence[DraftRow], provider: Provider, images: Mapping[str, bytes] | None = None) -> BatchPlan:
    """Check every row against what the provider offers and fit each row's image to its size; nothing is sent."""
    images = images or {}
    planned: list[PlannedRow] = []
    problems: list[RowProblem] = []
    for draft in drafts:
        row, found = _plan_row(draft, provider, images)
        problems += [RowProblem(draft.line, message) for message in found]
        if row is not None:
            planned.append(row)
    return BatchPlan(planned, problems, estimate_batch(planned, provider.kind))


def _plan_row(draft: DraftRow, provider: Provider, images: Mapping[str, bytes]) -> tuple[PlannedRow | None, list[str]]:
    caps = provider.capabilities
    found = list(draft.problems)
    prompt = draft.prompt
    try:
        prompt = validate_prompt(draft.prompt)
    except errors.PromptRejected as error:
        found.append(str(error))
    found += _shape_problems(draft, provider.label, caps)
    params: dict[str, Any] = {}
    if draft.seed_text:
        seed, problem = _seed(draft.seed_text, provider.label, caps)
        if problem:
            found.append(problem)
        else:
            params["seed"] = seed
    image = None
    if draft.image_name:
        data = _image_named(images, draft.image_name)
        if not caps.image:
            found.append(f"{provider.label} does not animate images; leave the image cell blank.")
        elif data is None:
            found.append(f"The image '{draft.image_name}' was not uploaded; add it next to the CSV.")
        elif not found:
            try:
                image = fit(data, draft.size, "cover")
            except errors.InvalidInput as error:
                found.append(f"The image '{draft.image_name}': {error}")
    if found:
        return None, found
    return PlannedRow(draft.line, prompt, draft.model, draft.size, draft.seconds, params, image,
                      draft.image_name), []


def _shape_problems(draft: DraftRow, label: str, caps: ProviderOffer) -> list[str]:
    found = []
    if not draft.model:
        found.append("No model: fill the model cell or choose a default.")
    elif draft.model not in caps.sizes and not caps.free_text_models:
        found.append(f"Unknown model '{draft.model}': {label} offers {', '.join(caps.models)}.")
    if caps.free_sizes:
        try:
            check_free_size(draft.size)
        except errors.InvalidInput as error:
            found.append(str(error))
    elif draft.size not in caps.sizes_for(draft.model):
        found.append(f"Unknown size '{draft.size}' for {draft.model}: choose "
                     f"{' or '.join(caps.sizes_for(draft.model))}.")
    if draft.seconds not in caps.durations:
        found.append(f"Unknown length '{draft.seconds}' seconds: choose {', '.join(caps.durations)}.")
    return found


def _seed(text: str, label: str, caps: ProviderOffer) -> tuple[int | None, str | None]:
    spec = caps.parameters.get("seed")
    if spec is None:
        return None, f"{label} does not take a seed; leave the seed cell blank."
    try:
        seed = int(text)
    except ValueError:
        return None, f"The seed must be a whole number; it is '{text}'."
    if (spec.minimum is not None and seed < spec.minimum) or (spec.maximum is not None and seed > spec.maximum):
        return None, f"The seed must be {spec.minimum:.0f} to {spec.maximum:.0f}; it is {seed}."
    return seed, None


def _image_named(images: Mapping[str, bytes], name: str) -> bytes | None:
    if name in images:
        return images[name]
    wanted = Path(name.replace("\\", "/")).name.lower()
    return next((data for key, data in images.items() if Path(key).name.lower() == wanted), None)


def estimate_batch(rows: Iterable[PlannedRow], provider_kind: str) -> BatchEstimate:
    """The whole batch's cost from the one price table (studio.pricing)."""
    count = seconds = unpriced = 0
    usd = 0.0
    for row in rows:
        cost = pricing.estimate_cost(row.model, row.size, row.seconds, provider_kind)
        count, seconds = count + 1, seconds + cost.billed_seconds
        if cost.usd is None:
            unpriced += 1
        else:
            usd += cost.usd
    return BatchEstimate(count, seconds, round(usd, 2), unpriced, provider_kind.strip().lower() == "local")


# ---------------------------------------------------------------- the queue


# What a row says of its status, in the order the batch's header counts them.
ROW_STATUS_WORDS = {"completed": "Ready", "in_progress": "Rendering", "queued": "Queued", "sending": "Sending",
                    "waiting": "Waiting", "failed": "Failed", "timed_out": "Timed out", "refused": "Refused",
                    "cancelled": "Cancelled"}


@dataclass
class BatchRow:
    batch_id: str
    position: int
    line: int
    prompt: str
    model: str
    size: str
    seconds: str
    params: dict[str, Any]
    image_path: str | None
    state: str  # pending | submitting | submitted | refused | cancelled
    video_id: str | None
    requested_at: float | None
    error: str | None
    video: VideoRecord | None = None

    @property
    def status(self) -> str:
        """What a person sees: waiting, sending, queued, in_progress, completed, failed, timed_out, refused,
        cancelled. A sent row follows its video's record."""
        if self.state == "pending":
            return "waiting"
        if self.state == "submitting":
            return "sending"
        if self.state == "submitted":
            if self.video is None:
                return "failed"  # removed from the library since
            if self.video.status == "completed" and not self.video.is_archived:
                return "in_progress"  # finished there, still downloading here
            return self.video.status
        return self.state

    @property
    def progress(self) -> int:
        return self.video.progress if self.video else 0

    @property
    def settled(self) -> bool:
        """Nothing more will happen to it: finished, failed, refused or cancelled (and downloaded if it finished)."""
        if self.state in ("refused", "cancelled"):
            return True
        if self.state != "submitted":
            return False
        video = self.video
        return video is None or (not video.is_active and (video.status != "completed" or video.is_archived))

    @property
    def message(self) -> str | None:
        """Why it failed, in words."""
        if self.error:
            return self.error
        if self.video and self.video.status in ("failed", "timed_out"):
            return self.video.error_message or self.video.error_code
        return None


@dataclass
class Batch:
    batch_id: str
    name: str
    tag: str
    provider: str
    owner: str
    state: str  # running | paused | cancelled | finished
    pace: Pace
    not_before: float
    last_error: str | None
    created_at: float
    updated_at: float
    rows: list[BatchRow]

    def counts(self) -> dict[str, int]:
        counted: dict[str, int] = {}
        for row in self.rows:
            counted[row.status] = counted.get(row.status, 0) + 1
        return counted

    @property
    def settled(self) -> bool:
        return all(row.settled for row in self.rows)

    @property
    def completed(self) -> list[BatchRow]:
        return [r for r in self.rows if r.status == "completed" and r.video is not None and r.video.is_archived]

    @property
    def summary(self) -> str:
        """The rows counted in the words each row says of itself (ROW_STATUS_WORDS), so the two always agree."""
        counts = self.counts()
        parts = [f"{counts[s]} {ROW_STATUS_WORDS[s].lower()}" for s in ROW_STATUS_WORDS if counts.get(s)]
        parts += [f"{n} {s}" for s, n in counts.items() if s not in ROW_STATUS_WORDS]  # a server's own word
        return f"{len(self.rows)} rows: " + ", ".join(parts)

    @property
    def zip_name(self) -> str:
        """The ZIP's file name: one taken mid-run says how many it holds, so it is never mistaken for the final one."""
        if self.settled:
            return f"{self.tag}.zip"
        return f"{self.tag}-partial-{len(self.completed)}-of-{len(self.rows)}.zip"


def start_batch(library: Library, provider: Provider, plan: BatchPlan, *, name: str = "", pace: Pace | None = None,
                owner: str = "") -> Batch:
    """Queue a checked plan in the library (nothing is sent here: `advance` sends). A plan with problems is refused
    whole, so a bad row never leaves the good ones half-sent."""
    if plan.problems:
        raise BatchRejected(plan.problems)
    if not plan.rows:
        raise BatchRejected([RowProblem(0, "The batch has no rows.")])
    pace = pace or pace_for(provider)
    if pace.max_concurrent < 1 or pace.per_window < 0 or pace.window_seconds <= 0:
        raise errors.InvalidInput("The pace needs at least 1 job at once and a window longer than 0 s.")
    batch_id = "batch_" + uuid.uuid4().hex[:16]
    name = re.sub(r"\s+", " ", name).strip() or f"Batch of {len(plan.rows)}"
    folder = batch_folder(library, batch_id)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for position, row in enumerate(plan.rows):
        image_path = None
        if row.image is not None:
            path = folder / f"{position:03d}-{row.image.filename}"
            path.write_bytes(row.image.data)
            image_path = library.relative(path)
        rows.append({"batch_id": batch_id, "position": position, "line": row.line, "prompt": row.prompt,
                     "model": row.model, "size": row.size, "seconds": row.seconds,
                     "params": json.dumps(row.params, sort_keys=True), "image_path": image_path, "state": "pending"})
    now = time.time()
    library.add_batch({"batch_id": batch_id, "name": name, "tag": _tag_for(name, batch_id),
                       "provider": provider.kind, "owner": owner, "state": "running",
                       "max_concurrent": pace.max_concurrent, "per_window": pace.per_window,
                       "window_seconds": pace.window_seconds, "created_at": now, "updated_at": now}, rows)
    batch = load_batch(library, batch_id)
    assert batch is not None
    return batch


def batch_folder(library: Library, batch_id: str) -> Path:
    return library.data_dir / "batches" / batch_id


def _tag_for(name: str, batch_id: str) -> str:
    # One tag per batch, unique (the id's tail) and readable (the name); tags are comma-separated, so no commas.
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-").removeprefix("batch").strip("-")[:40]
    return f"batch-{slug}-{batch_id[-6:]}" if slug else f"batch-{batch_id[-6:]}"


def load_batch(library: Library, batch_id: str) -> Batch | None:
    found = library.batch(batch_id)
    return None if found is None else _batch(library, found)


def list_batches(library: Library, provider_kind: str | None = None, limit: int = 20) -> list[Batch]:
    """Newest first."""
    return [_batch(library, found) for found in library.batches(provider_kind, limit=limit)]


def _batch(library: Library, found: dict[str, Any]) -> Batch:
    rows = [BatchRow(**{**row, "params": json.loads(row["params"] or "{}")}) for row in library.batch_rows(
        found["batch_id"])]
    for row in rows:
        row.video = library.get(row.video_id) if row.video_id else None
    pace = Pace(found["max_concurrent"], found["per_window"], found["window_seconds"])
    return Batch(found["batch_id"], found["name"], found["tag"], found["provider"], found["owner"], found["state"],
                 pace, found["not_before"], found["last_error"], found["created_at"], found["updated_at"], rows)


def pause(library: Library, batch_id: str, actor: Actor | None = None) -> None:
    """Stop sending; jobs already sent keep rendering."""
    _change_state(library, batch_id, "paused", allowed=("running",), actor=actor, what="pause it")


def resume(library: Library, batch_id: str, actor: Actor | None = None) -> None:
    _change_state(library, batch_id, "running", allowed=("paused",), actor=actor, what="resume it")


def cancel(library: Library, batch_id: str, actor: Actor | None = None) -> None:
    """Send nothing more. Jobs already sent are paid for, so they finish and are kept."""
    _change_state(library, batch_id, "cancelled", allowed=("running", "paused"), actor=actor, what="cancel it")
    for row in library.batch_rows(batch_id):
        if row["state"] == "pending":
            library.update_batch_row(batch_id, row["position"], only_if="pending", state="cancelled")


def _change_state(library: Library, batch_id: str, state: str, allowed: Sequence[str], *, actor: Actor | None,
                  what: str) -> None:
    found = library.batch(batch_id)
    if found is None:
        raise errors.NotFound(f"No batch '{batch_id}' in the library.")
    require_owner(actor, found["owner"], what)
    if found["state"] not in allowed:
        raise errors.InvalidInput(f"The batch is {found['state']}; it cannot be {state} now.")
    library.update_batch(batch_id, state=state)


@dataclass
class AdvanceReport:
    submitted: list[str] = field(default_factory=list)  # video ids sent this tick
    adopted: list[str] = field(default_factory=list)  # videos a stopped process had made, now followed
    resent: int = 0  # rows whose create never reached the provider, queued again
    refused: list[tuple[str, int, str]] = field(default_factory=list)  # (batch, line, why)
    waiting_until: float | None = None  # a 429's Retry-After, honoured
    finished: list[str] = field(default_factory=list)  # batch ids that settled this tick


class Deferred(Exception):
    """Raised from Jobs' on_wait hook (`defer_instead_of_waiting`): the provider said wait (429) or could not be
    reached, and no job was made. The work goes back to its queue instead of a thread sleeping through the wait."""

    def __init__(self, seconds: float, error: errors.RateLimited) -> None:
        super().__init__(str(error))
        self.seconds = seconds
        self.error = error


def defer_instead_of_waiting(seconds: float, error: errors.RateLimited) -> None:
    raise Deferred(seconds, error)


def advance(library: Library, jobs: Jobs, now: float | None = None) -> AdvanceReport:
    """One tick of every batch on this provider: reconcile creates a stopped process left, follow sent rows'
    videos, send the rows that are due at the provider's pace, and mark settled batches finished. Never sleeps."""
    now = time.time() if now is None else now
    report = AdvanceReport()
    kind = jobs.provider.kind
    _reconcile(library, jobs, now, report)
    live = library.batches(kind, states=("running", "paused", "cancelled"), limit=1000)
    for found in sorted(live, key=lambda b: b["created_at"]):
        batch = _batch(library, found)
        _follow(jobs, batch)
        if batch.state == "running":
            _send_due(library, jobs, batch, now, report)
        batch = load_batch(library, batch.batch_id) or batch
        if batch.state == "running" and batch.settled:
            library.update_batch(batch.batch_id, state="finished", last_error=None)
            report.finished.append(batch.batch_id)
    return report


def _follow(jobs: Jobs, batch: Batch) -> None:
    follow_videos(jobs, [row.video for row in batch.rows if row.video is not None])


def follow_videos(jobs: Jobs, videos: Iterable[VideoRecord]) -> None:
    """Poll these active videos (when due) and download finished ones; the worker may do the same, and Jobs'
    poll claims and download locks keep that single."""
    for video in videos:
        try:
            if video.is_active:
                jobs.refresh(video.video_id)
            elif video.status == "completed" and not video.is_archived:
                jobs.archive(video.video_id)
        except errors.StudioError:
            continue  # the error is on the video's record; the next tick tries again


def _send_due(library: Library, jobs: Jobs, batch: Batch, now: float, report: AdvanceReport) -> None:
    if now < batch.not_before:
        report.waiting_until = max(report.waiting_until or 0.0, batch.not_before)
        return
    pace = batch.pace
    for row in batch.rows:
        if row.state != "pending":
            continue
        in_flight, requested = library.batch_load(batch.provider, now - pace.window_seconds)
        if in_flight >= pace.max_concurrent or (pace.per_window and requested >= pace.per_window):
            return
        if not library.update_batch_row(batch.batch_id, row.position, only_if="pending", state="submitting",
                                        requested_at=now, error=None):
            continue  # another tick (a worker, a tab) took it
        try:
            request = _request_for(library, row)
            [record] = jobs.submit(request, on_wait=defer_instead_of_waiting, owner=batch.owner or None)
        except Deferred as wait:
            library.update_batch_row(batch.batch_id, row.position, state="pending", requested_at=None)
            library.update_batch(batch.batch_id, not_before=now + wait.seconds, last_error=str(wait.error))
            report.waiting_until = max(report.waiting_until or 0.0, now + wait.seconds)
            return
        except errors.BackendUnreachable as error:
            # A timed-out create may have reached the provider: the row stays 'submitting' until reconciled.
            library.update_batch_row(batch.batch_id, row.position, error=str(error))
            library.update_batch(batch.batch_id, not_before=now + CONNECTION_BACKOFF_SECONDS, last_error=str(error))
            return
        except errors.StudioError as error:
            library.update_batch_row(batch.batch_id, row.position, state="refused", error=str(error))
            report.refused.append((batch.batch_id, row.line, str(error)))
            continue
        _adopt(library, batch.batch_id, row.position, record)
        report.submitted.append(record.video_id)


def _request_for(library: Library, row: BatchRow) -> VideoRequest:
    reference = None
    if row.image_path and (path := library.path(row.image_path)) is not None:
        if not path.exists():
            raise errors.InvalidInput(f"The row's image is gone from {path.parent}; start the batch again.")
        width, height = parse_size(row.size)
        name = path.name.split("-", 1)[-1]
        mime = "image/jpeg" if path.suffix == ".jpg" else "image/png"
        reference = FittedImage(path.read_bytes(), mime, name, width, height, width, height)
    return VideoRequest(prompt=row.prompt, model=row.model, size=row.size, seconds=row.seconds,
                        kind="image" if reference else "generate", reference=reference, params=dict(row.params))


def _adopt(library: Library, batch_id: str, position: int, record: VideoRecord) -> None:
    """The row follows this video from now on, and the video carries the batch's tag (and owner)."""
    found = library.batch(batch_id)
    assert found is not None, batch_id
    library.update_batch_row(batch_id, position, state="submitted", video_id=record.video_id, error=None)
    tags = record.tag_list
    changes: dict[str, Any] = {"tags": ", ".join(tags if found["tag"] in tags else [*tags, found["tag"]])}
    if found.get("owner") and not record.owner:
        changes["owner"] = found["owner"]
    library.update(record.video_id, **changes)


def _reconcile(library: Library, jobs: Jobs, now: float, report: AdvanceReport) -> None:
    """Rows a stopped process left 'submitting': adopt the video its create made, or queue the row again."""
    stale = [row for row in library.batch_rows_in_state(jobs.provider.kind, "submitting")
             if (row["requested_at"] or 0) < now - SUBMIT_LEASE_SECONDS]
    if not stale:
        return
    taken = library.batch_video_ids()
    for found in stale:
        row = BatchRow(**{**found, "params": json.loads(found["params"] or "{}")})
        try:
            record = _made_by(library, jobs, row, taken)
        except errors.StudioError as error:
            library.update_batch_row(row.batch_id, row.position, error=f"Could not check the provider: {error}")
            continue  # unsure whether it exists: never send it again blind; the next tick asks again
        if record is None:
            library.update_batch_row(row.batch_id, row.position, only_if="submitting", state="pending",
                                     requested_at=None, error=None)
            report.resent += 1
        else:
            _adopt(library, row.batch_id, row.position, record)
            taken.add(record.video_id)
            report.adopted.append(record.video_id)


def _made_by(library: Library, jobs: Jobs, row: BatchRow, taken: set[str]) -> VideoRecord | None:
    """The video this row's create made, if it made one: in the library (Jobs records a video right after its
    create), else on the provider (a stop between the create and that record), which is then synced in."""
    since = (row.requested_at or 0) - CLOCK_SKEW_SECONDS
    for record in library.page(Filters(provider=jobs.provider.kind, text=row.prompt), limit=100).records:
        if record.video_id not in taken and record.created_at >= since and _same_request(
                row, record.prompt, record.model, record.size, record.seconds, record.params.get("seed", record.seed)):
            return record
    try:
        for video in jobs.provider.client().videos.list(limit=100, order="desc"):
            if (video.created_at or 0) < since:
                break
            seed = (video.model_extra or {}).get("seed")
            if video.id not in taken and _same_request(row, video.prompt or "", str(video.model), str(video.size),
                                                       str(video.seconds), seed):
                if video.id not in library:
                    jobs.sync()  # adds what the provider has and the library lacks
                return library.get(video.id)
    except openai.APIError as exc:
        raise from_sdk(exc, jobs.provider) from exc
    return None


def _same_request(row: BatchRow, prompt: str, model: str, size: str, seconds: str, seed: object) -> bool:
    wanted_seed = row.params.get("seed")
    return (prompt.strip() == row.prompt.strip() and model == row.model and size == row.size
            and str(seconds) == row.seconds and (wanted_seed is None or seed == wanted_seed))


# ---------------------------------------------------------------- the batch as one ZIP


def write_zip(library: Library, batch: Batch, target: IO[bytes]) -> int:
    """Every finished video of the batch, plus a manifest CSV, into `target`; each file is streamed from disk
    (MP4s are stored as they are: compressing them again gains nothing). Returns how many videos went in."""
    manifest = io.StringIO()
    writer = csv.writer(manifest)
    writer.writerow(["line", "prompt", "model", "size", "seconds", "seed", "status", "video_id", "file"])
    count = 0
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for row in batch.rows:
            video = row.video
            path = library.path(video.video_path) if video is not None else None
            name = ""
            if video is not None and path is not None and path.exists():
                name = f"{row.line:04d}-{_file_slug(row.prompt)}-{_id_slug(video.video_id)}.mp4"
                archive.write(path, name)
                count += 1
            seed = video.seed if video is not None and video.seed is not None else row.params.get("seed", "")
            writer.writerow([inert_cell(cell) for cell in (row.line, row.prompt, row.model, row.size, row.seconds,
                                                            seed, row.status, row.video_id or "", name)])
        archive.writestr("batch.csv", manifest.getvalue(), compress_type=zipfile.ZIP_DEFLATED)
    return count


def zip_file(library: Library, batch: Batch) -> Path:
    """The batch's ZIP on disk (rewritten each call, through a temporary file), for a download to stream."""
    folder = batch_folder(library, batch.batch_id)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{batch.tag}.zip"
    partial = folder / f".{target.name}.{uuid.uuid4().hex}.part"
    try:
        with open(partial, "wb") as out:
            write_zip(library, batch, out)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _file_slug(prompt: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", short_title(prompt, 40).lower()).strip("-") or "video"


def _id_slug(video_id: str) -> str:
    """The id's tail from safe characters only: a provider's id (`/../x`, `C:\\x`) must not name a folder."""
    return re.sub(r"[^A-Za-z0-9]+", "-", video_id.removeprefix("video_")[-8:]).strip("-") or "video"


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP: CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert_cell(value: object) -> object:
    """`value` as a CSV cell no spreadsheet runs: text that starts a formula gets a leading single quote (OWASP's
    advice), so `=HYPERLINK(...)` reads as text. Numbers (a seed of -1) stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value
