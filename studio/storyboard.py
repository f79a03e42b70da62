"""Storyboards: an ordered list of shots rendered as jobs and joined into one film, saved in the library.

Each shot remembers the render that matches its inputs (prompt, length, reference, how it starts, the film's model
and size, and, for a chained shot, the previous shot's render). Change shot 3 and only shot 3, and the shots
chained after it, render again. A shot can start from the previous shot's last frame, through the provider's image
reference, or extend the previous shot where the provider offers extensions.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from studio import errors
from studio.access import Actor, require_owner
from studio.batch import Deferred, defer_instead_of_waiting, follow_videos
from studio.catalog import DURATIONS
from studio.jobs import Jobs, VideoRequest, extended_length
from studio.library import Library, VideoRecord
from studio.media.film import join_clips, last_frame_png
from studio.media.images import FittedImage, fit
from studio.media.thumbnails import write_stills
from studio.prompts import short_title, validate_prompt
from studio.provider.error_mapping import from_job_failure
from studio.provider.profiles import Provider, ProviderOffer

Start = Literal["fresh", "last_frame", "extend"]
START_LABELS: dict[str, str] = {
    "fresh": "Its own start",
    "last_frame": "The previous shot's last frame",
    "extend": "Extend the previous shot",
}
MAX_SHOTS = 24
# A render step never waits on the provider (a 429 defers it), so it holds its claim for seconds; a claim held
# this long belongs to a process that was killed mid-step.
CLAIM_LEASE_SECONDS = 300.0
EDIT_WAIT_SECONDS = 30.0  # an edit waits this long for a step in flight to end


@dataclass
class Shot:
    prompt: str
    seconds: str = DURATIONS[0]  # the shot's own length in the film: for a shot that extends, what it adds
    reference_path: str | None = None  # the image as uploaded (library-relative); fitted to the size at render
    start: Start = "fresh"
    video_id: str | None = None  # the render that matches `rendered_key`
    rendered_key: str | None = None


@dataclass
class Storyboard:
    storyboard_id: str
    title: str
    provider: str
    model: str
    size: str
    shots: list[Shot] = field(default_factory=list)
    owner: str = ""
    film_video_id: str | None = None
    film_key: str | None = None
    rendering: bool = False  # asked to render: `advance_storyboards` steps it until the film is joined
    last_error: str | None = None  # why the last render stopped, in words
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True)
class ShotState:
    index: int
    status: str  # draft | waiting | queued | in_progress | completed | failed | timed_out
    progress: int
    video: VideoRecord | None
    message: str | None = None


@dataclass(frozen=True)
class RenderState:
    shots: list[ShotState]
    film: VideoRecord | None
    waiting_until: float | None = None  # a 429's Retry-After

    @property
    def done(self) -> bool:
        return self.film is not None and all(s.status == "completed" for s in self.shots)

    @property
    def stuck(self) -> bool:
        """A shot failed: rendering waits for the person to change it or retry it."""
        return any(s.status in ("failed", "timed_out") for s in self.shots)


def new_storyboard(title: str, provider: Provider, model: str, size: str, owner: str = "") -> Storyboard:
    now = time.time()
    return Storyboard("story_" + uuid.uuid4().hex[:16], title.strip() or "Untitled storyboard", provider.kind, model,
                      size, [], owner, created_at=now, updated_at=now)


def starts_offered(capabilities: ProviderOffer) -> list[Start]:
    """How a shot may begin on this provider: last-frame chaining needs image reference, extending needs extend."""
    offered: list[Start] = ["fresh"]
    if capabilities.image:
        offered.append("last_frame")
    if capabilities.extend:
        offered.append("extend")
    return offered


def problems(storyboard: Storyboard, provider: Provider) -> list[str]:
    """What stops the storyboard rendering, shot by shot, in words; empty when it can render."""
    caps = provider.capabilities
    found = []
    if not storyboard.shots:
        found.append("Add a shot first.")
    if len(storyboard.shots) > MAX_SHOTS:
        found.append(f"A storyboard holds at most {MAX_SHOTS} shots.")
    if storyboard.model not in caps.sizes and not caps.free_text_models:
        found.append(f"{provider.label} offers {', '.join(caps.models)}, not '{storyboard.model}'.")
    elif not caps.free_sizes and storyboard.size not in caps.sizes_for(storyboard.model):
        found.append(f"{storyboard.model} makes {' or '.join(caps.sizes_for(storyboard.model))}, "
                     f"not {storyboard.size}.")
    offered = starts_offered(caps)
    for number, shot in enumerate(storyboard.shots, start=1):
        try:
            validate_prompt(shot.prompt)
        except errors.PromptRejected as error:
            found.append(f"Shot {number}: {error}")
        lengths = caps.extension_durations if shot.start == "extend" else caps.durations
        if shot.seconds not in lengths:
            found.append(f"Shot {number}: choose {', '.join(lengths)} seconds, not {shot.seconds}.")
        if shot.start != "fresh" and number == 1:
            found.append("Shot 1 has no previous shot to start from.")
        elif shot.start not in offered:
            found.append(f"Shot {number}: {provider.label} does not offer “{START_LABELS[shot.start].lower()}”.")
        if shot.reference_path and shot.start != "fresh":
            found.append(f"Shot {number}: a shot starts from its own image or from the previous shot, not both.")
        if (shot.reference_path or shot.start == "last_frame") and not caps.image:
            found.append(f"Shot {number}: {provider.label} does not animate images.")
    return found


# ---------------------------------------------------------------- saving


def save(library: Library, storyboard: Storyboard) -> None:
    storyboard.updated_at = time.time()
    library.save_storyboard({
        "storyboard_id": storyboard.storyboard_id, "title": storyboard.title, "provider": storyboard.provider,
        "owner": storyboard.owner, "model": storyboard.model, "size": storyboard.size,
        "shots": json.dumps([asdict(shot) for shot in storyboard.shots]),
        "film_video_id": storyboard.film_video_id, "film_key": storyboard.film_key,
        "rendering": int(storyboard.rendering), "last_error": storyboard.last_error,
        "created_at": storyboard.created_at or storyboard.updated_at, "updated_at": storyboard.updated_at,
    })


def load(library: Library, storyboard_id: str) -> Storyboard | None:
    found = library.storyboard(storyboard_id)
    return None if found is None else _storyboard(found)


def list_storyboards(library: Library, limit: int = 50) -> list[Storyboard]:
    """Latest changed first."""
    return [_storyboard(found) for found in library.storyboards(limit)]


def edit(library: Library, storyboard_id: str, change: Callable[[Storyboard], None],
         actor: Actor | None = None) -> Storyboard:
    """Change the saved storyboard from its latest state, holding its claim, so an edit never undoes a render step
    that ran meanwhile (a shot's render forgotten would be sent twice). Only its owner or an admin may."""
    if library.storyboard(storyboard_id) is None:
        raise errors.NotFound(f"No storyboard '{storyboard_id}' in the library.")
    with _claimed(library, storyboard_id, wait=EDIT_WAIT_SECONDS) as taken:
        if not taken:
            raise errors.InvalidInput("The storyboard is busy rendering a step; try again in a moment.")
        storyboard = load(library, storyboard_id)
        if storyboard is None:
            raise errors.NotFound(f"No storyboard '{storyboard_id}' in the library.")
        require_owner(actor, storyboard.owner, "change it")
        change(storyboard)
        save(library, storyboard)
        return storyboard


def request_render(library: Library, storyboard_id: str, provider: Provider,
                   actor: Actor | None = None) -> Storyboard:
    """Ask for the film: `advance_storyboards` (the background worker, or the page) renders it from here, with no
    tab needed. Failed shots are tried again; anything that stops the render is refused now, in words."""

    def ask(storyboard: Storyboard) -> None:
        if found := problems(storyboard, provider):
            raise errors.InvalidInput(" ".join(found))
        for shot in storyboard.shots:
            record = library.get(shot.video_id) if shot.video_id else None
            if record is not None and record.status in ("failed", "timed_out"):
                shot.rendered_key = None  # out of date: sent again
        storyboard.rendering, storyboard.last_error = True, None

    return edit(library, storyboard_id, ask, actor)


def advance_storyboards(library: Library, jobs: Jobs) -> list[RenderState]:
    """One step of every storyboard asked to render on this provider; one that finishes or stops is let go."""
    states = []
    for found in library.storyboards(1000, rendering_on=jobs.provider.kind):
        with _claimed(library, found["storyboard_id"]) as taken:
            if not taken:
                continue  # another thread or process (a worker, a tab) is stepping it now
            storyboard = load(library, found["storyboard_id"])  # read under the claim: the latest shots
            if storyboard is None or not storyboard.rendering:
                continue
            try:
                state = render_step(library, jobs, storyboard, renew_claim=taken)
            except ClaimLapsed:
                continue  # another process holds it now: the step is theirs, and nothing here is saved
            except errors.StudioError as error:
                storyboard.rendering, storyboard.last_error = False, str(error)
                save(library, storyboard)
                continue
            if state.done or state.stuck:
                storyboard.rendering = False
                storyboard.last_error = next((f"Shot {s.index + 1}: {s.message}" for s in state.shots
                                              if s.message and s.status in ("failed", "timed_out")), None)
                save(library, storyboard)
            states.append(state)
    return states


class ClaimLapsed(Exception):
    """A render step held its storyboard's claim so long that it lapsed, and another process took it."""


@contextlib.contextmanager
def _claimed(library: Library, storyboard_id: str, *, wait: float = 0.0) -> Iterator[Callable[[], bool] | None]:
    """Hold the storyboard's claim in SQLite while the block runs. Yields a function that renews it (False once
    it was lost), or None when it could not be had within `wait` seconds. Every thread and every process on the
    data dir goes through it, so two never step or edit one storyboard at once (two steps could each send the
    same shot, or join the film twice). A killed holder's claim lapses after CLAIM_LEASE_SECONDS."""
    holder = uuid.uuid4().hex

    def renew() -> bool:
        return library.claim_storyboard(storyboard_id, holder, CLAIM_LEASE_SECONDS)

    give_up = time.monotonic() + wait
    taken = renew()
    while not taken and time.monotonic() < give_up:
        time.sleep(0.05)
        taken = renew()
    try:
        yield renew if taken else None
    finally:
        if taken:
            library.release_storyboard(storyboard_id, holder)


def _storyboard(found: dict[str, Any]) -> Storyboard:
    shots = [Shot(**shot) for shot in json.loads(found["shots"] or "[]")]
    return Storyboard(found["storyboard_id"], found["title"], found["provider"], found["model"], found["size"], shots,
                      found["owner"], found["film_video_id"], found["film_key"], bool(found["rendering"]),
                      found["last_error"], found["created_at"], found["updated_at"])


def set_reference(library: Library, storyboard: Storyboard, index: int, image: bytes | None) -> None:
    """Give a shot its own reference image (kept as uploaded; checked now), or take it away with None."""
    shot = storyboard.shots[index]
    if image is None:
        shot.reference_path = None
        return
    fit(image, storyboard.size, "cover")  # refuses what is no usable image, now rather than at render
    folder = library.data_dir / "storyboards" / storyboard.storyboard_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"shot-{uuid.uuid4().hex[:12]}.img"  # a new name per upload: the shot's key changes with it
    path.write_bytes(image)
    shot.reference_path = library.relative(path)


# ---------------------------------------------------------------- rendering


def shot_key(storyboard: Storyboard, index: int) -> str:
    """What a shot's render depends on; a render made from other inputs is out of date."""
    shot = storyboard.shots[index]
    previous = storyboard.shots[index - 1].video_id if shot.start != "fresh" and index > 0 else None
    inputs = [shot.prompt.strip(), shot.seconds, shot.reference_path, shot.start, storyboard.model, storyboard.size,
              previous]
    return hashlib.sha256(json.dumps(inputs).encode()).hexdigest()[:24]


def render_step(library: Library, jobs: Jobs, storyboard: Storyboard, *, retry_failed: bool = False,
                renew_claim: Callable[[], bool] | None = None) -> RenderState:
    """One step, never waiting: send the shots whose render is missing or out of date (a chained shot once the
    shot before it is done), follow the ones rendering, and join the film when every shot is done. Saves the
    storyboard when it changes. Call it again until `done` (or `stuck`).

    With `renew_claim` (the claim `advance_storyboards` holds), the claim is renewed before each send and the
    join, and the step stops with ClaimLapsed, sending nothing more, if another process has taken it."""

    def still_mine() -> None:
        if renew_claim is not None and not renew_claim():
            raise ClaimLapsed(storyboard.storyboard_id)

    if found := problems(storyboard, jobs.provider):
        raise errors.InvalidInput(" ".join(found))
    follow_videos(jobs, [r for r in (library.get(s.video_id) for s in storyboard.shots if s.video_id) if r])
    states: list[ShotState] = []
    waiting_until = None
    changed = False
    try:
        waiting_until, changed = _send_due(library, jobs, storyboard, retry_failed, states, still_mine)
    except errors.StudioError:
        save(library, storyboard)  # the shots sent before the error are kept, never sent twice
        raise
    film = library.get(storyboard.film_video_id) if storyboard.film_video_id else None
    if all(_ready(s.video) for s in states):
        film_key = _film_key(storyboard)
        if film is None or storyboard.film_key != film_key:
            still_mine()
            film = _join(library, jobs, storyboard)
            storyboard.film_video_id, storyboard.film_key = film.video_id, film_key
            changed = True
    if changed:
        still_mine()
        save(library, storyboard)
    return RenderState(states, film if film and storyboard.film_key == _film_key(storyboard) else None,
                       waiting_until)


def _send_due(library: Library, jobs: Jobs, storyboard: Storyboard, retry_failed: bool, states: list[ShotState],
              still_mine: Callable[[], None]) -> tuple[float | None, bool]:
    """Send each shot whose render is missing or out of date, appending every shot's state to `states`."""
    waiting_until = None
    changed = False
    for index, shot in enumerate(storyboard.shots):
        key = shot_key(storyboard, index)
        record = library.get(shot.video_id) if shot.video_id else None
        current = record is not None and shot.rendered_key == key
        failed = current and record is not None and record.status in ("failed", "timed_out")
        if current and not (failed and retry_failed):
            assert record is not None
            states.append(_state(index, record))
            continue
        before = states[-1] if states else None
        if shot.start != "fresh" and (before is None or not _ready(before.video)):
            states.append(ShotState(index, "waiting", 0, None, "Waits for the shot before it."))
            continue
        if waiting_until is not None:
            states.append(ShotState(index, "waiting", 0, None, "Waits for the provider's rate limit."))
            continue
        still_mine()
        try:
            [record] = jobs.submit(_request(library, storyboard, index, before.video if before else None),
                                   on_wait=defer_instead_of_waiting, owner=storyboard.owner or None)
        except Deferred as wait:
            waiting_until = time.time() + wait.seconds
            states.append(ShotState(index, "waiting", 0, None, str(wait.error)))
            continue
        shot.video_id, shot.rendered_key = record.video_id, key
        changed = True
        states.append(_state(index, record))
    return waiting_until, changed


def current_state(library: Library, storyboard: Storyboard) -> RenderState:
    """Where each shot stands, sending nothing: a shot whose render no longer matches it is a draft."""
    states = []
    for index, shot in enumerate(storyboard.shots):
        record = library.get(shot.video_id) if shot.video_id else None
        if record is not None and shot.rendered_key == shot_key(storyboard, index):
            states.append(_state(index, record))
        else:
            states.append(ShotState(index, "draft", 0, None,
                                    "Changed since its last render." if record else "Not rendered yet."))
    film = library.get(storyboard.film_video_id) if storyboard.film_video_id else None
    current = film is not None and storyboard.film_key == _film_key(storyboard) and all(
        s.status == "completed" for s in states)
    return RenderState(states, film if current else None)


def _state(index: int, record: VideoRecord) -> ShotState:
    status = record.status
    if status == "completed" and not record.is_archived:
        status = "in_progress"  # finished there, still downloading here
    message = None
    if status == "failed":
        message = str(from_job_failure(record.error_code, record.error_message))
    elif status == "timed_out":
        message = record.error_message or "The job timed out."
    return ShotState(index, status, record.progress, record, message)


def _ready(record: VideoRecord | None) -> bool:
    return record is not None and record.status == "completed" and record.is_archived


def _request(library: Library, storyboard: Storyboard, index: int, before: VideoRecord | None) -> VideoRequest:
    shot = storyboard.shots[index]
    common = {"prompt": shot.prompt, "model": storyboard.model, "size": storyboard.size}
    if shot.start == "extend":
        assert before is not None
        return VideoRequest(**common, seconds=extended_length(before.seconds, shot.seconds), kind="extend",
                            added_seconds=shot.seconds, source_video_id=before.video_id)
    reference: FittedImage | None = None
    if shot.start == "last_frame":
        assert before is not None
        source = library.path(before.video_path)
        assert source is not None
        reference = fit(last_frame_png(source), storyboard.size, "cover")
    elif shot.reference_path:
        path = library.path(shot.reference_path)
        if path is None or not path.exists():
            raise errors.InvalidInput(f"Shot {index + 1}'s image is gone from the library; upload it again.")
        reference = fit(path.read_bytes(), storyboard.size, "cover")
    return VideoRequest(**common, seconds=shot.seconds, kind="image" if reference else "generate", reference=reference)


def _segments(storyboard: Storyboard) -> list[str]:
    """The videos the film is cut from: an extended shot is inside its extension, so only the extension goes in."""
    ids = []
    for index, shot in enumerate(storyboard.shots):
        following = storyboard.shots[index + 1] if index + 1 < len(storyboard.shots) else None
        if following is not None and following.start == "extend":
            continue
        assert shot.video_id is not None
        ids.append(shot.video_id)
    return ids


def _film_key(storyboard: Storyboard) -> str:
    inputs = [storyboard.size, *[s.video_id for s in storyboard.shots]]
    return hashlib.sha256(json.dumps(inputs).encode()).hexdigest()[:24]


def _join(library: Library, jobs: Jobs, storyboard: Storyboard) -> VideoRecord:
    """The joined film as a library video of kind 'storyboard', whose lineage (extra.shots) lists its shots."""
    shots = [library.get(s.video_id) for s in storyboard.shots if s.video_id]
    paths = [library.path(r.video_path) for r in (library.get(v) for v in _segments(storyboard)) if r]
    film_id = f"film_{storyboard.storyboard_id.removeprefix('story_')[:8]}_{uuid.uuid4().hex[:8]}"
    folder = library.folder_for(film_id)
    target = folder / "video.mp4"
    joined = join_clips([p for p in paths if p is not None], storyboard.size, target)
    thumbnail = folder / "thumbnail.webp"
    now = time.time()
    record = VideoRecord(
        video_id=film_id, provider=jobs.provider.kind, kind="storyboard", status="completed", progress=100,
        prompt="\n".join(f"Shot {i}: {short_title(s.prompt, 200)}" for i, s in enumerate(storyboard.shots, 1)),
        model=storyboard.model, size=storyboard.size, seconds=f"{joined.duration:g}", created_at=now,
        completed_at=now, title=storyboard.title, owner=storyboard.owner,
        video_path=library.relative(target),
        thumbnail_path=library.relative(thumbnail) if write_stills(target, thumbnail=thumbnail) else None,
        remote_deleted=True,  # made here: there is no provider copy to delete or sync
        extra={"storyboard_id": storyboard.storyboard_id, "shots": [r.video_id for r in shots if r],
               "video": joined.video, "audio": joined.audio},
    )
    return library.add(record, note=f"joined from {len(shots)} shots")
