"""Issue 23's defects from the second walk, each checked as a user would notice it (AppTest on a real localsora and a
real library; no browser)."""

from __future__ import annotations

import base64
import http.server
import io
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from localsora.process import LocalsoraProcess
from studio import batch as batches
from studio import storyboard as boards
from studio.library import Filters, Library
from studio.provider.profiles import load_providers
from tests import test_pages
from tests.test_library import make_record
from tests.test_pages import (
    CANARY,
    button,
    every_element_text,
    make_finished,
    new_session,
    open_page,
    rerun_until,
    test_connect,
    texts,
)

keyed_localsora = test_pages.keyed_localsora  # the fixture: a localsora that takes only CANARY as its key


# 1. A provider connected in Settings outlives a reload; its key does not, and is asked for again.

def test_a_connected_provider_survives_a_reload_and_asks_for_its_key_again(
        data_dir: Path, keyed_localsora: LocalsoraProcess) -> None:
    at = test_connect(new_session(), keyed_localsora.root_url, key=CANARY)
    button(at, "Use it for this session").click()
    at.run()
    assert "OpenAI-compatible server: connected" in texts(at)

    reloaded = open_page(new_session(), "app_pages/text_to_video.py")  # a reload is a new session
    shown = texts(reloaded)
    assert "OpenAI-compatible server" in shown and "Local preview renderer" not in shown, "not switched silently"
    assert "Its key is never saved: type it again" in shown
    assert CANARY not in every_element_text(reloaded)
    stored = b"".join(path.read_bytes() for path in data_dir.glob("library.sqlite3*"))
    assert CANARY.encode() not in stored and keyed_localsora.root_url.encode() in stored, "kept, without its key"

    reloaded.text_input(key="connection_key_again_input").set_value(CANARY)
    next(b for b in reloaded.form_submit_button if b.label == "Use this key").click()
    reloaded.run()
    shown = texts(reloaded)
    assert "OpenAI-compatible server: connected" in shown and "type it again" not in shown
    assert CANARY not in every_element_text(reloaded)


def test_choosing_another_provider_is_what_a_reload_keeps(data_dir: Path, localsora: LocalsoraProcess) -> None:
    at = test_connect(new_session(), localsora.root_url)
    button(at, "Use it for this session").click()
    at.run()
    at.radio(key="settings_provider").set_value("local").run()
    assert "Local preview renderer" in texts(at)
    reloaded = open_page(new_session(), "app_pages/settings.py")
    assert "Local preview renderer" in texts(reloaded) and "type it again" not in texts(reloaded)
    assert Library(data_dir).saved_connection("") is None


# 13. A prompt pasted with markdown emphasis: titles and toasts without the markers, the prompt itself verbatim.

EMPHASISED = "**Bold launch** of the *new* bottle"


def test_titles_and_the_ready_toast_drop_emphasis_markers_and_keep_the_prompt(data_dir: Path) -> None:
    app = open_page(new_session(), "app_pages/text_to_video.py")
    app.text_area(key="t2v_prompt").set_value(EMPHASISED)
    button(app, "Generate").click()
    app.run()
    toasts: list[str] = []

    def ready(at: AppTest) -> bool:
        toasts.extend(t.value for t in at.toast)
        return any(t.startswith("Video ready") for t in toasts)

    rerun_until(app, ready, what="the video to be ready")
    assert "Video ready: Bold launch of the new bottle" in toasts, toasts
    [record] = Library(data_dir).page().records
    assert record.prompt == EMPHASISED, "the prompt is kept as written"
    gallery = open_page(app, "app_pages/gallery.py")
    shown = texts(gallery)
    assert "Bold launch of the new bottle" in shown and "*new*" not in shown, "no asterisks on the card"
    page = open_page(app, "app_pages/video.py", video=record.video_id)
    assert [s.value for s in page.subheader] == ["Bold launch of the new bottle"]
    assert f"> {EMPHASISED}" in texts(page), "the prompt, verbatim, on its page"


# 3. Storyboard opens on the board worked on last, and counts "1 shot".

def test_storyboard_opens_on_the_board_changed_last(data_dir: Path, localsora: LocalsoraProcess) -> None:
    library = Library(data_dir)
    provider = load_providers({"LOCALSORA_URL": localsora.root_url})["local"]
    for title in ("Harbour spot", "Bottle launch"):
        board = boards.new_storyboard(title, provider, "sora-2", "1280x720")
        board.shots = [boards.Shot(prompt=f"{title}, opening shot", seconds="4")]
        boards.save(library, board)
    at = open_page(new_session(), "app_pages/storyboard.py")
    picker = at.selectbox[0]
    assert picker.label == "Storyboard" and picker.format_func(picker.value) == "Bottle launch · 1 shot"
    assert "Create storyboard" not in [b.label for b in at.button], "not the new-board form"
    assert at.text_area and "Bottle launch, opening shot" in [t.value for t in at.text_area]


# 6. Settings speaks a user's words: what a profile still needs, and what a web page that is no video server is.

@pytest.fixture
def web_page_url() -> Iterator[str]:
    """A real HTTP server that answers every GET with a web page, as a site at a mistyped URL does."""
    class WebPage(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            body = b"<!doctype html><title>Welcome</title><p>Our company site</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), WebPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


def test_settings_says_what_is_missing_and_what_a_web_page_is_in_words(data_dir: Path, web_page_url: str) -> None:
    at = test_connect(new_session(), web_page_url)
    table = next(m.value for m in at.markdown if "| Profile | Ready | Still needs |" in m.value)
    assert "The server's base URL" in table and "An API key" in table
    assert not re.search(r"[A-Z]+_[A-Z_]+", table), "no environment variable names"
    shown = texts(at)
    assert "Not a videos answer" in shown and "not as a video server does" in shown
    assert "Error)" not in shown and "AttributeError" not in every_element_text(at)


# 8. The lineage shows the whole chain, each title cut at a word.

GLOW = "Make the earbuds glow electric blue while they spin slowly on a white plinth in a bright studio"


def test_lineage_shows_the_chain_oldest_first_cut_at_words(data_dir: Path) -> None:
    library = Library(data_dir)
    library.add(make_record(1, prompt=GLOW))
    library.add(make_record(2, kind="remix", prompt="The same earbuds under a neon night sky",
                            parent_video_id="video_000001"))
    library.add(make_record(3, kind="edit", prompt="Brighter", parent_video_id="video_000002"))
    at = open_page(new_session(), "app_pages/video.py", video="video_000003")
    links = [link.proto.label for link in at.main.get("page_link")]
    assert links[:2] == ["Original: Make the earbuds glow electric blue while they spin slowly…",
                         "Remix: The same earbuds under a neon night sky"], links
    assert "This video (edit)" in texts(at)


# 7. Variant cards tell themselves apart: the variant number, the seed, and how it was made.

def test_variant_cards_show_their_number_seed_and_lineage_badge(data_dir: Path) -> None:
    library = Library(data_dir)
    for n in (1, 2):
        library.add(make_record(n, kind="remix", prompt="The bottle on a beach", variant_group="group_a",
                                variant_index=n - 1, seed=40 + n, parent_video_id="video_000009"))
    at = open_page(new_session(), "app_pages/gallery.py")
    cards = [m.value for m in at.main.markdown if "The bottle on a beach" in m.value]
    assert len(cards) == 2
    assert {next(line for line in card.split("\n\n") if "Variant" in line) for card in cards} == {
        ":violet-badge[Remix] · Variant 1 · seed 41", ":violet-badge[Remix] · Variant 2 · seed 42"}


# 4. Edit and Extend on a video's page and in its card's menu, each opening the Remix page on that action.

def test_edit_and_extend_are_on_the_video_page_and_the_card_menu(data_dir: Path, localsora: LocalsoraProcess) -> None:
    source = make_finished(Library(data_dir), localsora, "A lighthouse at dusk, slow pan right")
    at = open_page(new_session(), "app_pages/gallery.py")
    at.session_state[f"grid_menu_{source.video_id}"] = True  # open the card's "⋯" menu
    at.run()
    assert {"Remix", "Edit", "Extend"} <= {b.label for b in at.button}
    at = open_page(at, "app_pages/video.py", video=source.video_id)
    assert {"Remix", "Edit", "Extend"} <= {b.label for b in at.button}
    button(at, "Extend").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["remix_action"] == "Extend", "the Remix page opens on Extend"
    assert at.selectbox(key="remix_seconds").label == "Seconds to add"


# 5. A storyboard's film was made here: neither "deleted on the provider" nor "no longer has" it.

def test_a_storyboard_film_is_said_to_be_made_here(data_dir: Path, localsora: LocalsoraProcess) -> None:
    library = Library(data_dir)
    film = make_finished(library, localsora, "Shot 1: a harbour at dawn")
    library.update(film.video_id, kind="storyboard", remote_deleted=True)  # as a film joined here is recorded
    at = open_page(new_session(), "app_pages/video.py", video=film.video_id)
    shown = texts(at)
    assert "Joined in this studio from its shots; this library keeps its copy." in shown
    assert "Deleted on the provider" not in shown
    at = open_page(at, "app_pages/remix.py", video=film.video_id)
    shown = texts(at)
    assert "This film was joined in this studio, so it is sent from this library as an MP4." in shown
    assert "no longer has" not in shown


# 11. Mid-run, the batch's header counts its rows in the words the rows say, and its ZIP is named as partial.

def test_a_batch_header_agrees_with_its_rows_and_a_mid_run_zip_says_partial() -> None:
    archived = make_record(1, video_path="files/video_000001/video.mp4")
    downloading = make_record(2)  # finished on the provider, not yet in the library: its row says Rendering
    rendering = make_record(3, status="in_progress")
    rows = [batches.BatchRow("b1", n, n + 1, f"Prompt {n}", "sora-2", "720x1280", "4", {}, None, "submitted",
                             video.video_id, 0.0, None, video) for n, video in enumerate((archived, downloading,
                                                                                           rendering))]
    batch = batches.Batch("b1", "Spring", "spring-campaign", "local", "", "running", batches.Pace(), 0.0, None,
                          0.0, 0.0, rows)
    said = [batches.ROW_STATUS_WORDS[row.status] for row in batch.rows]
    assert said == ["Ready", "Rendering", "Rendering"]
    assert batch.summary == "3 rows: 1 ready, 2 rendering"
    assert batch.zip_name == "spring-campaign-partial-1-of-3.zip"
    batch.rows = rows[:1]
    assert batch.zip_name == "spring-campaign.zip", "the final one"


# 9. A video's frames: one row that scrolls sideways, whatever the provider's spritesheet looks like.

def test_the_frames_are_one_row(data_dir: Path, localsora: LocalsoraProcess) -> None:
    record = make_finished(Library(data_dir), localsora, "A kite over the dunes, slow pan left")
    with Image.open(Library(data_dir).path(record.spritesheet_path)) as sheet:
        assert sheet.height > sheet.width / 4, "localsora's own sheet is a grid, screens tall when stretched"
    at = open_page(new_session(), "app_pages/video.py", video=record.video_id)
    at.session_state["video_frames"] = True  # open Frames
    at.run()
    [strip] = [h.proto.body for h in at.main.get("html") if "studio-frames" in h.proto.body]
    data = re.search(r"base64,([A-Za-z0-9+/=]+)", strip)[1]
    with Image.open(io.BytesIO(base64.b64decode(data))) as row:
        assert row.height == 120 and row.width >= 10 * 120 * 16 // 9 - 10, "ten frames side by side, one row"


# 2. Search finds every word in any order, by the start of a word; the gallery sorts four ways, page by page.

def test_search_matches_every_word_in_any_order_by_prefix_and_skips_the_trash(data_dir: Path) -> None:
    library = Library(data_dir)
    library.add(make_record(1, prompt="Make the earbuds glow electric blue"))
    library.add(make_record(2, prompt="Blue sneakers on a wet street", tags="spring"))
    library.add(make_record(3, prompt="Earbuds in a red case", title="Red earbuds"))
    library.add(make_record(4, prompt="Earbuds glow blue in the trash"))
    library.trash("video_000004")

    def found(text: str) -> list[str]:
        return sorted(r.video_id[-1] for r in library.page(Filters(text=text)).records)

    assert found("earbuds blue") == ["1"] and found("blue earbuds") == ["1"]
    assert found("earb elec") == ["1"], "words by their start"
    assert found("earbuds") == ["1", "3"] and found("red earbuds") == ["3"]
    assert found("spring blue") == ["2"], "tags too"
    assert found("earbuds purple") == [] and found("a wet") == ["2"]


def test_the_gallery_sorts_newest_oldest_longest_and_most_expensive_across_pages(data_dir: Path) -> None:
    library = Library(data_dir)
    for n, (seconds, cost) in enumerate([("4", 0.4), ("12", 1.2), ("8", 3.0), ("8", 0.8), ("4", None)], 1):
        library.add(make_record(n, seconds=seconds, cost_usd=cost))

    def ordered(sort: str) -> list[str]:
        ids, cursor = [], None
        while True:  # two at a time: the keyset cursor must follow the order
            page = library.page(Filters(sort=sort), limit=2, before=cursor)
            ids += [r.video_id[-1] for r in page.records]
            if (cursor := page.next_cursor) is None:
                return ids

    assert ordered("newest") == ["5", "4", "3", "2", "1"]
    assert ordered("oldest") == ["1", "2", "3", "4", "5"]
    assert ordered("longest") == ["2", "4", "3", "5", "1"]
    assert ordered("most expensive") == ["3", "2", "4", "1", "5"]
    at = open_page(new_session(), "app_pages/gallery.py")
    at.selectbox(key="gallery_sort").set_value("most expensive").run()
    cards = [m.value for m in at.main.markdown if "Shot " in m.value]
    # Read column by column from the 3-wide grid: 3 2 4 in the first row, 1 5 in the second.
    assert [re.search(r"Shot (\d)", card)[1] for card in cards] == ["3", "1", "2", "5", "4"]


# 10. A finished result stays on Text to video after a reload, with no second "Video ready".

def test_a_finished_result_stays_on_text_to_video_after_a_reload(data_dir: Path, localsora: LocalsoraProcess) -> None:
    make_finished(Library(data_dir), localsora, "A paper lantern drifting over a lake")
    at = open_page(new_session(), "app_pages/text_to_video.py")  # the reload, once it was done
    assert "A paper lantern drifting over a lake" in texts(at)
    assert "Download" in [b.label for b in at.get("download_button")]
    assert not [t.value for t in at.toast if t.value.startswith("Video ready")], "announced once, before"
