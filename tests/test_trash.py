"""The trash (a delete is kept 30 days, restorable, then swept by the worker) and storyboards claimed in SQLite:
two studio processes on one data dir send each shot once and join one film."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from localsora.process import LocalsoraProcess
from studio import storyboard as boards
from studio.access import Actor
from studio.jobs import Jobs
from studio.library import TRASH_DAYS, Filters, Library, VideoRecord
from studio.provider.profiles import load_providers
from studio.worker import Worker
from tests.test_storyboard import SMALL, creates_received, provider_for

REPO = Path(__file__).resolve().parent.parent
DAY = 86400


def _archived(library: Library, video_id: str, owner: str = "") -> VideoRecord:
    """A finished video with its MP4 in the library (bytes enough: the trash never reads them)."""
    folder = library.folder_for(video_id)
    folder.mkdir(parents=True)
    (folder / "video.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    return library.add(VideoRecord(video_id=video_id, provider="local", kind="generate", status="completed",
                                   prompt=f"The {video_id} shot", model="sora-2", size="1280x720", seconds="4",
                                   created_at=time.time(), owner=owner,
                                   video_path=library.relative(folder / "video.mp4")))


def test_a_deleted_video_waits_in_the_trash_until_restored_or_emptied(tmp_path: Path) -> None:
    library = Library(tmp_path)
    jobs = Jobs(load_providers({"LOCALSORA_URL": "http://127.0.0.1:9"})["local"], library)  # never asked: local
    keep, drop = _archived(library, "video_keep"), _archived(library, "video_drop")
    assert jobs.delete("video_keep", "local") == "Moved to the trash."
    jobs.delete("video_drop", "local")

    assert library.count() == 0 and library.page().records == [] and library.count(Filters(text="shot")) == 0
    assert [r.video_id for r in library.trashed()] == ["video_drop", "video_keep"]
    assert library.path(keep.video_path).exists(), "its MP4 is kept while it is in the trash"

    assert library.restore("video_keep")
    assert [r.video_id for r in library.page().records] == ["video_keep"]
    assert library.path(keep.video_path).exists()

    assert library.empty_trash() == 1
    assert library.get("video_drop") is None and not library.path(drop.video_path).exists()
    assert library.get("video_keep") is not None, "emptying takes only what is in the trash"


def test_emptying_takes_only_what_the_person_may_delete(tmp_path: Path) -> None:
    library = Library(tmp_path)
    for video_id, owner in (("video_ann", "ann"), ("video_bob", "bob")):
        _archived(library, video_id, owner)
        library.trash(video_id)
    assert library.empty_trash(Actor("ann", signed_in=True)) == 1
    assert [r.video_id for r in library.trashed()] == ["video_bob"]


def test_the_worker_sweeps_trash_older_than_30_days(tmp_path: Path) -> None:
    library = Library(tmp_path)
    old, recent = _archived(library, "video_old"), _archived(library, "video_recent")
    library.trash("video_old")
    library.trash("video_recent")
    library.update("video_old", trashed_at=time.time() - (TRASH_DAYS + 1) * DAY)
    library.update("video_recent", trashed_at=time.time() - (TRASH_DAYS - 1) * DAY)

    Worker(library).tick()

    assert library.get("video_old") is None and not library.path(old.video_path).exists()
    assert library.get("video_recent") is not None and library.path(recent.video_path).exists()


# Each process: its own Library (its own SQLite connections) on the shared data dir, stepping the storyboard as
# the background worker does, until the render is let go.
STEP_UNTIL_DONE = """
import sys, time
from pathlib import Path
from studio import storyboard as boards
from studio.jobs import Jobs
from studio.library import Library
from studio.provider.discovery import discover
from studio.provider.profiles import load_providers

data_dir, url, board_id, go = sys.argv[1:]
provider = load_providers({"LOCALSORA_URL": url})["local"]
provider = provider.with_capabilities(discover(provider.client(), provider.capabilities))
library = Library(data_dir)
jobs = Jobs(provider, library)
while not Path(go).exists():  # both start stepping at once
    time.sleep(0.01)
deadline = time.monotonic() + 150
while time.monotonic() < deadline:
    boards.advance_storyboards(library, jobs)
    jobs.refresh_active()
    if not boards.load(library, board_id).rendering:
        sys.exit(0)
    time.sleep(0.05)
sys.exit(1)
"""


def test_two_studio_processes_on_one_data_dir_send_each_shot_once_and_join_one_film(
        start_threaded: Callable[..., LocalsoraProcess], tmp_path: Path) -> None:
    server = start_threaded(*SMALL)
    provider = provider_for(server)
    data_dir = tmp_path / "data"
    library = Library(data_dir)
    board = boards.new_storyboard("Two processes", provider, "sora-2", "320x180")
    board.shots = [boards.Shot(f"Shot {n}: a kite over the dunes at noon, pan left") for n in range(1, 5)]
    boards.save(library, board)
    boards.request_render(library, board.storyboard_id, provider)
    go = tmp_path / "go"
    command = [sys.executable, "-c", STEP_UNTIL_DONE, str(data_dir), server.root_url, board.storyboard_id, str(go)]
    processes = [subprocess.Popen(command, cwd=REPO) for _ in range(2)]
    time.sleep(1.0)  # both have imported the studio and wait on the go file
    go.touch()
    assert [p.wait(timeout=180) for p in processes] == [0, 0]

    assert creates_received(server) == 4
    films = [r for r in library.page(limit=100).records if r.kind == "storyboard"]
    assert len(films) == 1
    saved = boards.load(library, board.storyboard_id)
    assert saved is not None and saved.film_video_id == films[0].video_id and saved.last_error is None


def test_a_step_whose_claim_lapsed_sends_nothing_more(tmp_path: Path) -> None:
    provider = load_providers({"LOCALSORA_URL": "http://127.0.0.1:9"})["local"]  # never reached: stopped first
    library = Library(tmp_path)
    board = boards.new_storyboard("Lapsed", provider, "sora-2", "1280x720")
    board.shots = [boards.Shot("A kite over the dunes at noon, pan left")]
    boards.save(library, board)
    try:
        boards.render_step(library, Jobs(provider, library), board, renew_claim=lambda: False)
    except boards.ClaimLapsed:
        pass
    else:
        raise AssertionError("a step that lost its claim went on")
    assert boards.load(library, board.storyboard_id).shots[0].video_id is None

    # Held by another process (another Library on the same data dir): this one's worker leaves it alone. (Tried,
    # it would fail on the unreachable provider and stop the render with an error.)
    boards.request_render(library, board.storyboard_id, provider)
    assert Library(tmp_path).claim_storyboard(board.storyboard_id, "another process", 60)
    assert boards.advance_storyboards(library, Jobs(provider, library)) == []
    held = boards.load(library, board.storyboard_id)
    assert held.rendering and held.last_error is None, "skipped, not tried"
