"""End to end: stored XSS (issue 21). Every kind of payload is planted in every field a server or a user controls
(prompt, title, model, size, seconds, tags, errors, owner, what was sent, what the server said, lineage, history,
batch rows, storyboard text), then every page that shows them is opened in a real Chromium: nothing runs, and no
element of theirs is inserted. What can be checked without a browser is in tests/test_security_studio.py."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from studio import storyboard as boards
from studio.library import Library, VideoRecord
from tests.e2e_support import StudioApp, finished_video, go_to, wait_idle

pytestmark = pytest.mark.e2e

# One of each class; each would set window.__xss, open a dialog, or leave an element marked "pwn" if it worked.
PAYLOADS = [
    '<script data-pwn>window.__xss="script"</script>',
    "<img src=x data-pwn onerror=\"window.__xss='img';alert('img')\">",
    "<svg data-pwn onload=\"window.__xss='svg'\"><script>window.__xss='svg script'</script></svg>",
    "<iframe data-pwn srcdoc=\"<script>parent.__xss='iframe'</script>\"></iframe>",
    "<style data-pwn>[data-testid=stApp] {display: none}</style>",
    '<form data-pwn action="https://pwn.example/"><input name=q><button>Send</button></form>',
    "<object data-pwn data=\"javascript:window.__xss='object'\"></object>",
    "<embed data-pwn src=\"javascript:window.__xss='embed'\">",
    "<a data-pwn href=\"javascript:window.__xss='a'\">pwn</a> [pwn](javascript:window.__xss='md')",
    "[pwn link](https://pwn.example/) ![pwn image](https://pwn.example/pwn.png) <https://pwn.example/>",
    "x' data-pwn='1\" data-pwn=\"1 <b data-pwn onmouseover=alert(1)>bold</b> :red[pwn] $x^2$",
]
# What would be there had any payload worked: its marked elements, its links and images, the dangerous tags. (A
# heading's own anchor, "#...", is Streamlit's, made from the heading's text; a data: URI is the studio's own
# thumbnail, whose base64 may spell "pwn" by chance.)
INSERTED = ('[data-pwn], [href*="pwn"]:not([href^="#"]):not([href^="data:"]), [src*="pwn"]:not([src^="data:"]), '
            '[action*="pwn"], a[href^="javascript:"], iframe[srcdoc], object, embed, form')
PROBE = f"""() => ({{flag: window.__xss === undefined ? null : String(window.__xss),
                   inserted: Array.from(document.querySelectorAll({INSERTED!r})).map(e => e.outerHTML.slice(0, 120)),
                   hidden: getComputedStyle(document.querySelector('[data-testid="stApp"]')).display === "none"}})"""


def planted_id(index: int) -> str:
    return f"video_pwn{index:02d}"


@pytest.fixture(scope="module")
def planted(studio: StudioApp) -> VideoRecord:
    """The payloads in the studio's own library, written as a hostile server, batch file or user would leave them:
    one record per payload with it in every field, a real video titled and tagged with them, a batch and a
    storyboard. Returns the real video."""
    library = Library(studio.data_dir)
    real = finished_video(studio, "A calm harbour at dawn")
    updated = library.update(real.video_id, title=PAYLOADS[-1], tags="<b data-pwn>tag</b>, [pwn](https://pwn.example/)",
                             owner=PAYLOADS[1], note=PAYLOADS[0])
    assert updated is not None
    now = time.time()
    # Review (issue 23): a folder, comments and a status change, each written by a hostile name.
    for index, payload in enumerate(PAYLOADS):
        library.add_comment(real.video_id, author=payload, body=payload, at=now - index)
    library.set_review_status(real.video_id, "approved", author=PAYLOADS[4], at=now)
    updated = library.update(real.video_id, folder=PAYLOADS[2].replace("\n", " "))
    assert updated is not None
    for index, payload in enumerate(PAYLOADS):
        library.add(VideoRecord(
            video_id=planted_id(index), provider="elsewhere", kind="remix", prompt=payload, title=payload,
            model=payload, size=payload, seconds=payload, created_at=now - 60 - index,
            status="failed" if index % 2 else "completed", progress=100, error_code=payload, error_message=payload,
            last_poll_error=payload, tags=payload.replace(",", " "), owner=payload, cost_usd=0.1,
            params={"negative_prompt": payload}, extra={"note": payload}, parent_video_id=payload,
            folder=payload.replace("\n", " ")), note=payload)
    # A status no one expected, as a server may send it: it names the card's badge, in the card's HTML.
    library.add(VideoRecord(video_id="video_pwnstatus", provider="elsewhere", kind="generate", prompt="A status",
                            model="sora-2", size="1280x720", seconds="4", created_at=now - 30, status=PAYLOADS[1]))
    library.add_batch({"batch_id": "batch_pwn", "name": PAYLOADS[3], "tag": "batch-pwn", "provider": "local",
                       "owner": PAYLOADS[2], "state": "paused", "max_concurrent": 1, "per_window": 0,
                       "window_seconds": 60.0, "created_at": now, "updated_at": now},
                      [{"batch_id": "batch_pwn", "position": index, "line": index + 2, "prompt": payload,
                        "model": payload, "size": payload, "seconds": payload, "params": "{}",
                        "state": "submitted" if index % 2 else "refused", "error": None if index % 2 else payload,
                        "video_id": planted_id(index) if index % 2 else None}
                       for index, payload in enumerate(PAYLOADS)])
    boards.save(library, boards.Storyboard(
        storyboard_id="story_pwn", title=PAYLOADS[5], provider="local", model=PAYLOADS[6], size="1280x720",
        shots=[boards.Shot(prompt=payload, video_id=planted_id(1), rendered_key="stale") for payload in PAYLOADS[:4]],
        last_error=PAYLOADS[8], created_at=now, updated_at=now))
    return updated


@pytest.fixture
def dialogs(page: Page) -> Iterator[list[str]]:
    """Every alert, confirm or prompt the page opens (dismissed)."""
    opened: list[str] = []
    page.on("dialog", lambda dialog: (opened.append(dialog.message), dialog.dismiss()))
    yield opened
    assert opened == [], f"a payload opened a dialog: {opened}"


def assert_inert(page: Page, where: str, shown: str) -> None:
    """The page shows `shown` (a payload, as text), ran nothing and holds nothing a payload would insert."""
    expect(page.get_by_text(shown, exact=False).first).to_be_attached()
    found = page.evaluate(PROBE)
    assert found == {"flag": None, "inserted": [], "hidden": False}, f"{where}: {found}"


def open_url(page: Page, url: str) -> None:
    page.goto(url)
    wait_idle(page)


def test_gallery_video_pages_remix_and_settings_show_every_payload_as_text(
        page: Page, studio: StudioApp, planted: VideoRecord, dialogs: list[str]) -> None:
    open_url(page, studio.url)
    go_to(page, "Gallery")
    assert_inert(page, "Gallery", "<svg data-pwn")
    for index in range(len(PAYLOADS)):
        open_url(page, f"{studio.url}/?video={planted_id(index)}")
        assert_inert(page, f"the page of {planted_id(index)}", PAYLOADS[index][:10])
    open_url(page, f"{studio.url}/?video={planted.video_id}")
    assert_inert(page, "the real video's page", "bold</b>")
    assert_inert(page, "its comments", PAYLOADS[0])  # a comment, as written
    open_url(page, f"{studio.url}/?video=[pwn](https://pwn.example/)<img src=x data-pwn onerror=alert(1)>")
    assert_inert(page, "a video id in the address", "There is no video")
    go_to(page, "Remix")
    assert_inert(page, "Remix", "<b data-pwn")
    go_to(page, "Settings")
    assert_inert(page, "Settings", "<svg data-pwn")


def test_batch_and_storyboard_show_every_payload_as_text(page: Page, studio: StudioApp, planted: VideoRecord,
                                                        dialogs: list[str]) -> None:
    open_url(page, studio.url)
    go_to(page, "Batch")
    page.get_by_text("Rows", exact=True).first.click()
    wait_idle(page)
    assert_inert(page, "Batch rows", "<form data-pwn")
    # A CSV whose model cell is a payload: refused by name, shown as text.
    box = page.get_by_role("textbox", name="Or paste the CSV", exact=True)
    box.fill('prompt,model\nA red kite,"<img src=x data-pwn onerror=alert(1)>"\n')
    box.press("Control+Enter")
    wait_idle(page)
    assert_inert(page, "a batch CSV's model", "<img src=x data-pwn onerror=alert(1)>")
    go_to(page, "Storyboard")
    page.get_by_role("combobox", name="Storyboard").click()
    page.get_by_role("option").filter(has_text="<form data-pwn").click()
    wait_idle(page)
    assert_inert(page, "Storyboard", "javascript:")
