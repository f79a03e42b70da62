"""End to end (issue 23's Review): comment on a video, approve it, find it with the gallery's status filter, and
share it for review as one HTML file that plays when opened from disk, in a real Chromium on the real app."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e_support import (
    E2E_LOCALSORA_ARGS,
    Screenshots,
    StudioApp,
    finished_video,
    open_card_menu,
    playing_video,
    search_gallery,
    wait_idle,
)

pytestmark = pytest.mark.e2e
LOCALSORA_ARGS = E2E_LOCALSORA_ARGS
BOAT, PLANE = "A paper boat on a rain puddle", "A paper plane over a school yard"  # a card shows 48 characters
COMMENT = "Lovely reflections. Keep the <b>ending</b>, cut the first second."


def pick(page: Page, label: str, option: str) -> None:
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def test_comment_approve_filter_and_share_a_page_that_plays_from_disk(
    page: Page, studio: StudioApp, shots: Screenshots, tmp_path: Path
) -> None:
    # A word of this run's own in both prompts: a rerun (conftest's BROWSER_RERUNS) finds its own videos alone.
    take = f"take{uuid.uuid4().hex[:6]}"
    finished_video(studio, f"{BOAT}, close up, {take}")
    finished_video(studio, f"{PLANE}, {take}")

    search_gallery(page, f"paper boat {take}")
    expect(page.get_by_text("Showing 1–1 of 1")).to_be_visible()  # the search has run: the boat alone
    page.get_by_role("button", name="Play").first.click()
    wait_idle(page)
    review = page.locator(".st-key-review_panel")
    review.get_by_label("Add a comment").fill(COMMENT)
    review.get_by_label("Add a comment").press("Control+Enter")  # commit the text before the click
    wait_idle(page)
    review.get_by_role("button", name="Comment").click()
    wait_idle(page)
    expect(review.get_by_label("Add a comment")).to_have_value("")  # posted: the box is empty again
    expect(review.get_by_text(COMMENT)).to_be_visible()  # as written: the <b> is text, not markup
    pick(page, "Review status", "Approved")
    expect(review.get_by_text("Review history (1)")).to_be_visible()
    shots.take(page, "review-panel")
    with page.expect_download() as download:
        review.get_by_role("button", name="Share for review").click()
    shared = tmp_path / "review.html"
    download.value.save_as(shared)

    page.get_by_role("button", name="Back to the gallery").click()
    # The grid is back before the next search (on a loaded machine the sidebar's click raced the Back rerun).
    expect(page.get_by_role("textbox", name="Search", exact=True)).to_be_visible()
    wait_idle(page)
    search_gallery(page, take)
    expect(page.get_by_text(PLANE)).to_be_visible()  # a draft, before filtering
    pick(page, "Status", "Approved")
    expect(page.get_by_text("Showing 1–1 of 1")).to_be_visible()
    expect(page.get_by_text(BOAT).first).to_be_visible()
    expect(page.get_by_text(PLANE)).to_have_count(0)
    shots.take(page, "review-gallery-approved")

    # File it in a new folder from its card's menu, then find it by folder alone.
    open_card_menu(page)
    page.locator('[data-testid="stPopoverBody"]').get_by_role("button", name="Folder").click()
    dialog = page.get_by_role("dialog", name="File in a folder")
    expect(dialog).to_be_visible(timeout=20_000)
    folder = dialog.get_by_role("combobox", name="Folder")
    folder.fill("Spring launch")  # a new folder: typed, not picked
    folder.press("Enter")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_have_count(0)
    wait_idle(page)
    expect(page.get_by_text("Spring launch").first).to_be_visible()  # on the card
    pick(page, "Status", "All statuses")
    expect(page.get_by_text("Showing 1–2 of 2")).to_be_visible()
    pick(page, "Folder", "Spring launch")
    expect(page.get_by_text("Showing 1–1 of 1")).to_be_visible()
    expect(page.get_by_text(PLANE)).to_have_count(0)

    # The shared file, from disk, offline: it plays, shows the comment and the status, and asks for nothing else.
    opened = page.context.new_page()
    asked: list[str] = []
    opened.on("request", lambda request: asked.append(request.url))
    opened.goto(shared.as_uri())
    seen = playing_video(opened)
    assert (seen["width"], seen["height"]) == (1280, 720) and seen["duration"] > 3
    expect(opened.get_by_text(COMMENT)).to_be_visible()
    expect(opened.get_by_role("heading", name=re.compile(f"^{BOAT}"))).to_be_visible()
    expect(opened.get_by_text("Approved", exact=False).first).to_be_visible()
    assert all(url.startswith(("file:", "data:")) for url in asked), asked
    opened.close()
