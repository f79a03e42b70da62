"""Finishing a library video: each finished MP4 is a new library item linked to its source (lineage), never an
overwrite; GIF and poster-frame exports are files in the source's `exports/` folder, for the page to offer as
downloads. The engine itself is `studio.media.finishing`.

An export runs on the server, not in the page: `FinishQueue` finishes one request at a time on a thread of its own
(the background worker holds it), so it ends, and its video reaches the library, with its tab closed or the page
left; the page only watches a `FinishTask`."""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from types import UnionType
from typing import Any, get_args, get_origin, get_type_hints

from studio import errors
from studio.access import Actor
from studio.library import Library, VideoRecord
from studio.media.finishing import (
    FinishError,
    FinishSpec,
    GifExport,
    export_gif,
    finish_video,
    poster_frame,
    preset_label,
)
from studio.media.thumbnails import write_stills
from studio.prompts import short_title

log = logging.getLogger("studio.finishing")

FINISH_KIND = "finish"
TASKS_KEPT_SECONDS = 3600.0  # an ended task's result, for a page that comes back to it
EXPORTS_FOLDER = "exports"
TITLE_LIMIT = 60  # the whole title, " · 9:16" included: as long as a card or lineage link shows whole


@dataclass(frozen=True)
class FinishedMany:
    """A batch's or a film's videos finished with one spec: the new items, and the ones that could not be, with
    why (one bad clip does not stop the rest)."""

    made: list[VideoRecord]
    failed: list[tuple[str, str]] = field(default_factory=list)  # (source video id, the message)


def source_file(library: Library, video_id: str) -> tuple[VideoRecord, Path]:
    """The library video and its MP4, or a StudioError saying why it cannot be finished or exported."""
    record = library.get(video_id)
    if record is None or record.trashed_at is not None:
        raise errors.NotFound(f"No video '{video_id}' in the library.")
    path = library.path(record.video_path)
    if record.status != "completed" or path is None or not path.exists():
        raise errors.InvalidInput(
            f"“{short_title(record.display_title)}” has no finished video file to work from "
            "yet: wait until it is ready."
        )
    return record, path


def finished_title(source: VideoRecord, preset: str | None) -> str:
    """"<source title> · 9:16", the source's part cut at a word so the whole fits where titles are shown, with one
    "…" (cutting the source's title and then the whole would show two)."""
    suffix = f" · {preset or 'finished'}"
    return short_title(source.display_title, TITLE_LIMIT - len(suffix)) + suffix


def finish(
    library: Library,
    source_id: str,
    spec: FinishSpec,
    *,
    actor: Actor | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> VideoRecord:
    """Finish the library video `source_id` by `spec` into a new library item of kind "finish" whose parent is the
    source. The source and its file stay as they were."""
    if spec.is_empty:
        raise FinishError(
            "Choose at least one thing to do: a trim, a format, a logo, subtitles, an end card, music or a bitrate."
        )
    source, path = source_file(library, source_id)
    video_id = f"finish_{uuid.uuid4().hex[:16]}"
    folder = library.folder_for(video_id)
    target = folder / "video.mp4"
    try:
        finished = finish_video(path, spec, target, on_progress)
        thumbnail = folder / "thumbnail.webp"
        has_thumbnail = write_stills(target, thumbnail=thumbnail)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # the folder is this item's own: nothing half-made is left
        raise
    preset = preset_label(spec.format) if spec.format is not None else None
    now = time.time()
    record = VideoRecord(
        video_id=video_id,
        provider=source.provider,
        kind=FINISH_KIND,
        status="completed",
        progress=100,
        prompt=source.prompt,
        model=source.model,
        size=f"{finished.width}x{finished.height}",
        seconds=f"{finished.duration:g}",
        created_at=now,
        completed_at=now,
        parent_video_id=source.video_id,
        title=finished_title(source, preset),
        owner=actor.name if actor is not None else "",
        video_path=library.relative(target),
        thumbnail_path=library.relative(thumbnail) if has_thumbnail else None,
        remote_deleted=True,  # made here: there is no provider copy to delete or sync
        seed=source.seed,
        tags=source.tags,
        folder=source.folder,  # the campaign's finished cut files where its source is
        base_url=source.base_url,
        extra={
            "finish": {"steps": finished.steps, "preset": preset, "audio": finished.has_audio},
            **({"subtitles_path": library.relative(finished.subtitle_path)} if finished.subtitle_path else {}),
        },
    )
    return library.add(record, note="finished: " + "; ".join(finished.steps))


def finish_many(
    library: Library,
    source_ids: Sequence[str],
    spec: FinishSpec,
    *,
    actor: Actor | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> FinishedMany:
    """Finish each of `source_ids` (a batch's videos, or films) by `spec`, each into its own new item."""
    made: list[VideoRecord] = []
    failed: list[tuple[str, str]] = []
    count = max(1, len(source_ids))
    for number, source_id in enumerate(source_ids):

        def progress(share: float, number: int = number) -> None:
            if on_progress is not None:
                on_progress((number + share) / count)

        try:
            made.append(finish(library, source_id, spec, actor=actor, on_progress=progress))
        except errors.StudioError as exc:  # FinishError is one: said in words, and the others still go ahead
            failed.append((source_id, str(exc)))
    if on_progress is not None:
        on_progress(1.0)
    return FinishedMany(made, failed)


def exports_folder(library: Library, video_id: str) -> Path:
    """Where a video's GIF and poster exports go: its own folder's `exports/`."""
    return library.folder_for(video_id) / EXPORTS_FOLDER


def save_gif(library: Library, video_id: str, *, width: int, fps: int, max_megabytes: float) -> GifExport:
    """An animated GIF of the library video, written to its `exports/` folder for the page to offer."""
    _, path = source_file(library, video_id)
    target = exports_folder(library, video_id) / f"{video_id}-{width}px-{fps}fps.gif"
    return export_gif(path, target, width=width, fps=fps, max_megabytes=max_megabytes)


def save_poster(library: Library, video_id: str, at_seconds: float) -> Path:
    """The frame at `at_seconds` as a PNG in the video's `exports/` folder."""
    _, path = source_file(library, video_id)
    png = poster_frame(path, at_seconds)
    folder = exports_folder(library, video_id)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{video_id}-poster-{round(at_seconds * 1000)}ms.png"
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        partial.write_bytes(png)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


class FinishCancelled(Exception):
    """The server is stopping: the finish in flight is abandoned, its half-made folder removed."""


@dataclass
class FinishTask:
    """One export in the background: a video, or a batch's or a film's videos, finished by one spec. Its fields are
    written by the queue's thread and read by pages; each is replaced whole, so a reader never sees half a value."""

    task_id: str
    source_ids: tuple[str, ...]
    owner: str
    progress: float = 0.0  # 0 to 1, across all its videos
    made: tuple[str, ...] = ()  # the new library items
    failed: tuple[tuple[str, str], ...] = ()  # (source video id, why), for the videos that could not be finished
    ended_at: float | None = None

    @property
    def ended(self) -> bool:
        return self.ended_at is not None


QUEUE_FOLDER = "finishing"  # in the data dir: a folder per export not yet done, so a restart takes it up again
MAX_ATTEMPTS = 3  # starts of one export (a server that died during it each time) before it is given up


class FinishQueue:
    """The server's exports of one library, run one at a time (each is a full decode and encode: two at once would
    only slow both, and the polls beside them) on a thread started with the first.

    Each export's request is kept on disk until it is done, so one queued or running when the server stopped (or
    died) starts again when the next server's queue is made: the background worker makes it at start-up."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.folder = library.data_dir / QUEUE_FOLDER
        self._tasks: dict[str, FinishTask] = {}
        self._waiting: list[tuple[FinishTask, FinishSpec]] = []
        self._guard = threading.Lock()
        self._wake = threading.Condition(self._guard)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._resume()

    def submit(self, source_ids: Sequence[str], spec: FinishSpec, *, actor: Actor | None = None) -> FinishTask:
        """Queue an export; what can be refused at once (nothing chosen, no such video, a clip not downloaded yet)
        is refused here, in words, and nothing is queued."""
        if spec.is_empty:
            raise FinishError(
                "Choose at least one thing to do: a trim, a format, a logo, subtitles, an end card, music or a bitrate."
            )
        if len(source_ids) == 1:
            source_file(self.library, source_ids[0])
        task = FinishTask(f"export_{uuid.uuid4().hex[:12]}", tuple(source_ids), actor.name if actor else "")
        if self._stopping.is_set():
            raise errors.StudioError("The server is stopping: export again once it is back.")
        try:
            write_request(self.folder / task.task_id, task, spec)
        except OSError as exc:  # a full disk, say: nothing is queued, and the page says why
            raise errors.StudioError(f"The export could not be queued: {exc.strerror or exc}.") from exc
        self._queue(task, spec)
        return task

    def get(self, task_id: str) -> FinishTask | None:
        with self._guard:
            return self._tasks.get(task_id)

    def running(self, owner: str) -> list[FinishTask]:
        """The exports `owner` started ("" for no one signed in) still queued or running, oldest first."""
        with self._guard:
            return [t for t in self._tasks.values() if not t.ended and t.owner == owner]

    def running_for(self, source_id: str) -> list[FinishTask]:
        """The exports of this video still queued or running, whoever started them."""
        with self._guard:
            return [t for t in self._tasks.values() if not t.ended and source_id in t.source_ids]

    @property
    def stopped(self) -> bool:
        return self._stopping.is_set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the export in flight (its half-made folder is removed) and take no more; each request stays on
        disk, and the next start takes it up again. The sources are untouched."""
        with self._wake:
            self._stopping.set()
            for task, _ in self._waiting:
                _stopped(task)
            self._waiting.clear()
            self._wake.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _queue(self, task: FinishTask, spec: FinishSpec) -> None:
        with self._wake:
            self._forget_old()
            self._tasks[task.task_id] = task
            self._waiting.append((task, spec))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="studio-finishing", daemon=True)
                self._thread.start()
            self._wake.notify()

    def _resume(self) -> None:
        """Queue again, oldest first, every export a server before this one left undone."""
        if not self.folder.is_dir():
            return
        kept = sorted((p for p in self.folder.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
        for folder in kept:
            try:
                task, spec, attempts = read_request(folder)
            except (OSError, ValueError, KeyError, TypeError):
                log.exception("an export kept in %s cannot be read; it is dropped", folder)
                shutil.rmtree(folder, ignore_errors=True)
                continue
            if attempts >= MAX_ATTEMPTS:
                log.error("export %s of %s was started %d times and never ended; it is dropped", task.task_id,
                          ", ".join(task.source_ids), attempts)
                shutil.rmtree(folder, ignore_errors=True)
                continue
            log.info("taking up export %s of %s again", task.task_id, ", ".join(task.source_ids))
            self._queue(task, spec)

    def _forget_old(self) -> None:
        cutoff = time.time() - TASKS_KEPT_SECONDS
        for task_id in [i for i, t in self._tasks.items() if t.ended_at is not None and t.ended_at < cutoff]:
            del self._tasks[task_id]

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._waiting and not self._stopping.is_set():
                    self._wake.wait()
                if self._stopping.is_set():
                    return
                task, spec = self._waiting.pop(0)
            self._finish(task, spec)

    def _finish(self, task: FinishTask, spec: FinishSpec) -> None:
        def progress(done: float) -> None:
            if self._stopping.is_set():
                raise FinishCancelled("the server is stopping")
            task.progress = min(1.0, max(0.0, done))

        kept = self.folder / task.task_id
        try:
            count_attempt(kept)
            actor = Actor(task.owner) if task.owner else None  # only its name is used: the new videos' owner
            result = finish_many(self.library, task.source_ids, spec, actor=actor, on_progress=progress)
            task.made = tuple(r.video_id for r in result.made)
            task.failed = tuple(result.failed)
        except FinishCancelled:
            _stopped(task)
            return  # its request stays: the next start takes it up again
        except Exception as exc:  # a bug, not a bad clip: said on the page, and the queue goes on
            log.exception("finishing %s failed", ", ".join(task.source_ids))
            task.failed = tuple((i, f"It could not be finished: {exc}") for i in task.source_ids)
        shutil.rmtree(kept, ignore_errors=True)
        task.ended_at = time.time()


def _stopped(task: FinishTask) -> None:
    task.failed = tuple((i, "The server stopped; the export starts again when it is back.") for i in task.source_ids)
    task.ended_at = time.time()


# An export's request on disk: task.json, with each of the spec's pictures and sounds (bytes) in a file beside it.


def write_request(folder: Path, task: FinishTask, spec: FinishSpec) -> None:
    """Keep `spec` for `task` in `folder`, whole or not at all (written beside it, then moved into place)."""
    partial = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.part")
    partial.mkdir(parents=True)
    try:
        request = {"task_id": task.task_id, "source_ids": list(task.source_ids), "owner": task.owner,
                   "attempts": 0, "spec": _encoded(spec, partial, "spec")}
        (partial / "task.json").write_text(json.dumps(request))
        partial.rename(folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def read_request(folder: Path) -> tuple[FinishTask, FinishSpec, int]:
    """The task, its spec and how many times it was started, as `write_request` kept them."""
    request = json.loads((folder / "task.json").read_text())
    task = FinishTask(request["task_id"], tuple(request["source_ids"]), request["owner"])
    return task, _decoded(FinishSpec, request["spec"], folder), int(request["attempts"])


def count_attempt(folder: Path) -> None:
    request = json.loads((folder / "task.json").read_text())
    request["attempts"] = int(request["attempts"]) + 1
    partial = folder / f"task.json.{uuid.uuid4().hex[:8]}.part"
    partial.write_text(json.dumps(request))
    partial.replace(folder / "task.json")


def _encoded(value: object, folder: Path, name: str) -> object:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encoded(getattr(value, f.name), folder, f"{name}.{f.name}") for f in fields(value)}
    if isinstance(value, bytes):
        (folder / name).write_bytes(value)
        return {"file": name}
    if isinstance(value, tuple):
        return [_encoded(item, folder, f"{name}.{index}") for index, item in enumerate(value)]
    return value


def _decoded(kind: Any, data: Any, folder: Path) -> Any:
    if data is None:
        return None
    if isinstance(kind, UnionType):  # `X | None`: data is not None, so it is an X
        kind = next(k for k in get_args(kind) if k is not type(None))
    if is_dataclass(kind):
        hints = get_type_hints(kind)
        return kind(**{key: _decoded(hints[key], value, folder) for key, value in data.items()})
    if kind is bytes:
        return (folder / Path(data["file"]).name).read_bytes()  # a name in this folder, never a path out of it
    if get_origin(kind) is tuple:
        return tuple(_decoded(get_args(kind)[0], item, folder) for item in data)
    return data
