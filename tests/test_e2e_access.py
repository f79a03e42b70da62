"""End to end, for a studio shared with sign-in: a team passcode in a temporary secrets.toml, people signed in
through its page in their own Chromium profiles. Ann cannot delete Bob's video (no button, and a crafted cookie
does not make her Bob); the admin can, and Undo brings it back. And `make run` on every interface with no sign-in
refuses to start."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, Playwright, expect

from localsora.process import LocalsoraProcess, free_port
from studio import access
from studio.library import Library, VideoRecord
from tests.e2e_support import (
    REPO,
    PageWatch,
    StudioApp,
    assert_no_exception_box,
    finished_video,
    open_studio,
    running_studio,
    search_gallery,
    wait_idle,
)

pytestmark = pytest.mark.e2e
PASSCODE = "harbour lights 42"
ADMIN_PASSCODE = "lighthouse keeper 7"


@pytest.fixture(scope="module")
def studio(server: LocalsoraProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudioApp]:
    """The studio with a team passcode and one admin (Carol) configured in its own secrets.toml."""
    folder = tmp_path_factory.mktemp("e2e-access")
    secrets = folder / "secrets.toml"
    secrets.write_text(f'{access.PASSCODE_KEY} = "{access.hash_passcode(PASSCODE)}"\n'
                       f'{access.ADMIN_PASSCODE_KEY} = "{access.hash_passcode(ADMIN_PASSCODE)}"\n'
                       f'{access.ADMINS_KEY} = "Carol"\n')
    yield from running_studio(server, folder, secrets)


@pytest.fixture(scope="module")
def bobs_video(studio: StudioApp) -> VideoRecord:
    made = finished_video(studio, "Bob's lighthouse at dusk, slow orbit, for the spring campaign")
    updated = Library(studio.data_dir).update(made.video_id, owner="Bob")
    assert updated is not None
    return updated


@pytest.fixture
def browsers(playwright: Playwright, studio: StudioApp) -> Iterator[Callable[[], tuple[BrowserContext, Page]]]:
    """Browsers, each its own profile (cookies), on the studio; closed afterwards, with no exception shown."""
    opened: list[tuple[BrowserContext, Page]] = []
    watch = PageWatch()

    def open_browser() -> tuple[BrowserContext, Page]:
        opened.append(open_studio(playwright, studio.url, watch))
        return opened[-1]

    yield open_browser
    for context, page in opened:
        assert_no_exception_box(page)
        context.close()
    assert watch.console_errors == [], watch.refused


def sidebar(page: Page) -> Locator:
    return page.locator('[data-testid="stSidebar"]')


def sign_in(page: Page, name: str, passcode: str = PASSCODE) -> None:
    expect(page.get_by_role("heading", name="Sign in to Sora Studio")).to_be_visible()
    page.get_by_role("textbox", name="Your name").fill(name)
    page.get_by_label("Team passcode").fill(passcode)
    page.get_by_role("button", name="Sign in").click()
    wait_idle(page)


def search_everyones(page: Page, text: str) -> None:
    search_gallery(page, text)
    page.get_by_text("Everyone", exact=True).click()  # the gallery opens on the signed-in person's own
    wait_idle(page)


def card_menu(page: Page) -> Locator:
    """The first gallery card's "⋯" menu, opened: its buttons are built once it opens."""
    page.get_by_role("button", name="⋯").first.click()
    body = page.locator('[data-testid="stPopoverBody"]')
    expect(body.get_by_role("button", name="Download")).to_be_visible()  # everyone's, even on others' work
    wait_idle(page)
    return body


def test_ann_cannot_delete_bobs_video_even_with_a_crafted_cookie(browsers: Callable[[], tuple[BrowserContext, Page]],
                                                                  studio: StudioApp, bobs_video: VideoRecord) -> None:
    context, ann = browsers()
    sign_in(ann, "Ann", passcode="not the passcode")
    expect(ann.get_by_text("That passcode is not this studio's.")).to_be_visible()
    expect(ann.get_by_role("link", name="Gallery")).to_have_count(0)  # nothing else is served
    sign_in(ann, "Ann")
    expect(sidebar(ann).get_by_text("Signed in as Ann")).to_be_visible()

    search_everyones(ann, "lighthouse at dusk")
    menu = card_menu(ann)
    expect(menu.get_by_role("button", name="Remix")).to_be_visible()  # others' work can be remixed
    expect(menu.get_by_role("button", name="Delete")).to_have_count(0)
    expect(menu.get_by_role("button", name="Rename")).to_have_count(0)
    expect(menu.get_by_role("button", name="Favourite")).to_have_count(0)

    # The old label cookie says Bob: a signed-in studio ignores it. Ann's own signed session still says Ann.
    context.add_cookies([{"name": "sora_studio_owner", "value": "Bob", "url": studio.url}])
    ann.goto(studio.url)  # the home page: a reload on /gallery asks /gallery/_stcore/..., a 404
    wait_idle(ann)
    expect(sidebar(ann).get_by_text("Signed in as Ann")).to_be_visible()
    search_everyones(ann, "lighthouse at dusk")
    expect(card_menu(ann).get_by_role("button", name="Delete")).to_have_count(0)

    # A session token for Bob, made without the server's key (Ann's signature on Bob's name), names nobody.
    token = next(c["value"] for c in context.cookies() if c["name"] == "sora_studio_session")
    name, issued, signature = token.split(".")
    forged = f"{access.session_token('Bob', 'a key that is not the server’s').split('.')[0]}.{issued}.{signature}"
    assert name != forged.split(".")[0]
    context.add_cookies([{"name": "sora_studio_session", "value": forged, "url": studio.url}])
    ann.goto(studio.url)  # the home page: a reload on /gallery asks /gallery/_stcore/..., a 404
    wait_idle(ann)
    expect(ann.get_by_role("heading", name="Sign in to Sora Studio")).to_be_visible()
    kept = Library(studio.data_dir).get(bobs_video.video_id)
    assert kept is not None and kept.trashed_at is None


def test_the_admin_deletes_bobs_video_and_undo_brings_it_back(browsers: Callable[[], tuple[BrowserContext, Page]],
                                                              studio: StudioApp, bobs_video: VideoRecord) -> None:
    _, carol = browsers()
    sign_in(carol, "Carol")  # the team passcode: an admin's name needs the admins' own
    expect(carol.get_by_text("That name is an admin's: sign in with the admins' passcode.")).to_be_visible()
    sign_in(carol, "Carol", ADMIN_PASSCODE)
    expect(sidebar(carol).get_by_text("Signed in as Carol (admin)")).to_be_visible()
    search_everyones(carol, "lighthouse at dusk")
    card_menu(carol).get_by_role("button", name="Delete").click()
    dialog = carol.get_by_role("dialog", name="Delete video")
    expect(dialog.get_by_text("Move to the trash (restore it within 30 days")).to_be_visible()
    dialog.get_by_role("button", name="Delete").click()
    wait_idle(carol)
    expect(carol.get_by_role("button", name="⋯")).to_have_count(0)  # gone from the gallery
    library = Library(studio.data_dir)
    assert library.get(bobs_video.video_id).trashed_at is not None

    carol.get_by_role("button", name="Undo").click()
    wait_idle(carol)
    expect(carol.get_by_role("button", name="⋯")).to_have_count(1)
    assert library.get(bobs_video.video_id).trashed_at is None

    carol.get_by_role("button", name="Sign out").click()
    wait_idle(carol)
    expect(carol.get_by_role("heading", name="Sign in to Sora Studio")).to_be_visible()


def test_make_run_on_every_interface_without_sign_in_refuses_to_start(tmp_path: Path) -> None:
    # HOME elsewhere: no ~/.streamlit/secrets.toml; -o: never remake the shared virtualenv from here.
    env = {**os.environ, "HOME": str(tmp_path)}
    env.pop(access.PASSCODE_KEY, None)
    assert not (REPO / ".streamlit" / "secrets.toml").exists() or pytest.skip("this checkout configures sign-in")
    run = subprocess.run(["make", "-o", ".venv/.runtime", "run", "HOST=0.0.0.0", f"PORT={free_port()}"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert "Refusing to serve Sora Studio on 0.0.0.0 with no sign-in" in run.stderr
    assert "streamlit run" not in run.stdout, "the studio itself never started"
