"""End to end: the Batch and Storyboard pages in a real Chromium, on the real app and a real localsora."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Page, Playwright, expect

from studio import batch as batches
from studio.library import Library
from tests.e2e_support import (
    E2E_LOCALSORA_ARGS,
    StudioApp,
    commit_text,
    go_to,
    open_studio,
    playing_video,
    wait_idle,
)
from tests.media import sound_of, tracks
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e
# Small frames, so renders are quick on a shared machine; the studio offers what the server lists.
LOCALSORA_ARGS = [*E2E_LOCALSORA_ARGS, "--models", "sora-2=320x180,180x320"]
DONE = 120_000  # ms: the longest a short batch or film may take here before a test gives up
BAD_CSV = ("prompt,size,seconds\n"
           "A red kite over green hills at dawn,320x180,4\n"
           "\"A yellow taxi in the rain, pan left\",999x999,4\n"
           "Blue waves on a beach at noon,180x320,4\n")


def test_a_pasted_csv_is_checked_priced_and_run_to_a_zip(page: Page, tmp_path: Path) -> None:
    go_to(page, "Batch")
    commit_text(page, "Or paste the CSV", BAD_CSV)
    expect(page.get_by_text("Line 3: Unknown size '999x999'")).to_be_visible()
    expect(page.get_by_text("Free (local renderer): 2 videos, 8 s in all")).to_be_visible()
    expect(page.get_by_role("button", name="Start batch")).to_be_disabled()

    commit_text(page, "Or paste the CSV", BAD_CSV.replace("999x999", "320x180"))
    expect(page.get_by_text("Line 3: Unknown size")).to_have_count(0)
    expect(page.get_by_text("Free (local renderer): 3 videos, 12 s in all")).to_be_visible()
    commit_text(page, "Batch name", "Spring campaign")
    page.get_by_role("button", name="Start batch").click()

    expect(page.get_by_text("3 rows: 3 ready")).to_be_visible(timeout=DONE)
    expect(page.get_by_text("Line 4 · Ready")).to_be_visible()
    expect(page.locator(".studio-thumb img")).to_have_count(3)
    # The settled batch's card is drawn again (Finish all joins it): click the ZIP button of the finished drawing,
    # not one a rerun is replacing (a fresh-clone run's click started no download).
    wait_idle(page)
    zip_button = page.get_by_role("button", name="ZIP of 3")
    expect(zip_button).to_have_count(1)
    with page.expect_download() as download:
        zip_button.click()
    with zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes())) as archive:
        assert len([n for n in archive.namelist() if n.endswith(".mp4")]) == 3


def test_a_two_shot_storyboard_plays_as_one_film(page: Page) -> None:
    go_to(page, "Storyboard")
    page.get_by_role("textbox", name="Title").fill("Harbour spot")
    page.get_by_role("button", name="Create storyboard").click()
    wait_idle(page)
    commit_text(page, "Shot 1 prompt", "A red boat leaves the harbour at dawn, slow pan right")
    page.get_by_role("button", name="Add shot").click()
    wait_idle(page)
    commit_text(page, "Shot 2 prompt", "Seagulls over blue water at noon, zoom in")
    page.get_by_role("button", name="Render 2 shots and join").click()

    expect(page.get_by_role("heading", name="The film")).to_be_visible(timeout=DONE)
    film = playing_video(page)
    assert (film["width"], film["height"]) == (320, 180) and abs(film["duration"] - 8.0) <= 0.2
    expect(page.get_by_text("Ready")).to_have_count(2)
    # Issue 20: the shots' sound goes on across the join: a track as long as the film, not silent at the cut.
    with page.expect_download() as download:
        page.locator('[class*="st-key-storyboard_film-dl-"]').get_by_role("button", name="Download").click()
    data = Path(download.value.path()).read_bytes()
    video_seconds, frames, audio_seconds, codec = tracks(data)
    assert codec == "aac" and audio_seconds is not None and abs(audio_seconds - video_seconds) <= 1 / 24
    sound = sound_of(data)
    rate = round(sound.shape[1] / audio_seconds)
    join, half = 4 * rate, rate // 2  # the cut after the first 4 s shot; half a second each side of it
    for side in (sound[:, join - half : join], sound[:, join : join + half]):
        assert float(np.sqrt(np.mean(side**2))) > 0.02, "the sound drops out at the join"
    go_to(page, "Gallery")  # the film is a gallery video; its cost is its shots', not a second bill
    expect(page.get_by_text("sora-2 · 320x180 · 8 s · joined from its shots")).to_be_visible()


def test_a_batch_started_in_a_tab_finishes_with_the_tab_closed(playwright: Playwright, studio: StudioApp) -> None:
    """The server's background worker sends and follows the rows: nothing waits for a browser."""
    context, page = open_studio(playwright, studio.url)
    go_to(page, "Batch")
    commit_text(page, "Or paste the CSV", "prompt\nA lone tree at dusk, static\nA lone tree at dawn, static\n")
    commit_text(page, "Batch name", "No tab")
    page.get_by_role("button", name="Start batch").click()
    expect(page.get_by_role("heading", name="No tab")).to_be_visible()
    context.close()

    library = Library(studio.data_dir)

    def no_tab_batch() -> batches.Batch:
        [batch] = [b for b in batches.list_batches(library) if b.name == "No tab"]
        return batch

    batch = wait_until(no_tab_batch, lambda b: b.state == "finished", what="the batch to finish with the tab closed",
                       deadline=DONE / 1000, interval=0.2)
    assert [r.status for r in batch.rows] == ["completed", "completed"]
    assert all(r.video is not None and r.video.is_archived for r in batch.rows), "downloaded with no tab open"
