"""End to end, the defects of issue 23 that only a browser shows: layout on a short laptop screen and on a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e_support import Screenshots, StudioApp, finished_video, go_to, wait_idle

pytestmark = pytest.mark.e2e



def test_a_portrait_result_after_a_reload_fits_a_short_screen(page: Page, studio: StudioApp,
                                                              shots: Screenshots) -> None:
    finished_video(studio, "A tall glass bottle on a turntable, static shot", size="720x1280")
    page.set_viewport_size({"width": 1280, "height": 600})
    go_to(page, "Text to video")
    page.reload()  # a new session: the result finished a moment ago is still shown
    wait_idle(page)
    result = page.locator('div[class*="st-key-result_t2v_"]').first
    expect(result).to_be_visible()
    result.scroll_into_view_if_needed()
    video, download = result.locator("video"), result.get_by_role("button", name="Download")
    expect(download).to_be_visible()
    box, play = result.bounding_box(), video.bounding_box()
    assert box and play and box["height"] <= 600, f"the result card is {box} on a 600 px screen"
    assert play["y"] >= 0 and play["y"] + play["height"] <= 600, "its controls are on screen"
    shots.folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots.folder / "defect23_portrait_result.png"))  # the screen as the user sees it


def test_on_a_phone_the_remix_pick_strip_is_one_row(page: Page, studio: StudioApp, shots: Screenshots) -> None:
    for colour in ("red", "blue", "green", "gold"):
        finished_video(studio, f"A {colour} kite over the dunes, slow pan left", size="1280x720")
    go_to(page, "Remix")
    page.set_viewport_size({"width": 480, "height": 900})  # then held as a phone is
    wait_idle(page)
    action = page.get_by_text("Action", exact=True).first
    expect(action).to_be_attached()
    top = page.evaluate("el => el.getBoundingClientRect().top + window.scrollY", action.element_handle())
    assert top < 900, f"the form starts {top:.0f} px down a 480 px wide page"
    shots.take(page, "defect23_remix_phone")
