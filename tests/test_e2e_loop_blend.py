"""End to end: Loop and Blend in a real Chromium, on the real app and a real localsora. Both need localsora to
place keyframes (issue 20's server side): the studio offers Loop and Blend only where /v1/models says so."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from studio.library import Library
from tests.e2e_support import (
    E2E_LOCALSORA_ARGS,
    StudioApp,
    finished_video,
    open_card_menu,
    playing_video,
    search_gallery,
    wait_idle,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e
LOCALSORA_ARGS = E2E_LOCALSORA_ARGS
DONE = 120.0  # s: the longest a loop or blend may take here before a test gives up


def made_from(studio: StudioApp, kind: str, parent_id: str) -> None:
    """Wait until the `kind` job the studio recorded from `parent_id` is downloaded."""
    library = Library(studio.data_dir)
    wait_until(lambda: next((r for r in library.children(parent_id) if r.kind == kind), None),
               lambda r: r is not None and r.is_archived, what=f"the {kind} of {parent_id} to be downloaded",
               deadline=DONE)


def test_a_looped_clip_plays_and_names_its_source(page: Page, studio: StudioApp) -> None:
    source = finished_video(studio, "A carousel turning at night, slow orbit")
    search_gallery(page, "carousel")
    open_card_menu(page)
    page.locator('[data-testid="stPopoverBody"]').get_by_role("button", name="Loop").click()
    wait_idle(page)
    made_from(studio, "loop", source.video_id)
    search_gallery(page, "carousel")
    plays = page.get_by_role("button", name="Play")
    expect(plays).to_have_count(2)  # the search has run: the loop and its source
    plays.last.click()  # the source: the older of the two
    wait_idle(page)
    page.get_by_role("link", name="Loop: Seamless loop").click()  # its lineage names the loop made from it
    wait_idle(page)
    seen = playing_video(page)
    assert (seen["width"], seen["height"]) == (1280, 720) and seen["duration"] > 3
    assert page.locator("video").first.evaluate("v => v.muted") is False, "the clip has sound: unmuted"
    expect(page.get_by_text("with sound")).to_be_visible()
    expect(page.get_by_role("link", name="Original: A carousel turning at night")).to_be_visible()


def test_two_gallery_videos_blend_into_one_transition(page: Page, studio: StudioApp) -> None:
    first = finished_video(studio, "A red kite over a beach")
    second = finished_video(studio, "A blue kite over a field")
    search_gallery(page, "kite")
    page.get_by_text("Blend two videos").click()
    wait_idle(page)
    for label, record in (("From the end of", first), ("Into the start of", second)):
        page.get_by_label(label).click()
        page.get_by_role("option", name=record.video_id[-6:]).click()
        wait_idle(page)
    page.get_by_role("button", name="Blend", exact=True).click()
    wait_idle(page)
    made_from(studio, "blend", first.video_id)
    search_gallery(page, "smooth transition")
    plays = page.get_by_role("button", name="Play")
    expect(plays).to_have_count(1)  # the search has run: only the blend says so (a loaded machine was slower)
    plays.first.click()
    wait_idle(page)
    playing_video(page)
    expect(page.get_by_role("link", name="Original: A red kite over a beach")).to_be_visible()
    expect(page.get_by_role("link", name="Blended into: A blue kite over a field")).to_be_visible()
