"""End to end, for jobs that finish with no tab open, for a team on one server, and for a sidebar that keeps up
with the page: the real app in real Chromium contexts (each its own browser profile) on a real localsora."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, Playwright, expect

from localsora.process import LocalsoraProcess
from studio.library import Filters, Library, VideoRecord
from tests.e2e_support import (
    HELD,
    PageWatch,
    StudioApp,
    assert_no_exception_box,
    generate,
    let_jobs_finish,
    open_studio,
    playing_video,
    start_slow_job,
    wait_idle,
)
from tests.media import decode_mp4
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e
SETTLE = 120.0  # s: the longest a slowed local render may take on a loaded machine before a test gives up
VIDEO_READY = 120_000  # ms, the same for the browser's waits


@pytest.fixture
def browsers(playwright: Playwright, studio: StudioApp, server: LocalsoraProcess) -> Iterator[Callable[[], Page]]:
    """Open browsers, each with its own profile (cookies), on the studio; every one is closed afterwards."""
    opened: list[tuple[BrowserContext, Page]] = []
    watch = PageWatch()

    def open_browser() -> Page:
        context, page = open_studio(playwright, studio.url, watch)
        opened.append((context, page))
        return page

    yield open_browser
    for context, page in opened:
        if context.pages:  # a test may have closed it already
            assert_no_exception_box(page)
            context.close()
    server.faults(clear=True, render_delay=0)


def record_for(studio: StudioApp, prompt: str) -> VideoRecord | None:
    """The studio's own library, read as the person running the server would."""
    records = Library(studio.data_dir).page(Filters(text=prompt), limit=5).records
    return next((r for r in records if r.prompt == prompt), None)


def sidebar(page: Page) -> Locator:
    return page.locator('[data-testid="stSidebar"]')


def main(page: Page) -> Locator:
    return page.locator('[data-testid="stMain"]')


def give_name(page: Page, name: str) -> None:
    box = sidebar(page).get_by_role("textbox", name="Your name")
    box.fill(name)
    box.press("Enter")
    expect(sidebar(page).get_by_text(f"Working as {name}")).to_be_visible()
    wait_idle(page)


def percent(area: Locator, pattern: str) -> int | None:
    found = re.search(pattern, area.inner_text())
    return int(found[1]) if found else None


def page_percent(page: Page) -> int | None:
    return percent(main(page), r"Rendering · (\d+)%")


def sidebar_percent(page: Page) -> int | None:
    return percent(sidebar(page), r"Rendering (\d+)%")


def test_a_job_finishes_and_is_archived_with_every_tab_closed(browsers: Callable[[], Page], studio: StudioApp,
                                                              server: LocalsoraProcess) -> None:
    page = browsers()
    prompt = "A lighthouse nobody is watching, slow pan right"
    start_slow_job(page, server, prompt)
    page.context.close()  # every browser is gone now
    started = record_for(studio, prompt)
    assert started is not None and started.is_active, "the tab closed before the job ended"
    let_jobs_finish(server)
    done = wait_until(lambda: record_for(studio, prompt), lambda r: r is not None and r.is_archived,
                      what="the video in the library", deadline=SETTLE, interval=0.1)
    assert done.status == "completed" and done.video_id == started.video_id
    clip = decode_mp4(Library(studio.data_dir).path(done.video_path))
    assert (clip.width, clip.height) == (720, 1280) and clip.duration == pytest.approx(4, abs=0.05)


def test_a_restarted_server_resumes_a_job_with_no_tab_ever_opened(browsers: Callable[[], Page], studio: StudioApp,
                                                                  server: LocalsoraProcess) -> None:
    page = browsers()
    prompt = "A night train nobody waits for, slow dolly in"
    start_slow_job(page, server, prompt)
    page.context.close()
    studio.stop()  # the server goes down mid-job...
    started = record_for(studio, prompt)
    assert started is not None and started.is_active, "the job ended before the server stopped"
    let_jobs_finish(server)  # ...and the job finishes on the provider while no studio runs
    restarted = StudioApp(studio.data_dir, server, studio.log_path).start()  # ...and comes back; no browser opens
    try:
        done = wait_until(lambda: record_for(studio, prompt), lambda r: r is not None and r.is_archived,
                          what="the video in the library", deadline=SETTLE, interval=0.1)
        assert done.status == "completed" and done.video_id == started.video_id
    finally:
        restarted.stop()
        studio.start()  # the module's studio, for the tests after this one


def test_two_people_see_their_own_jobs_and_everyone_in_the_gallery(browsers: Callable[[], Page],
                                                                   studio: StudioApp,
                                                                   server: LocalsoraProcess) -> None:
    server.faults(render_delay=HELD)  # Ana's job renders until Ben's tab is open and his job started
    ana_prompt, ben_prompt = "A red kite made by Ana", "A blue boat made by Ben"
    ana = browsers()
    give_name(ana, "Ana")
    generate(ana, ana_prompt)
    expect(main(ana).get_by_text(re.compile(r"Rendering · \d+%"))).to_be_visible(timeout=VIDEO_READY)
    ben = browsers()  # a new session while Ana's job is running: it used to pick that job up as its own
    give_name(ben, "Ben")
    assert record_for(studio, ana_prompt).is_active, "Ana's job ended before Ben's tab opened"
    generate(ben, ben_prompt)
    wait_until(lambda: record_for(studio, ben_prompt), lambda r: r is not None, what="Ben's job", deadline=SETTLE)
    let_jobs_finish(server)
    for page, prompt in ((ana, ana_prompt), (ben, ben_prompt)):
        playing_video(page, prompt=prompt)
        wait_idle(page)
    expect(main(ana).get_by_text(ana_prompt).first).to_be_visible()
    expect(main(ana).get_by_text(ben_prompt)).to_have_count(0)
    expect(main(ben).get_by_text(ben_prompt).first).to_be_visible()
    expect(main(ben).get_by_text(ana_prompt)).to_have_count(0)
    assert (record_for(studio, ana_prompt).owner, record_for(studio, ben_prompt).owner) == ("Ana", "Ben")

    ana.reload()  # the browser keeps the name
    wait_idle(ana)
    expect(sidebar(ana).get_by_text("Working as Ana")).to_be_visible()
    ana.get_by_role("link", name="Gallery", exact=True).click()
    expect(ana.get_by_role("heading", name="Gallery", exact=True)).to_be_visible()
    wait_idle(ana)
    expect(main(ana).get_by_text(ana_prompt).first).to_be_visible()
    expect(main(ana).get_by_text(ben_prompt)).to_have_count(0)
    main(ana).get_by_text("Everyone", exact=True).click()
    wait_idle(ana)
    expect(main(ana).get_by_text(ana_prompt).first).to_be_visible()
    expect(main(ana).get_by_text(ben_prompt).first).to_be_visible()


def test_the_sidebar_shows_the_job_and_keeps_up_with_the_page(browsers: Callable[[], Page],
                                                              server: LocalsoraProcess) -> None:
    """Issue 11, defect 5: right after Generate the sidebar said "No active jobs", and after a reload it stayed
    at the progress it had while the page moved on."""
    server.faults(render_delay=20)
    page = browsers()
    generate(page, "A slow comet over the desert, the sidebar follows it")
    expect(sidebar(page).get_by_text("Active jobs (1)")).to_be_visible(timeout=VIDEO_READY)
    expect(main(page).get_by_text(re.compile(r"Rendering · \d+%"))).to_be_visible()

    def sidebar_catches_up() -> None:
        start = wait_until(lambda: sidebar_percent(page), lambda p: p is not None, what="the sidebar's progress",
                           deadline=SETTLE, interval=0.1)
        ahead = wait_until(lambda: page_percent(page), lambda p: p is not None and p >= start + 10,
                           what="the page to move on", deadline=SETTLE, interval=0.1)
        wait_until(lambda: sidebar_percent(page) or 0, lambda p: p >= ahead,
                   what=f"the sidebar to reach the page's {ahead}%", deadline=SETTLE, interval=0.1)

    sidebar_catches_up()
    page.reload()
    wait_idle(page)
    expect(sidebar(page).get_by_text("Active jobs (1)")).to_be_visible()
    sidebar_catches_up()
