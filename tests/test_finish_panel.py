"""The Finish panel and Settings → Brand kit in process (Streamlit's AppTest on the real app and a real localsora):
what can be checked without a browser. The export itself, uploads and downloads are in tests/test_e2e_finish.py."""

from __future__ import annotations

import os
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from components.finish_panel import typed_captions
from localsora.process import LocalsoraProcess
from studio import access
from studio import batch as batches
from studio.brand_kit import BrandKit, load_brand_kit, save_brand_kit
from studio.jobs import Jobs
from studio.library import Library, VideoRecord
from studio.media.finishing import FinishSpec, Format
from studio.provider.profiles import load_providers
from studio.worker import worker_for
from tests.media import png_bytes
from tests.test_pages import (
    APP,
    button,
    make_finished,
    new_session,
    open_page,
    open_settings_section,
    rerun_until,
    sidebar_text,
    texts,
)
from tests.waiting import wait_until

KIT = BrandKit(headline="Sparkling spring", call_to_action="Shop now", end_card_seconds=2.5, background="#102030")


def test_apply_brand_kit_sets_the_logo_and_end_card_in_one_click(data_dir: Path, localsora: LocalsoraProcess) -> None:
    library = Library(data_dir)
    record = make_finished(library, localsora, "A bottle on a table, slow dolly in")
    save_brand_kit(library, KIT, actor=None, logo=png_bytes(32, 32))
    at = open_page(new_session(), "app_pages/video.py", video=record.video_id)
    open_settings_section(at, "finish_drawer")  # the drawer is built only while open
    assert button(at, "Export MP4").disabled, "nothing chosen yet: nothing to export"
    button(at, "Apply brand kit").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key=f"finish_logo_source_{record.video_id}").value == "Brand kit"
    assert at.toggle(key=f"finish_card_on_{record.video_id}").value is True
    assert at.text_input(key=f"finish_card_headline_{record.video_id}").value == "Sparkling spring"
    assert at.number_input(key=f"finish_card_seconds_{record.video_id}").value == 2.5
    assert not button(at, "Export MP4").disabled


def test_with_no_kit_saved_apply_is_off_and_says_where_to_set_one(data_dir: Path, localsora: LocalsoraProcess) -> None:
    record = make_finished(Library(data_dir), localsora, "A kite over a beach")
    at = open_settings_section(open_page(new_session(), "app_pages/video.py", video=record.video_id), "finish_drawer")
    apply = button(at, "Apply brand kit")
    assert apply.disabled and "Settings → Brand kit" in apply.help


def test_settings_saves_the_brand_kit_for_everyone(data_dir: Path) -> None:
    at = open_settings_section(open_page(new_session(), "app_pages/settings.py"), "settings_brand")
    at.text_input(key="brand_headline").input("Summer sale")
    at.number_input(key="brand_end_card_seconds").set_value(3.0)
    at.slider(key="brand_logo_width").set_value(25)  # a percent on screen, a fraction in the kit
    button(at, "Save the brand kit").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Brand kit saved" in texts(at)
    kit = load_brand_kit(Library(data_dir))
    assert (kit.headline, kit.end_card_seconds, kit.logo_width) == ("Summer sale", 3.0, 0.25)
    # Another session (another person on the server) starts from the saved kit.
    other = open_settings_section(open_page(new_session(), "app_pages/settings.py"), "settings_brand")
    assert other.text_input(key="brand_headline").value == "Summer sale"


def test_under_sign_in_a_member_sees_the_kit_but_cannot_save_it(data_dir: Path) -> None:
    save_brand_kit(Library(data_dir), KIT, actor=None)
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["SORA_STUDIO_PASSCODE_HASH"] = access.hash_passcode("team passcode")
    at.session_state["signed_in_name"] = "ann"  # what a valid session cookie proves: a member, not an admin
    at.run()
    open_settings_section(open_page(at, "app_pages/settings.py"), "settings_brand")
    assert "Only an admin can change the brand kit" in texts(at)
    assert button(at, "Save the brand kit").disabled
    assert at.text_input(key="brand_headline").value == "Sparkling spring"


def test_a_finished_batch_is_finished_all_at_once_into_new_linked_videos(
    data_dir: Path, localsora: LocalsoraProcess
) -> None:
    library = Library(data_dir)
    provider = load_providers({"LOCALSORA_URL": localsora.root_url})["local"]
    jobs = Jobs(provider, library)
    defaults = batches.RowDefaults(model="sora-2", size="1280x720", seconds="4")
    plan = batches.plan_batch(batches.parse_csv("prompt\nA lighthouse at dusk, slow pan\n", defaults), provider)
    batch = batches.start_batch(library, provider, plan, name="Finish me")
    wait_until(
        lambda: (batches.advance(library, jobs), batches.load_batch(library, batch.batch_id))[1],
        lambda b: b.settled and len(b.completed) == 1,
        what="the batch to finish",
        deadline=120,
        interval=0.2,
    )
    source_id = batches.load_batch(library, batch.batch_id).completed[0].video.video_id
    at = open_page(new_session(), "app_pages/batch.py")
    assert button(at, "Finish").disabled, "nothing chosen: no kit saved, the size kept"
    at.selectbox(key=f"batch_{batch.batch_id}_finish_preset").select("1:1 · Square")
    at.run()
    button(at, "Finish").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    # It runs on the server: the page's bar ticks until it ends, then the page is drawn again with the links.
    rerun_until(at, lambda at: "Finished 1 video; the originals are unchanged." in texts(at), what="the finish")
    [made] = [r for r in library.children(source_id) if r.kind == "finish"]
    assert made.size == "1080x1080" and made.is_archived


def test_an_export_goes_on_with_the_page_left_and_is_there_on_coming_back(
    data_dir: Path, localsora: LocalsoraProcess
) -> None:
    library = Library(data_dir)
    record = make_finished(library, localsora, "A red bicycle against a wall")
    save_brand_kit(library, KIT, actor=None, logo=png_bytes(32, 32))
    at = open_settings_section(open_page(new_session(), "app_pages/video.py", video=record.video_id), "finish_drawer")
    button(at, "Apply brand kit").click()
    at.run()
    button(at, "Export MP4").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    open_page(at, "app_pages/gallery.py")  # the person moves on at once; the export is the server's to finish
    made = wait_until(lambda: [c for c in library.children(record.video_id) if c.kind == "finish"], bool,
                      what="the export to reach the library", deadline=120, interval=0.2)
    assert made[0].is_archived and made[0].size == record.size
    at = open_settings_section(open_page(at, "app_pages/video.py", video=record.video_id), "finish_drawer")
    assert "Finished: a new video" in texts(at), "back on the video, the export's result is waiting"


def test_typed_subtitle_lines_are_read_in_time_order_and_a_backwards_line_is_named() -> None:
    rows = [
        {"From": 2.0, "To": 3.5, "Text": "  Second   line "},
        {"From": 0.5, "To": 1.5, "Text": "First line"},
        {"From": None, "To": None, "Text": ""},  # the editor's empty row
        {"From": 4.0, "To": 3.0, "Text": "Backwards"},
    ]
    lines, problems = typed_captions(rows)
    assert [(c.start, c.end, c.text) for c in lines] == [
        (0.5, 1.5, "First line"),
        (2.0, 3.5, "Second line"),
        (4.0, 3.0, "Backwards"),
    ]
    assert problems == ["Subtitle line 4 must end after it starts (4 s to 3 s)."]


def test_settings_removes_the_saved_logo_when_asked(data_dir: Path) -> None:
    library = Library(data_dir)
    kit = save_brand_kit(library, KIT, actor=None, logo=png_bytes(32, 32))
    at = open_settings_section(open_page(new_session(), "app_pages/settings.py"), "settings_brand")
    at.checkbox(key=f"brand_drop_{kit.logo_file}").check()
    at.run()
    button(at, "Save the brand kit").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert load_brand_kit(library).logo_file is None and not (data_dir / kit.logo_file).exists()
    assert load_brand_kit(library).headline == "Sparkling spring", "the rest of the kit is kept"


def test_the_sidebar_shows_an_export_on_the_server_until_it_ends(data_dir: Path) -> None:
    at = new_session()  # on the home page, whose job panel would play (and so read) the clip
    library = Library(data_dir)
    folder = library.folder_for("video_piped")
    folder.mkdir(parents=True)
    source = folder / "video.mp4"
    os.mkfifo(source)  # the export's read of it waits until the test lets it go: it is running, on every page
    library.add(VideoRecord(video_id="video_piped", provider="local", kind="generate", status="completed",
                            prompt="A paper boat on a puddle", model="sora-2", size="1280x720", seconds="4",
                            created_at=time.time(), video_path=library.relative(source)))
    task = worker_for(library).finishing.submit(["video_piped"], FinishSpec(format=Format(720, 720)))
    try:
        at = open_page(at, "app_pages/settings.py")  # a page that never reads the clip itself
        assert "Exporting (1)" in sidebar_text(at) and "A paper boat on a puddle · 0%" in sidebar_text(at)
    finally:
        with open(source, "wb"):  # no clip comes: the export ends, failed, and says so
            pass
    wait_until(lambda: worker_for(library).finishing.get(task.task_id), lambda t: t.ended, what="the export to end")
    at.run()
    assert "Exporting" not in sidebar_text(at), "an ended export leaves the sidebar"
    assert library.children("video_piped") == [] and list(library.files_dir.iterdir()) == [folder]
