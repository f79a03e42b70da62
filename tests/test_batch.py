"""Batch queues against a real localsora: rows checked before anything is sent, the provider's pace kept (its
rate limit on a short window, so the same cap logic runs in seconds; bench/batch.py times the real 2 a minute),
restarts that lose and double nothing, one tag and one ZIP per batch."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from openai import OpenAI

from localsora.process import LocalsoraProcess
from studio import batch as batches
from studio.jobs import Jobs
from studio.library import Filters, Library
from studio.provider.discovery import discover
from studio.provider.profiles import Provider, load_providers
from tests.conftest import sdk_client
from tests.media import decode_mp4, png_bytes
from tests.waiting import wait_until

SMALL = ["--models", "sora-2=320x180,180x320", "--poll-after-ms", "200"]  # small frames: quick renders
WINDOW = 2.0  # seconds: the rate window the tests run the 2-per-window cap on
DEFAULTS = batches.RowDefaults(model="sora-2", size="320x180", seconds="4")
IMAGES = {"poster.png": png_bytes(640, 480, (30, 90, 200))}
GOOD_CSV = """prompt,size,seconds,seed,image file
A red kite over green hills at dawn,320x180,4,7,
"A yellow taxi in the rain, pan left",180x320,4,,
Blue waves on a beach at noon,,4,11,
Animate the poster slowly,320x180,4,,poster.png
Orange lanterns at night over a river,320x180,4,,
"""
BAD_CSV = GOOD_CSV.replace("left\",180x320", "left\",999x999")  # line 3: a size no model makes
ROW_COUNT = 5  # rows in GOOD_CSV
BAD_LINE = 3  # the header is line 1


def provider_for(server: LocalsoraProcess) -> Provider:
    """The local profile with what this server says it offers (sizes, seed), as the studio reads it."""
    provider = load_providers({"LOCALSORA_URL": server.root_url})["local"]
    found = discover(provider.client(), provider.capabilities)
    return provider.with_capabilities(found) if found else provider


def videos_on(server: LocalsoraProcess) -> list[str]:
    """Every video the server holds. Not the strict client: the SDK's types list only Sora's sizes, not SMALL's."""
    client = OpenAI(base_url=server.base_url, api_key="local", max_retries=0)
    return [v.id for v in client.videos.list(limit=100)]


def run_batch(library: Library, jobs: Jobs, batch_id: str, *, until: Callable[[batches.Batch], bool] | None = None,
              deadline: float = 180) -> tuple[batches.Batch, list[batches.AdvanceReport]]:
    """Tick `advance` as the worker does until the batch settles (or `until` holds); the deadline guards a hang."""
    until = until or (lambda b: b.state == "finished")
    reports = []

    def tick() -> batches.Batch:
        reports.append(batches.advance(library, jobs, time.time()))
        batch = batches.load_batch(library, batch_id)
        assert batch is not None
        return batch

    batch = wait_until(tick, until, what=f"batch {batch_id} to settle", deadline=deadline, interval=0.1)
    return batch, reports


@pytest.fixture
def capped_server(start_threaded: Callable[..., LocalsoraProcess]) -> LocalsoraProcess:
    """localsora enforcing 2 job requests per WINDOW seconds, with 429 and Retry-After past that (served on a
    loopback port from a thread)."""
    return start_threaded(*SMALL, "--rate-limit", "2", "--rate-window", str(WINDOW))


def test_a_bad_row_is_refused_with_its_line_number_and_nothing_is_sent(capped_server: LocalsoraProcess,
                                                                       tmp_path: Path) -> None:
    provider = provider_for(capped_server)
    plan = batches.plan_batch(batches.parse_csv(BAD_CSV, DEFAULTS), provider, IMAGES)
    assert [p.line for p in plan.problems] == [BAD_LINE]
    assert "999x999" in plan.problems[0].message and "320x180" in plan.problems[0].message
    with pytest.raises(batches.BatchRejected, match=f"Line {BAD_LINE}: Unknown size '999x999'"):
        batches.start_batch(Library(tmp_path / "library"), provider, plan)
    assert batches.list_batches(Library(tmp_path / "library")) == [], "nothing queued"
    assert videos_on(capped_server) == [], "nothing sent"


def test_every_kind_of_bad_row_is_named_by_its_line(localsora: LocalsoraProcess) -> None:
    provider = provider_for(localsora)
    csv_text = ("prompt,size,seconds,model,seed,image\n"
                "Fine row,720x1280,4,sora-2,,\n"  # line 2
                ",720x1280,4,sora-2,,\n"  # 3: empty prompt
                f"{'x' * 32001},720x1280,4,sora-2,,\n"  # 4: over-long prompt
                "Unknown model,720x1280,4,sora-9,,\n"  # 5
                "Unknown length,720x1280,5,sora-2,,\n"  # 6
                "Missing image,720x1280,4,sora-2,,nowhere.png\n"  # 7
                "Seed that is no number,720x1280,4,sora-2,seven,\n")  # 8
    plan = batches.plan_batch(batches.parse_csv(csv_text, DEFAULTS), provider, IMAGES)
    by_line = {p.line: p.message for p in plan.problems}
    assert sorted(by_line) == [3, 4, 5, 6, 7, 8]
    assert "Write a prompt" in by_line[3] and "Shorten it by 1" in by_line[4]
    assert "sora-9" in by_line[5] and "'5' seconds" in by_line[6] and "nowhere.png" in by_line[7]
    assert "whole number" in by_line[8]
    assert [r.line for r in plan.rows] == [2]
    [prompt_only] = batches.parse_csv("prompt\nA fox, at dawn, pan left\n", DEFAULTS)
    assert prompt_only.prompt == "A fox, at dawn, pan left" and not prompt_only.problems
    with pytest.raises(batches.BatchRejected, match="Unknown column 'colour'"):
        batches.parse_csv("prompt,colour\nA fox,red\n", DEFAULTS)


def test_the_estimate_covers_the_whole_batch(localsora: LocalsoraProcess) -> None:
    plan = batches.plan_batch(batches.parse_csv("prompt,size,seconds\na,720x1280,4\nb,1280x720,8\n", DEFAULTS),
                              provider_for(localsora))
    assert plan.estimate.label == "Free (local renderer): 2 videos, 12 s in all"
    priced = batches.estimate_batch(plan.rows, "azure")
    assert priced.usd == pytest.approx(1.20) and priced.label.startswith("$1.20 for 2 videos")


def test_a_fixed_batch_completes_under_a_2_per_window_cap(capped_server: LocalsoraProcess, tmp_path: Path) -> None:
    provider = provider_for(capped_server)
    library = Library(tmp_path / "library")
    jobs = Jobs(provider, library)
    plan = batches.plan_batch(batches.parse_csv(GOOD_CSV, DEFAULTS), provider, IMAGES)
    assert plan.ok, plan.problems
    pace = batches.Pace(max_concurrent=2, per_window=2, window_seconds=WINDOW)
    batch = batches.start_batch(library, provider, plan, name="Spring campaign", pace=pace)
    assert batch.summary == "5 rows: 5 waiting"

    batch, _ = run_batch(library, jobs, batch.batch_id)

    assert [row.status for row in batch.rows] == ["completed"] * ROW_COUNT, batch.summary
    assert sorted(videos_on(capped_server)) == sorted(r.video_id for r in batch.rows), "each row made once"
    sent = sorted(r.requested_at for r in batch.rows if r.requested_at)
    assert all(later - earlier > WINDOW for earlier, later in zip(sent, sent[2:], strict=False)), \
        "never a third request inside one window"
    assert library.count(Filters(text=batch.tag)) == ROW_COUNT, "every video carries the batch tag"
    assert all(r.video and r.video.tag_list == [batch.tag] for r in batch.rows)
    assert batch.rows[1].video and batch.rows[1].video.size == "180x320"
    assert batch.rows[0].video and batch.rows[0].video.seed == 7
    assert batch.rows[3].video and batch.rows[3].video.kind == "image"

    buffer = io.BytesIO()
    assert batches.write_zip(library, batch, buffer) == ROW_COUNT
    with zipfile.ZipFile(buffer) as archive:
        names = archive.namelist()
        assert "batch.csv" in names and len([n for n in names if n.endswith(".mp4")]) == ROW_COUNT
        clip = decode_mp4(archive.read(next(n for n in names if n.startswith("0003-"))))
        assert (clip.width, clip.height) == (180, 320)
        assert archive.read("batch.csv").decode().count("completed") == ROW_COUNT
    assert zipfile.is_zipfile(batches.zip_file(library, batch))


def test_the_servers_429s_are_waited_out_not_failed(capped_server: LocalsoraProcess, tmp_path: Path) -> None:
    """No cap of our own: the server's 429 and Retry-After pace the batch, and no row fails for it."""
    provider = provider_for(capped_server)
    library = Library(tmp_path / "library")
    plan = batches.plan_batch(batches.parse_csv(GOOD_CSV, DEFAULTS), provider, IMAGES)
    batch = batches.start_batch(library, provider, plan, pace=batches.Pace(max_concurrent=ROW_COUNT))
    batch, reports = run_batch(library, Jobs(provider, library), batch.batch_id)
    assert any(r.waiting_until for r in reports), "the server answered 429 at least once"
    assert [row.status for row in batch.rows] == ["completed"] * ROW_COUNT, batch.summary
    assert len(videos_on(capped_server)) == ROW_COUNT


def test_a_restart_mid_batch_loses_and_doubles_nothing(capped_server: LocalsoraProcess, tmp_path: Path) -> None:
    provider = provider_for(capped_server)
    folder = tmp_path / "library"
    library = Library(folder)
    plan = batches.plan_batch(batches.parse_csv(GOOD_CSV, DEFAULTS), provider, IMAGES)
    pace = batches.Pace(max_concurrent=2, per_window=2, window_seconds=WINDOW)
    batch = batches.start_batch(library, provider, plan, pace=pace)
    batch, _ = run_batch(library, Jobs(provider, library), batch.batch_id,
                         until=lambda b: sum(r.state == "submitted" for r in b.rows) >= 2)
    assert any(r.state == "pending" for r in batch.rows), "stopped mid-batch"

    restarted = Library(folder)  # a new process: a new library and jobs on the same folder
    batch, _ = run_batch(restarted, Jobs(provider_for(capped_server), restarted), batch.batch_id)

    assert [row.status for row in batch.rows] == ["completed"] * ROW_COUNT, batch.summary
    made = videos_on(capped_server)
    assert len(made) == ROW_COUNT and sorted(made) == sorted(r.video_id for r in batch.rows)


def test_a_create_cut_off_by_a_stop_is_adopted_not_sent_again(localsora: LocalsoraProcess, tmp_path: Path) -> None:
    """Two rows left 'submitting' by a process that stopped: one create reached the provider (the video exists
    there, never recorded here), one never did. The first is adopted, the second sent once."""
    provider = provider_for(localsora)
    library = Library(tmp_path / "library")
    csv_text = "prompt,seed\nA lighthouse in fog, slow zoom,101\nA lighthouse in fog, slow zoom,102\n"
    csv_text = csv_text.replace("A lighthouse in fog, slow zoom", '"A lighthouse in fog, slow zoom"')
    plan = batches.plan_batch(batches.parse_csv(csv_text, DEFAULTS.__class__("sora-2", "1280x720", "4")), provider)
    batch = batches.start_batch(library, provider, plan, pace=batches.Pace(max_concurrent=2))
    before = set(videos_on(localsora))
    stopped_at = time.time() - batches.SUBMIT_LEASE_SECONDS - 1
    for row in batch.rows:  # what advance writes just before each create
        assert library.update_batch_row(batch.batch_id, row.position, only_if="pending", state="submitting",
                                        requested_at=stopped_at)
    reached = sdk_client(localsora).videos.create(prompt=batch.rows[0].prompt, size="1280x720", seconds="4",
                                                  extra_body={"seed": 101})

    batch, reports = run_batch(library, Jobs(provider, library), batch.batch_id)

    assert reports[0].adopted == [reached.id] and reports[0].resent == 1
    assert batch.rows[0].video_id == reached.id
    assert [row.status for row in batch.rows] == ["completed", "completed"]
    assert set(videos_on(localsora)) - before == {r.video_id for r in batch.rows}, "two rows, two videos"


def test_pause_resume_and_cancel(localsora: LocalsoraProcess, tmp_path: Path) -> None:
    provider = provider_for(localsora)
    library = Library(tmp_path / "library")
    jobs = Jobs(provider, library)
    plan = batches.plan_batch(batches.parse_csv("prompt\nOne red fox\nTwo red foxes\nThree red foxes\n",
                                                DEFAULTS.__class__("sora-2", "1280x720", "4")), provider)
    batch = batches.start_batch(library, provider, plan, pace=batches.Pace(max_concurrent=1))
    batches.pause(library, batch.batch_id)
    assert batches.advance(library, jobs).submitted == [], "a paused batch sends nothing"
    batches.resume(library, batch.batch_id)
    first = batches.advance(library, jobs).submitted
    assert len(first) == 1, "one at once"
    batches.cancel(library, batch.batch_id)
    batch, _ = run_batch(library, jobs, batch.batch_id, until=lambda b: b.settled)
    assert [r.status for r in batch.rows] == ["completed", "cancelled", "cancelled"]
    assert batch.state == "cancelled"
    with pytest.raises(batches.errors.InvalidInput, match="cancelled"):
        batches.resume(library, batch.batch_id)
