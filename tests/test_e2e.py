"""End to end: the real app in a real Chromium, on a real localsora, clicked through like a user would.

Screenshots of each flow's key moments go to a folder under pytest's temporary directory, or to
$SORA_SCREENSHOTS (`make screenshots` points it at docs/screenshots).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai import OpenAI
from playwright.sync_api import Page, Playwright, expect

from localsora.process import LocalsoraProcess, free_port
from tests.conftest import TINY_WAN, sdk_client
from tests.e2e_support import (
    E2E_LOCALSORA_ARGS,
    VIDEO_READY,
    PageWatch,
    Screenshots,
    StudioApp,
    assert_no_exception_box,
    finished_video,
    generate,
    go_to,
    let_jobs_finish,
    open_card_menu,
    open_studio,
    playing_video,
    result_card,
    running_studio,
    search_gallery,
    start_slow_job,
    type_prompt,
    wait_idle,
)
from tests.media import decode_mp4, png_bytes
from tests.waiting import wait_until

pytestmark = pytest.mark.e2e


def test_text_to_video(page: Page, shots: Screenshots, tmp_path: Path) -> None:
    go_to(page, "Text to video")
    shots.take(page, "text_to_video")
    generate(page, "A red lighthouse on a cliff at golden hour, slow pan right")
    expect(page.get_by_text("In progress")).to_be_visible(timeout=VIDEO_READY)
    shots.take(page, "text_to_video_progress")
    video = playing_video(page, prompt="A red lighthouse on a cliff")
    assert video["readyState"] >= 2 and abs(video["duration"] - 4.0) <= 0.2
    assert (video["width"], video["height"]) == (720, 1280)
    wait_idle(page)
    shots.take(page, "text_to_video_done", readme=True)
    with page.expect_download() as download:
        result_card(page, "A red lighthouse on a cliff").get_by_role("button", name="Download").click()
    saved = tmp_path / "download.mp4"
    download.value.save_as(saved)
    clip = decode_mp4(saved)
    assert (clip.width, clip.height) == (720, 1280) and abs(clip.duration - 4.0) <= 0.05


def test_image_to_video(page: Page, shots: Screenshots) -> None:
    go_to(page, "Image to video")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": "poster.png", "mimeType": "image/png", "buffer": png_bytes(1600, 900, (30, 120, 200))}]
    )
    preview = page.get_by_text(re.compile(r"What will be sent: 1600x900 PNG → 1280x720"))
    expect(preview).to_be_visible(timeout=20_000)
    wait_idle(page)
    shots.take(page, "image_to_video", readme=True)
    generate(page, "The poster slowly comes alive, zoom in")
    video = playing_video(page, prompt="The poster slowly comes alive")
    assert (video["width"], video["height"]) == (1280, 720)


def test_the_code_snippet_runs_as_copied(page: Page, shots: Screenshots, tmp_path: Path) -> None:
    """Defect 6: copy the Python code of an image request (prompt left empty), save the fitted image, run it."""
    go_to(page, "Image to video")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": "summer-bottle.png", "mimeType": "image/png", "buffer": png_bytes(1600, 900, (200, 90, 30))}]
    )
    expect(page.get_by_text(re.compile(r"What will be sent: 1600x900 PNG → 1280x720"))).to_be_visible(timeout=20_000)
    wait_idle(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the fitted image").click()
    assert download.value.suggested_filename == "summer-bottle_1280x720.png"
    download.value.save_as(tmp_path / download.value.suggested_filename)
    page.get_by_text("Python code for this request").click()
    code_block = page.locator('[data-testid="stCode"] code').last
    expect(code_block).to_contain_text("IMAGE =")
    code_block.scroll_into_view_if_needed()
    shots.take(page, "image_to_video_code")
    code = code_block.inner_text()
    assert "import os" not in code and "prompt=''" not in code and "reference.png" not in code
    assert "# summer-bottle.png, as the studio fitted it" in code
    (tmp_path / "make_video.py").write_text(code)
    done = subprocess.run([sys.executable, "make_video.py"], cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    made = list(tmp_path.glob("video_*.mp4"))
    assert len(made) == 1 and (decode_mp4(made[0]).width, decode_mp4(made[0]).height) == (1280, 720)


def test_the_placeholder_is_an_example_one_click_away(page: Page, shots: Screenshots) -> None:
    """Defect 13: the grey text reads "e.g. …", and "Use the example" puts it in the box."""
    go_to(page, "Text to video")
    box = page.get_by_role("textbox", name="Prompt", exact=True)
    example = "A wide shot of a red fox trotting through fresh snow at dawn, slow dolly in."
    expect(box).to_have_attribute("placeholder", f"e.g. {example}")
    expect(box).to_have_value("")
    shots.take(page, "prompt_example")
    page.get_by_role("button", name="Use the example").click()
    wait_idle(page)
    expect(box).to_have_value(example)
    expect(page.get_by_role("button", name="Use the example")).to_have_count(0)
    expect(page.get_by_text(f"{len(example)} / 32,000 characters")).to_be_visible()


def test_remix_from_the_gallery(page: Page, shots: Screenshots, server: LocalsoraProcess, studio: StudioApp) -> None:
    source = finished_video(studio, "A harbour at dusk with fishing boats, slow pan right")
    search_gallery(page, "harbour at dusk with fishing boats")
    open_card_menu(page)  # Remix is in the card's menu
    page.get_by_role("button", name="Remix", exact=True).first.click()
    expect(page.get_by_role("heading", name="Remix", exact=True)).to_be_visible()
    wait_idle(page)
    source_id = re.search(r"video=(video_[a-f0-9]+)", page.url).group(1)
    assert source_id == source.video_id
    playing_video(page)  # the source plays
    type_prompt(page, "The same scene at night under a full moon")
    page.get_by_role("button", name="Remix", exact=True).click()
    playing_video(page, index=1)  # the result, beside its source
    wait_idle(page)
    shots.take(page, "remix", readme=True)
    remixes = [v for v in sdk_client(server).videos.list(limit=100) if v.remixed_from_video_id == source_id]
    assert len(remixes) == 1, "the provider has the remix, linked to its source"
    page.get_by_role("link", name="Open in gallery").last.click()
    wait_idle(page)
    parent_link = page.get_by_role("link", name=re.compile(r"Original: "))  # the lineage: what it was made from
    expect(parent_link).to_be_visible()
    assert source_id in (parent_link.get_attribute("href") or "")


def provider_videos(server: LocalsoraProcess, prompt_part: str) -> list:
    """The provider's videos whose prompt contains `prompt_part`, as the SDK lists them."""
    return [v for v in sdk_client(server).videos.list(limit=100) if prompt_part in (v.prompt or "")]


def text_color(locator) -> tuple[int, int, int]:  # noqa: ANN001 (a Playwright Locator)
    rgb = locator.evaluate("e => getComputedStyle(e).color")
    return tuple(int(v) for v in re.findall(r"\d+", rgb)[:3])


def test_gallery_play_favourite_filter_delete(
    page: Page, shots: Screenshots, server: LocalsoraProcess, studio: StudioApp
) -> None:
    made = finished_video(studio, "A yellow tram climbing a hill in the rain, static shot")
    go_to(page, "Gallery")
    shots.take(page, "gallery", readme=True)
    search_gallery(page, "yellow tram climbing a hill")
    open_card_menu(page)  # Delete is in the card's menu
    red, green, blue = text_color(page.get_by_role("button", name="Delete").first)
    assert red > 150 and green < 80 and blue < 80, "Delete looks destructive"
    page.keyboard.press("Escape")
    wait_idle(page)
    page.get_by_role("button", name="Play").first.click()
    playing_video(page)
    wait_idle(page)
    shots.take(page, "gallery_video", readme=True)
    video_id = page.get_by_text(re.compile(r"id video_")).inner_text().split("id ")[-1].strip()
    assert video_id == made.video_id
    assert f"video={video_id}" in page.url, "the video's page has its own address, to share"
    # The sidebar's Gallery leads back to the grid from a video's page (Streamlit keeps the query on the same page).
    go_to(page, "Gallery")
    expect(page.get_by_text(f"id {video_id}")).to_have_count(0)
    expect(page.get_by_role("button", name="Play").first).to_be_visible()
    assert "video=" not in page.url
    # A shared link to the home page opens the same video.
    page.goto(f"{studio.url}/?video={video_id}")
    wait_idle(page)
    expect(page.get_by_role("heading", name="Gallery", exact=True)).to_be_visible()
    expect(page.get_by_text(f"id {video_id}")).to_be_visible()
    # The video's page is hidden from the menu; the sidebar marks the Gallery, where it belongs, as where you are.
    menu_link = page.locator('[data-testid="stSidebarNavLink"]')
    expect(menu_link.and_(page.locator('[href$="/gallery"]'))).not_to_have_css("background-color", "rgba(0, 0, 0, 0)")
    expect(menu_link.and_(page.locator('[href$="/settings"]'))).to_have_css("background-color", "rgba(0, 0, 0, 0)")
    playing_video(page)
    page.get_by_role("button", name="Favourite").first.click()
    expect(page.get_by_role("button", name="Unfavourite")).to_be_visible()
    page.get_by_role("button", name="Back to the gallery").click()
    wait_idle(page)
    page.get_by_text("Favourites", exact=True).click()  # this test makes the only favourite, and deletes it
    expect(page.get_by_text(re.compile(r"Showing 1–1 of 1"))).to_be_visible()
    open_card_menu(page)
    page.get_by_role("button", name="Delete").first.click()
    dialog = page.get_by_role("dialog", name="Delete video")  # not the closing "⋯" menu
    expect(dialog).to_be_visible()
    dialog.get_by_text("Move to the trash, and delete the provider copy now").click()
    shots.take(page, "gallery_delete")
    confirm = dialog.get_by_role("button", name="Delete")
    background = confirm.evaluate("e => getComputedStyle(e).backgroundColor")
    red, green, blue = (int(v) for v in re.findall(r"\d+", background)[:3])
    assert red > 150 and green < 80 and blue < 80, "the confirming Delete is red"
    dialog.get_by_role("button", name="Delete").click()
    # Nothing left to show: no favourite, and maybe no video at all if this test's was the studio's only one.
    expect(page.get_by_text(re.compile(r"^No videos (match these filters\.|yet)"))).to_be_visible()
    assert video_id not in [v.id for v in sdk_client(server).videos.list(limit=100)]


def test_refresh_mid_job_keeps_the_job(page: Page, shots: Screenshots, server: LocalsoraProcess) -> None:
    start_slow_job(page, server, "A slow dolly through a misty pine forest at dawn")
    page.reload()
    wait_idle(page)
    go_to(page, "Text to video")
    expect(page.get_by_text("In progress")).to_be_visible()
    shots.take(page, "refresh_mid_job")
    [held] = provider_videos(server, "slow dolly through a misty pine forest")
    let_jobs_finish(server)
    video = playing_video(page, video_id=held.id)
    assert (video["width"], video["height"]) == (720, 1280) and abs(video["duration"] - 4.0) <= 0.2
    # The refresh neither lost the job nor sent it twice: one video on the provider, the one that plays.
    made = provider_videos(server, "slow dolly through a misty pine forest")
    assert [v.status for v in made] == ["completed"], made


def test_moderation_message(page: Page, server: LocalsoraProcess, shots: Screenshots) -> None:
    server.faults(blocked_words=["forbidden"])
    go_to(page, "Text to video")
    generate(page, "A forbidden scene")
    expect(page.get_by_text(re.compile("Blocked by moderation")).first).to_be_visible(timeout=VIDEO_READY)
    wait_idle(page)
    # A blocked job is a failure, not "Finished"; the card says what was sent and what the provider said, in full.
    expect(page.get_by_role("heading", name="Failed")).to_be_visible()
    blocked = result_card(page, "A forbidden scene")
    expect(blocked).to_have_count(1)
    expect(blocked.locator("video")).to_have_count(0)  # no player: nothing finished
    expect(page.get_by_text("What was sent: the prompt “A forbidden scene”")).to_be_visible()
    expect(
        page.get_by_text("The provider said (moderation_blocked): Your request was blocked by our moderation system.")
    ).to_be_visible()
    shots.take(page, "moderation", readme=True)


def test_rate_limit_shows_the_wait_then_succeeds(page: Page, server: LocalsoraProcess, shots: Screenshots) -> None:
    server.faults(inject={"status": 429, "count": 1, "retry_after": 3, "route": "POST /v1/videos"})
    go_to(page, "Text to video")
    generate(page, "A quick teal wave, static shot")
    expect(page.get_by_text(re.compile(r"Rate limited: retrying in 3 s"))).to_be_visible()
    shots.take(page, "rate_limited")
    made = wait_until(lambda: provider_videos(server, "A quick teal wave"), bool, what="the retried create")
    video = playing_video(page, video_id=made[0].id)
    assert (video["width"], video["height"]) == (720, 1280)
    # The refused create started nothing, and the retry started exactly one job.
    assert [v.status for v in provider_videos(server, "A quick teal wave")] == ["completed"]


@pytest.fixture
def stoppable_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudioApp]:
    """A localsora and studio of the test's own: the test stops that server, which no other test then meets."""
    with LocalsoraProcess(tmp_path_factory.mktemp("stoppable-localsora"), args=E2E_LOCALSORA_ARGS) as server:
        yield from running_studio(server, tmp_path_factory.mktemp("stoppable-app"))


def test_backend_unreachable_then_recovers(
    playwright: Playwright, stoppable_studio: StudioApp, watch: PageWatch, shots: Screenshots
) -> None:
    server = stoppable_studio.localsora
    context, page = open_studio(playwright, stoppable_studio.url, watch)
    start_slow_job(page, server, "An orbit around a glowing violet sculpture")
    server.stop()  # the held job is resumed by the restarted server, which starts with no delay
    unreachable = page.get_by_text(re.compile("Backend unreachable")).first
    expect(unreachable).to_be_visible(timeout=30_000)
    shots.take(page, "backend_unreachable", readme=True)
    server.start()
    video = playing_video(page, prompt="An orbit around a glowing violet sculpture")
    assert (video["width"], video["height"]) == (720, 1280) and abs(video["duration"] - 4.0) <= 0.2
    expect(unreachable).to_have_count(0)
    # What plays is the job started before the outage, finished by the restarted server: not a second one.
    assert [v.status for v in provider_videos(server, "glowing violet sculpture")] == ["completed"]
    assert_no_exception_box(page)
    context.close()


def test_connect_a_provider_and_test_it(page: Page, server: LocalsoraProcess, shots: Screenshots) -> None:
    go_to(page, "Settings")
    page.get_by_text("Connect a provider").click()  # its form is built once it opens
    url = page.get_by_role("textbox", name="Base URL", exact=True)
    closed = f"http://127.0.0.1:{free_port()}"
    url.fill(closed)
    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_text(re.compile(r"Connection refused\. Nothing is listening at 127\.0\.0\.1:"))).to_be_visible()
    wait_idle(page)
    shots.take(page, "settings_connect_failed")
    url.fill(server.root_url)
    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_text(f"Connected to 127.0.0.1:{server.port}.")).to_be_visible()
    expect(page.get_by_text(f'SORA_STUDIO_COMPATIBLE_URL = "{server.root_url}"')).to_be_visible()
    wait_idle(page)
    shots.take(page, "settings_connect_success")
    page.get_by_role("button", name="Use it for this session").click()
    expect(page.get_by_text("OpenAI-compatible server: connected").first).to_be_visible()
    wait_idle(page)
    # The connection is kept for this person (a new session uses it again) until another provider is chosen: back
    # to the local renderer, which the module's later sessions on this studio expect.
    page.get_by_role("radiogroup", name="Use this provider").get_by_text("Local preview renderer").click()
    wait_idle(page)
    expect(page.get_by_text("Local preview renderer: offline, no AI model").first).to_be_visible()


def test_every_page_looks_right(page: Page, shots: Screenshots) -> None:
    for title, name in (
        ("Text to video", "page_text_to_video"),
        ("Image to video", "page_image_to_video"),
        ("Remix", "page_remix"),
        ("Gallery", "page_gallery"),
        ("Settings", "settings"),
    ):
        go_to(page, title)
        assert_no_exception_box(page)
        shots.take(page, name, readme=name == "settings")
    expect(page.get_by_text("Local preview renderer: offline, no AI model").first).to_be_visible()
    sections = page.get_by_test_id("stNavSectionHeader")  # each header also holds its expand icon's name
    expect(sections).to_have_text([re.compile(r"^Create"), re.compile(r"^Library")])


def paste(page: Page, box, text: str, studio_url: str) -> None:  # noqa: ANN001 (a Playwright Locator)
    """Paste `text` at the end of `box` through the real clipboard, as Ctrl+V does, and commit it."""
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=studio_url)
    page.evaluate("text => navigator.clipboard.writeText(text)", text)
    box.click()
    box.press("End")
    box.press("Control+V")
    box.press("Control+Enter")
    wait_idle(page)


def test_a_long_pasted_prompt_is_kept_and_blocks_generate(page: Page, studio: StudioApp, shots: Screenshots) -> None:
    go_to(page, "Text to video")
    box = page.get_by_role("textbox", name="Prompt", exact=True)
    type_prompt(page, "Opening shot. ")
    pasted = ("A red lighthouse on a cliff at golden hour, slow pan right. " * 700)[:40_000]
    paste(page, box, pasted, studio.url)
    assert box.input_value() == "Opening shot. " + pasted, "the paste is kept, added to what was there"
    expect(
        page.get_by_text("The prompt is 40,014 characters; the limit is 32,000. Shorten it by 8,014.")
    ).to_be_visible()
    expect(page.get_by_role("button", name="Generate")).to_be_disabled()
    shots.take(page, "prompt_too_long")


def test_titles_are_text_cut_at_a_word_with_time_and_id(
    page: Page, server: LocalsoraProcess, shots: Screenshots
) -> None:
    prompt = (
        "**Same shot** at [night](http://x.io) under :red[neon] blue lights\nthe bottle fills the frame, slow dolly in"
    )
    go_to(page, "Text to video")
    variants = page.get_by_label("Variants", exact=True)
    variants.fill("2")
    variants.press("Enter")
    wait_idle(page)
    generate(page, prompt)
    playing_video(page, index=1)  # both takes finished
    wait_idle(page)
    go_to(page, "Gallery")
    search = page.get_by_role("textbox", name="Search", exact=True)
    search.fill("Same shot")
    search.press("Enter")
    wait_idle(page)
    shots.take(page, "gallery_titles")
    # The markup shows as typed (less its emphasis markers, issue 23), the line break as a space, cut after a whole
    # word with "…".
    title = "Same shot at [night](http:\u2060//x.io) under…"  # a word joiner keeps GFM from linking the URL
    cards = page.get_by_text(title, exact=True)
    expect(cards).to_have_count(2)
    assert page.get_by_role("link", name=re.compile(r"night|x\.io")).count() == 0
    assert page.locator("strong", has_text=re.compile(r"^Same shot$")).count() == 0
    made = [v for v in sdk_client(server).videos.list(limit=100) if v.prompt == prompt]
    assert len(made) == 2
    for video in made:  # each card names its own id, with the time it was made
        expect(page.get_by_text(re.compile(rf"Made \d\d \w{{3}} \d\d:\d\d · id {video.id[-8:]}"))).to_be_visible()


def test_details_page_lineage_rename_and_tags(
    page: Page, studio: StudioApp, server: LocalsoraProcess, shots: Screenshots
) -> None:
    """Defect 11: the lineage link fits, Rename starts from the current title, a tag keeps its space."""
    go_to(page, "Text to video")
    generate(page, "A green glass bottle on a wooden table")
    playing_video(page, prompt="A green glass bottle on a wooden table")
    go_to(page, "Gallery")
    search = page.get_by_role("textbox", name="Search", exact=True)
    search.fill("green glass bottle")
    search.press("Enter")
    wait_idle(page)
    open_card_menu(page)  # Remix is in the card's menu
    page.get_by_role("button", name="Remix", exact=True).first.click()
    expect(page.get_by_role("heading", name="Remix", exact=True)).to_be_visible()
    wait_idle(page)
    source_id = re.search(r"video=(video_[a-f0-9]+)", page.url).group(1)
    type_prompt(page, "Replace the background with a sunlit marble kitchen counter and soft morning haze")
    page.get_by_role("button", name="Remix", exact=True).click()
    playing_video(page, index=1)
    page.goto(f"{studio.url}/?video={source_id}")
    wait_idle(page)
    link = page.get_by_role("link", name=re.compile(r"^Remix: Replace the background"))
    expect(link).to_have_text(re.compile(r"Remix: Replace the background[\w ]*\w…\s*$"))  # cut after a word
    clipped = link.evaluate("a => [a, ...a.querySelectorAll('*')].some(e => e.scrollWidth > e.clientWidth + 1)")
    assert not clipped, "the lineage link shows all of its label"
    page.get_by_role("button", name="Rename").click()
    title = page.get_by_role("textbox", name="Title", exact=True)
    expect(title).to_have_value("A green glass bottle on a wooden table")
    tags = page.get_by_role("textbox", name="Tags", exact=True)
    tags.fill("hero shot, spring")
    tags.press("Enter")
    wait_idle(page)
    shots.take(page, "video_details_rename")
    page.get_by_role("button", name="Save", exact=True).click()
    wait_idle(page)
    expect(page.get_by_text(re.compile(r"hero shot · spring$"))).to_be_visible()
    expect(page.get_by_text("#hero", exact=False)).to_have_count(0)
    shots.take(page, "video_details")


@pytest.fixture(scope="module")
def wan_studio(tiny_wan: LocalsoraProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudioApp]:
    """The studio on localsora's diffusers engine with the tiny Wan model (random weights: the video is noise)."""
    yield from running_studio(tiny_wan, tmp_path_factory.mktemp("e2e-wan-app"))


def test_text_to_video_on_a_model_with_a_chosen_seed(
    playwright: Playwright, wan_studio: StudioApp, tiny_wan: LocalsoraProcess, watch: PageWatch, shots: Screenshots
) -> None:
    context, page = open_studio(playwright, wan_studio.url, watch)
    go_to(page, "Text to video")
    expect(page.get_by_text(f"Local model: {TINY_WAN} on cpu · no sound")).to_be_visible()
    page.get_by_text("Advanced", exact=True).click()
    for label, value in (("Seed", "987654321"), ("Steps", "2")):
        field = page.get_by_label(label, exact=True)
        field.fill(value)
        field.press("Enter")  # commit the number before the next widget
        wait_idle(page)
    prompt = "a small robot walking in the rain at night"
    type_prompt(page, prompt)
    shots.take(page, "text_to_video_model_advanced")
    page.get_by_role("button", name="Generate").click()
    video = playing_video(page, prompt=prompt)
    assert (video["width"], video["height"]) == (64, 64) and video["duration"] == pytest.approx(1.0, abs=0.1)
    wait_idle(page)
    expect(page.get_by_text("seed 987654321", exact=False)).to_be_visible()
    shots.take(page, "text_to_video_model_done")
    # Wan text-to-video takes no reference image and cannot extend: the pages say so rather than offer it.
    go_to(page, "Image to video")
    expect(page.get_by_text(re.compile("does not animate a reference image"))).to_be_visible()
    assert page.locator('[data-testid="stFileUploaderDropzoneInput"]').count() == 0
    shots.take(page, "image_to_video_model_without_it")
    go_to(page, "Remix")
    expect(page.get_by_text(re.compile("does not offer extend"))).to_be_visible()
    shots.take(page, "remix_model")
    assert_no_exception_box(page)
    context.close()
    # Not strict: the SDK's types allow only Sora's sizes and seconds, and this model makes 64x64 in 1 s.
    client = OpenAI(base_url=tiny_wan.base_url, api_key="local", max_retries=0)
    [made] = [v for v in client.videos.list(limit=100) if v.prompt == prompt]
    assert made.status == "completed" and made.model_extra["seed"] == 987654321
