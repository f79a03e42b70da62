"""Finishing a library video: each finished MP4 is a new library item linked to its source (lineage), never an
overwrite; GIF and poster-frame exports are files in the source's `exports/` folder, for the page to offer as
downloads. The engine itself is `studio.media.finishing`."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

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

FINISH_KIND = "finish"
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
