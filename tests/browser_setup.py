"""Find a Chromium for the browser tests: Debian's, else Playwright's own (downloaded if missing).

`make test` runs this first (`python -m tests.browser_setup`), so the browser tests never skip.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

SYSTEM_CHROMIUMS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def system_chromium() -> str | None:
    for candidate in SYSTEM_CHROMIUMS:
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")


def chromium_path() -> str | None:
    """The executable to launch; None means Playwright's bundled Chromium."""
    return system_chromium()


def ensure_browser() -> None:
    found = system_chromium()
    if found:
        print(f"browser tests: using {found}")
        return
    print("browser tests: no system Chromium; installing Playwright's (python -m playwright install chromium)")
    subprocess.run([sys.executable, "-m", "playwright", "install", "chromium"], check=True)


if __name__ == "__main__":
    ensure_browser()
