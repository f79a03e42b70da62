"""End-to-end support: the real app in a child process, a real Chromium, and waits on Streamlit's own state."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from playwright.sync_api import BrowserContext, Page, Playwright

from localsora.process import LocalsoraProcess, free_port
from tests.browser_setup import chromium_path

REPO = Path(__file__).resolve().parent.parent
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


class StudioApp:
    """`streamlit run app.py` on a free port, on the local backend, with its own data dir."""

    def __init__(self, data_dir: Path, localsora: LocalsoraProcess, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.localsora = localsora
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> StudioApp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_OPENAI_"))}
        env.update(SORA_STUDIO_PROVIDER="local", SORA_STUDIO_DATA_DIR=str(self.data_dir),
                   LOCALSORA_URL=self.localsora.root_url, PYTHONPATH=str(REPO))
        command = [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.headless", "true",
                   "--server.port", str(self.port), "--server.address", "127.0.0.1",
                   "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"streamlit exited; see {self.log_path}")
            try:
                if httpx.get(f"{self.url}/_stcore/health", timeout=1).text == "ok":
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"streamlit did not come up within {timeout} s; see {self.log_path}")

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=20)


def launch_browser(playwright: Playwright) -> BrowserContext:
    """Chromium with the flags this machine needs and a fresh profile."""
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    return playwright.chromium.launch_persistent_context(
        profile, executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS,
        viewport={"width": 1440, "height": 1000}, accept_downloads=True,
    )


@dataclass
class PageWatch:
    """Everything the page reported that a user would count as broken."""

    console_errors: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: self.console_errors.append(f"pageerror: {exc}"))


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
