"""End-to-end support: the real app in a child process, a real Chromium, and waits on Streamlit's own state."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Locator, Page, Playwright, expect, sync_playwright

from localsora.process import LocalsoraProcess, free_port
from studio.jobs import VideoRequest
from studio.library import Library, VideoRecord
from tests.browser_setup import chromium_path
from tests.conftest import local_jobs, run_until_settled
from tests.waiting import wait_until

REPO = Path(__file__).resolve().parent.parent
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
# Playwright's expect() waits 5 s by default; with tests in parallel on two cores, a rerun can take longer than that.
expect.set_options(timeout=10_000)


class StudioApp:
    """`streamlit run serve.py` (as `make run`: app.py, its worker started with the server) on a free port, on
    the local backend, with its own data dir."""

    def __init__(
        self,
        data_dir: Path,
        localsora: LocalsoraProcess,
        log_path: Path,
        secrets_file: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.env = dict(env or {})  # settings of the studio's own, e.g. another provider (SORA_STUDIO_...)
        self.port = free_port()
        self.secrets_file = secrets_file  # the app's secrets.toml (sign-in, say); None: the repo's usual places
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.localsora = localsora
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> StudioApp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_OPENAI_"))}
        env.update(
            SORA_STUDIO_PROVIDER="local",
            SORA_STUDIO_DATA_DIR=str(self.data_dir),
            LOCALSORA_URL=self.localsora.root_url,
            PYTHONPATH=str(REPO),
        )
        env.update(self.env)
        command = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(REPO / "serve.py"),
            "--server.headless",
            "true",
            "--server.port",
            str(self.port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ]
        if self.secrets_file is not None:
            command += ["--secrets.files", str(self.secrets_file)]
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_until(
            self._healthy,
            what=f"streamlit to come up on {self.url} (log: {self.log_path})",
            deadline=timeout,
            interval=0.2,
        )
        return self

    def _healthy(self) -> bool:
        if self._process is None or self._process.poll() is not None:
            raise RuntimeError(f"streamlit exited; see {self.log_path}")
        try:
            return httpx.get(f"{self.url}/_stcore/health", timeout=1).text == "ok"
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=20)


def finished_video(studio: StudioApp, prompt: str, size: str = "1280x720") -> VideoRecord:
    """A finished, archived video in the running studio's own library, made for the test that needs it."""
    jobs = local_jobs(studio.localsora, Library(studio.data_dir))
    [record] = jobs.submit(VideoRequest(prompt=prompt, size=size))
    done = run_until_settled(jobs, record.video_id)
    assert done.is_archived, done.error_message
    return done


def launch_browser(playwright: Playwright) -> BrowserContext:
    """Chromium with the flags this machine needs and a fresh profile."""
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    return playwright.chromium.launch_persistent_context(
        profile,
        executable_path=chromium_path(),
        headless=True,
        args=CHROMIUM_FLAGS,
        viewport={"width": 1440, "height": 1000},
        accept_downloads=True,
    )


@dataclass
class PageWatch:
    """Everything the page reported that a user would count as broken."""

    console_errors: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # answers of 400 and over: the console says which, not where

    def attach(self, page: Page) -> None:
        page.on("console", lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: self.console_errors.append(f"pageerror: {exc}"))
        page.on(
            "response",
            lambda answer: (
                self.refused.append(f"{answer.status} {answer.request.method} {answer.url}")
                if answer.status >= 400
                else None
            ),
        )


def open_studio(playwright: Playwright, url: str, watch: PageWatch | None = None) -> tuple[BrowserContext, Page]:
    """A fresh browser (its own profile and cookies) on the studio at `url`, idle, reporting into `watch`."""
    context = launch_browser(playwright)
    page = context.pages[0] if context.pages else context.new_page()
    if watch is not None:
        watch.attach(page)
    page.goto(url)
    wait_idle(page)
    return context, page


def wait_idle(page: Page, timeout: float = 30_000) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_selector(IDLE, timeout=timeout, state="attached")


def assert_no_exception_box(page: Page) -> None:
    boxes = page.locator('[data-testid="stException"]')
    assert boxes.count() == 0, boxes.first.inner_text()


class Screenshots:
    """Full-page shots of each flow's key moments, in `folder`; the README's set also in `readme_folder`."""

    def __init__(self, folder: Path, readme_folder: Path | None) -> None:
        self.folder = folder
        self.readme_folder = readme_folder

    def take(self, page: Page, name: str, *, readme: bool = False) -> Path:
        # Streamlit scrolls inside its main block, so grow the viewport to the content first.
        size = page.viewport_size or {"width": 1440, "height": 1000}
        content = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight || 0")
        page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(int(content), 4000))})
        folders = [self.folder] + ([self.readme_folder] if readme and self.readme_folder else [])
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
        page.set_viewport_size(size)
        return self.folder / f"{name}.png"


# The browser suite's fixtures and steps, shared by every e2e module (a module imports the fixtures it uses).

VIDEO_READY = 60_000  # ms: the longest a short local render may take here before a test gives up


E2E_LOCALSORA_ARGS = ["--poll-after-ms", "300", "--enable-faults"]


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalsoraProcess]:
    """The browser module's own localsora: its flags are the module's `LOCALSORA_ARGS`, or E2E_LOCALSORA_ARGS.
    One per module, so one module's jobs, names and faults never meet another's (and xdist can spread them)."""
    args = getattr(request.module, "LOCALSORA_ARGS", E2E_LOCALSORA_ARGS)
    with LocalsoraProcess(tmp_path_factory.mktemp("e2e-localsora"), args=list(args)) as localsora:
        yield localsora


def running_studio(server: LocalsoraProcess, folder: Path, secrets_file: Path | None = None) -> Iterator[StudioApp]:
    """The studio app on `server`, keeping its library and log in `folder`, stopped afterwards."""
    app = StudioApp(folder / "data", server, folder / "streamlit.log", secrets_file).start()
    yield app
    app.stop()


@pytest.fixture(scope="module")
def studio(server: LocalsoraProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudioApp]:
    yield from running_studio(server, tmp_path_factory.mktemp("e2e-app"))


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Screenshots:
    readme = os.environ.get("SORA_SCREENSHOTS")
    return Screenshots(tmp_path_factory.mktemp("screenshots"), Path(readme) if readme else None)


@pytest.fixture
def watch() -> Iterator[PageWatch]:
    """What this test's pages reported as broken; a test fails on any console error of its own."""
    seen = PageWatch()
    yield seen
    errors = seen.console_errors
    if seen.refused and all(r.startswith("404 GET ") and "/media/" in r for r in seen.refused):
        # Streamlit drops a rerun's media files once the next run no longer shows them; a <video> replaced by
        # that run may still have a range request in flight. Any other refused request still fails the test.
        # Streamlit's player also logs each such miss as "Client Error: Video source error - URL"; only for
        # URLs that were among the refused media requests.
        gone = {r.split(" ", 2)[2] for r in seen.refused}
        errors = [
            e
            for e in errors
            if not e.startswith("Failed to load resource: the server responded with a status of 404")
            and not (e.startswith("Client Error: Video source error - ") and e.rsplit(" ", 1)[-1] in gone)
        ]
    assert errors == [], f"requests refused: {seen.refused}"


@pytest.fixture
def page(playwright: Playwright, studio: StudioApp, watch: PageWatch, server: LocalsoraProcess) -> Iterator[Page]:
    context, page = open_studio(playwright, studio.url, watch)
    yield page
    assert_no_exception_box(page)
    context.close()
    server.faults(clear=True, render_delay=0, blocked_words=[])


def go_to(page: Page, title: str) -> None:
    page.get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
    wait_idle(page)


def commit_text(page: Page, label: str, text: str) -> None:
    """Type `text` into the text box `label` and commit it (Ctrl+Enter) before the next click."""
    box = page.get_by_role("textbox", name=label, exact=True)
    # Mid-rerun, a box whose place moved (a message above it went) is in the page twice, the stale copy until the
    # run ends: wait for the one.
    expect(box).to_have_count(1)
    box.fill(text)
    box.press("Control+Enter")
    wait_idle(page)


def type_prompt(page: Page, prompt: str) -> None:
    commit_text(page, "Prompt", prompt)


def generate(page: Page, prompt: str) -> None:
    type_prompt(page, prompt)
    page.get_by_role("button", name="Generate").click()


HELD = 600.0  # s: a render delay that holds a job rendering until the test lets it go (previz reads it per frame)


def let_jobs_finish(server: LocalsoraProcess) -> None:
    """Release held jobs: the rest of their frames render at full speed."""
    server.faults(render_delay=0)


def start_slow_job(page: Page, server: LocalsoraProcess, prompt: str, render_delay: float = HELD) -> None:
    """A job that takes `render_delay` seconds (held until `let_jobs_finish`, by default), seen rendering in the
    job panel."""
    server.faults(render_delay=render_delay)
    go_to(page, "Text to video")
    generate(page, prompt)
    expect(page.get_by_text(re.compile(r"Rendering · \d+%"))).to_be_visible(timeout=VIDEO_READY)


def result_card(page: Page, prompt: str) -> Locator:
    """The result card of this session's job sent with `prompt`: its title starts with the prompt's first words (a
    new session also shows the results others finished in the last hour, so "the first card" may not be this one)."""
    return page.locator('div[class*="st-key-result_"]').filter(has_text=prompt[:40])


def playing_video(page: Page, index: int = 0, video_id: str | None = None, prompt: str | None = None) -> dict:
    """Wait until the index-th <video> (or the one in `video_id`'s or `prompt`'s result card) has decoded data, then
    report what the browser sees."""
    if video_id:
        videos = page.locator(f'div[class*="st-key-result_"][class*="{video_id}"] video')
    elif prompt:
        videos = result_card(page, prompt).locator("video")
    else:
        videos = page.locator("video")
    video = videos.nth(index)
    expect(video).to_be_attached(timeout=VIDEO_READY)
    page.wait_for_function("v => v.readyState >= 2", arg=video.element_handle(), timeout=VIDEO_READY)
    return video.evaluate(
        "v => ({readyState: v.readyState, duration: v.duration, width: v.videoWidth, height: v.videoHeight})"
    )


def search_gallery(page: Page, text: str) -> None:
    go_to(page, "Gallery")
    search = page.get_by_role("textbox", name="Search", exact=True)
    search.fill(text)
    search.press("Enter")
    wait_idle(page)


def open_card_menu(page: Page, index: int = 0) -> None:
    """Open the "⋯" menu of the index-th gallery card; its buttons are built once it opens."""
    page.get_by_role("button", name="⋯").nth(index).click()
    expect(page.locator('[data-testid="stPopoverBody"]').get_by_role("button", name="Delete")).to_be_visible()
    wait_idle(page)
