"""The pages, run by Streamlit's AppTest against a real localsora and a real library."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from components.context import SESSION_JOBS
from components.plain_text import WORD_JOINER
from localsora.process import LocalsoraProcess, free_port
from studio import access
from studio.jobs import VideoRequest
from studio.library import Library, VideoRecord
from studio.provider.profiles import load_providers
from tests.conftest import TINY_WAN, TINY_WAN_ARGS, local_jobs, run_until_settled, sdk_client, wait_for_video
from tests.in_process import ThreadedLocalsora
from tests.media import png_bytes
from tests.test_library import make_record
from tests.waiting import wait_until

PAGES = ["app_pages/text_to_video.py", "app_pages/image_to_video.py", "app_pages/remix.py", "app_pages/batch.py",
         "app_pages/storyboard.py", "app_pages/gallery.py", "app_pages/settings.py"]
TITLES = dict(zip(PAGES, ["Text to video", "Image to video", "Remix", "Batch", "Storyboard", "Gallery", "Settings"],
                  strict=True))
SECTION_OF = {"Text to video": "Create", "Image to video": "Create", "Remix": "Create", "Batch": "Create",
              "Storyboard": "Create", "Gallery": "Library", "Settings": "Library"}
SECRET = "fake-key-SECRET-must-never-render-1234567890"
APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture
def library(data_dir: Path) -> Library:
    return Library(data_dir)


@pytest.fixture(scope="module")
def keyed_localsora(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalsoraProcess]:
    """A localsora that takes only CANARY as its key, served on a loopback port from a thread; shared, as the tests
    that use it make no videos there."""
    with ThreadedLocalsora(tmp_path_factory.mktemp("localsora-keyed"), api_key=CANARY) as server:
        yield server


def new_session() -> AppTest:
    """A new browser session on the studio (what a first visit or a refresh makes), run once."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def app(data_dir: Path) -> Iterator[AppTest]:
    yield new_session()


def open_page(at: AppTest, page: str, **query: str) -> AppTest:
    at.query_params.clear()
    at.query_params.update(query)
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_settings_section(at: AppTest, *keys: str) -> AppTest:
    """Open Settings' expanders by key ("settings_connect", "settings_keys", "settings_every"): their contents are
    built only while open."""
    for key in keys:
        at.session_state[key] = True
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def button(at: AppTest, label: str):  # noqa: ANN201 (AppTest's element type)
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r}: {[b.label for b in at.button]}"
    return matches[0]


def rerun_until(at: AppTest, done, deadline: float = 90, what: str = "the page to get there"):  # noqa: ANN001, ANN201
    """Re-run the app like the job panel's ticks do, until `done(at)`; the deadline only guards a hang."""
    def rerun() -> AppTest:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return at if done(at) else wait_until(rerun, done, what=what, deadline=deadline, interval=0.1)


def as_read(markdown: str) -> str:
    """Markdown as a reader sees its words: without the escapes (and word joiners) that keep text a server or a
    user wrote from being read as markup."""
    return re.sub(r"\\(.)", r"\1", markdown).replace(WORD_JOINER, "")


def sidebar_text(at: AppTest) -> str:
    return "\n".join(as_read(str(e.value)) for kind in ("markdown", "caption") for e in getattr(at.sidebar, kind))


def sidebar_links(at: AppTest) -> dict[str, str]:
    """The sidebar's page links: label -> the page they open."""
    return {link.proto.label: link.proto.page for link in at.sidebar.get("page_link")}


def texts(at: AppTest) -> str:
    parts = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "title", "subheader", "text"):
        parts += [as_read(str(e.value)) for e in getattr(at, kind)]
    parts += [str(e.value) for e in at.code]
    for widget in (*at.text_input, *at.text_area):
        parts += [str(widget.value or ""), str(widget.label)]
    parts += [str(getattr(e, "value", "")) for e in at.get("badge")]
    parts += [str(row) for frame in at.dataframe for row in frame.value.to_dict("records")]
    return "\n".join(parts)


def every_element_text(at: AppTest) -> str:
    """Everything the page sent to the browser: every element's message, widget values and table cells."""
    parts = []

    def walk(node) -> None:  # noqa: ANN001 (AppTest's node types)
        parts.append(str(getattr(node, "proto", "")))
        with contextlib.suppress(Exception):  # some nodes have no value to read; their proto is already in
            parts.append(str(node.value))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(parts)


def make_finished(library: Library, localsora: LocalsoraProcess, prompt: str) -> VideoRecord:
    jobs = local_jobs(localsora, library)
    [record] = jobs.submit(VideoRequest(prompt=prompt, size="1280x720"))
    return run_until_settled(jobs, record.video_id)


@pytest.fixture
def navigation(monkeypatch: pytest.MonkeyPatch) -> list:
    """The navigation menus app.py sends the browser, one per run (AppTest keeps only the page's elements)."""
    from streamlit.testing.v1 import app_test

    sent: list = []

    class Runner(app_test.LocalScriptRunner):
        def forward_msgs(self):  # noqa: ANN202 (Streamlit's ForwardMsg list)
            msgs = super().forward_msgs()
            sent.extend(m.navigation for m in msgs if m.WhichOneof("type") == "navigation")
            return msgs

    monkeypatch.setattr(app_test, "LocalScriptRunner", Runner)
    return sent


def test_every_page_runs_and_navigation_has_both_sections(app: AppTest, navigation: list) -> None:
    for page in PAGES:
        open_page(app, page)
        assert [t.value for t in app.title] == [TITLES[page]], page
        assert "Local preview renderer: offline, no AI model" in sidebar_text(app), f"the sidebar, on {page}"
        menu = navigation[-1]
        assert list(menu.sections) == ["Create", "Library"], page
        placed = {p.page_name: p.section_header for p in menu.app_pages}
        assert {title: placed.get(title) for title in SECTION_OF} == SECTION_OF, page


def test_text_to_video_submits_and_shows_the_finished_video(app: AppTest, library: Library) -> None:
    open_page(app, "app_pages/text_to_video.py")
    app.text_area(key="t2v_prompt").set_value("A blue kite over golden dunes, pan right")
    app.selectbox(key="t2v_size").set_value("1280x720")
    button(app, "Generate").click()
    app.run()
    assert not app.exception
    [record] = library.page().records
    assert record.prompt == "A blue kite over golden dunes, pan right" and record.size == "1280x720"
    rerun_until(app, lambda at: len(at.get("video")) == 1)
    assert any(b.label == "Download" for b in app.get("download_button"))
    assert library.get(record.video_id).is_archived
    assert app.text_area(key="t2v_prompt").value == "A blue kite over golden dunes, pan right", "input kept"


def test_generate_with_an_empty_prompt_explains(app: AppTest, library: Library) -> None:
    open_page(app, "app_pages/text_to_video.py")
    button(app, "Generate").click()
    app.run()
    assert "Write a prompt first" in texts(app)
    assert library.count() == 0


def test_the_prompt_builder_writes_and_reads_back(app: AppTest) -> None:
    open_page(app, "app_pages/text_to_video.py")
    app.session_state["t2v_builder"] = True  # open the builder: its fields are built only while it is open
    app.run()
    app.text_input(key="t2v_builder_subject").set_value("a red fox")
    app.text_input(key="t2v_builder_camera_motion").set_value("slow dolly in")
    button(app, "Write prompt").click()
    app.run()
    assert app.text_area(key="t2v_prompt").value == "Subject: a red fox.\nCamera: slow dolly in."
    app.text_area(key="t2v_prompt").set_value("Subject: a grey wolf.\nCamera: slow dolly in.")
    app.run()
    assert app.text_input(key="t2v_builder_subject").value == "a grey wolf"


def test_cost_and_code_follow_the_settings(app: AppTest) -> None:
    open_page(app, "app_pages/text_to_video.py")
    app.text_area(key="t2v_prompt").set_value("A lighthouse")
    app.selectbox(key="t2v_seconds").set_value("8")
    app.session_state["t2v_code"] = True  # open "Python code for this request": written only while open
    app.run()
    assert "Free (local renderer)" in texts(app)
    code = app.code[0].value
    assert "seconds='8'" in code and "A lighthouse" in code and "api_key=\"local\"" in code


def test_image_upload_preselects_orientation_and_previews_exact_size(app: AppTest, library: Library) -> None:
    open_page(app, "app_pages/image_to_video.py")
    assert button(app, "Generate").disabled
    app.file_uploader[0].set_value(("wide.png", png_bytes(1600, 900, (30, 160, 90)), "image/png"))
    app.run()
    assert not app.exception
    assert app.selectbox(key="i2v_size").value == "1280x720"
    assert [i.caption for i in app.image[0].proto.imgs] == ["What will be sent: 1600x900 PNG → 1280x720 image/png"]
    app.text_area(key="i2v_prompt").set_value("The leaves start to move")
    button(app, "Generate").click()
    app.run()
    [record] = library.page().records
    assert record.kind == "image" and record.size == "1280x720" and record.reference_path


def test_a_bad_image_is_rejected_and_nothing_is_submitted(app: AppTest, library: Library) -> None:
    open_page(app, "app_pages/image_to_video.py")
    app.file_uploader[0].set_value(("broken.png", b"\x89PNG\r\n\x1a\nnot really", "image/png"))
    app.run()
    assert not app.exception
    assert "Reference image rejected" in texts(app)
    assert button(app, "Generate").disabled
    assert library.count() == 0


def test_remix_a_finished_video(app: AppTest, library: Library, localsora: LocalsoraProcess) -> None:
    source = make_finished(library, localsora, "A red lighthouse at dusk")
    open_page(app, "app_pages/remix.py", video=source.video_id)
    assert app.selectbox(key="remix_source").value == source.video_id
    assert len(app.get("video")) == 1, "the source plays"
    assert not app.slider, "the preview renderer takes no strength: no 'Follow the source'"
    app.text_area(key="remix_prompt").set_value("The same lighthouse in a snowstorm")
    button(app, "Remix").click()
    app.run()
    remix = next(r for r in library.page().records if r.kind == "remix")
    assert remix.parent_video_id == source.video_id
    rerun_until(app, lambda at: len(at.get("video")) == 2)  # source and result side by side


def test_gallery_delete_goes_through_the_confirm_dialog_to_the_trash_and_undo_brings_it_back(
        app: AppTest, library: Library, localsora: LocalsoraProcess) -> None:
    record = make_finished(library, localsora, "Delete me from the gallery")
    open_page(app, "app_pages/gallery.py")
    app.session_state[f"grid_menu_{record.video_id}"] = True  # open the card's "⋯" menu: Delete is in it
    app.run()
    app.button(key=f"grid_del_{record.video_id}").click()
    app.run()
    scope = app.radio(key=f"scope_{record.video_id}")
    assert scope.options == [
        "Move to the trash (restore it within 30 days; the provider keeps its copy)",
        "Move to the trash, and delete the provider copy now (that cannot be undone)",
        "Provider copy only (keep the file in this library)",
    ]
    assert scope.value == "local", "the provider copy goes only when asked for"
    assert library.get(record.video_id) is not None, "nothing is deleted before confirming"
    app.button(key=f"confirm_delete_{record.video_id}").click()
    app.run()
    assert not app.exception
    assert "No videos yet" in texts(app)
    assert [t.value for t in app.toast] == ["Moved to the trash."]
    trashed = library.get(record.video_id)
    assert trashed is not None and trashed.trashed_at is not None
    assert library.path(trashed.video_path).exists(), "the file waits in the trash"
    assert record.video_id in [v.id for v in sdk_client(localsora).videos.list(limit=100)], "provider copy kept"

    app.button(key=f"trash_undo_{record.video_id}").click()
    app.run()
    assert not app.exception
    assert library.get(record.video_id).trashed_at is None
    assert "No videos yet" not in texts(app)

    app.session_state[f"grid_menu_{record.video_id}"] = True  # now the provider copy, asked for separately
    app.run()
    app.button(key=f"grid_del_{record.video_id}").click()
    app.run()
    app.radio(key=f"scope_{record.video_id}").set_value("both")
    app.button(key=f"confirm_delete_{record.video_id}").click()
    app.run()
    assert record.video_id not in [v.id for v in sdk_client(localsora).videos.list(limit=100)]
    assert library.get(record.video_id).trashed_at is not None


def test_without_sign_in_the_sidebar_says_names_are_labels(app: AppTest) -> None:
    assert "No sign-in here: names are labels" in " ".join(str(c.value) for c in app.sidebar.caption)


def test_with_a_passcode_configured_nobody_signed_in_sees_only_the_sign_in_page(data_dir: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["SORA_STUDIO_PASSCODE_HASH"] = access.hash_passcode("team passcode")
    at.run()
    assert [t.value for t in at.title] == ["Sign in to Sora Studio"] and not at.exception
    assert [b.label for b in at.button] == ["Sign in"]  # no page, no sidebar, nothing else
    at.text_input(key="sign_in_name").input("Ann")
    at.text_input(key="sign_in_passcode").input("team passcode")
    at.button[0].click()
    at.run()
    assert "Signed in as **Ann**" in " ".join(str(c.value) for c in at.sidebar.caption)


def test_a_trashed_videos_own_page_says_so_and_restores_it(app: AppTest, library: Library) -> None:
    record = library.add(make_record(1, provider="elsewhere"))
    library.trash(record.video_id)
    open_page(app, "app_pages/video.py", video=record.video_id)  # an old link to it
    assert "In the trash: deleted for good in 30 days unless restored." in texts(app)
    assert [b.label for b in app.button if b.label == "Delete"] == []
    button(app, "Restore").click()
    app.run()
    assert library.get(record.video_id).trashed_at is None
    assert "In the trash" not in texts(app) and [b for b in app.button if b.label == "Delete"]


def test_a_gallery_card_says_why_a_job_is_not_moving(app: AppTest, library: Library) -> None:
    moved = "Made on gpu-a:8000, and OpenAI-compatible server now points at gpu-b:8000."
    library.add(make_record(1, status="in_progress", progress=40, provider="elsewhere", last_poll_error=moved))
    open_page(app, "app_pages/gallery.py")
    [bar] = app.get("progress")
    assert bar.proto.text.startswith("Rendering 40% · Made on gpu") and "gpu-b" in bar.proto.text


def test_gallery_filters_and_pages_a_large_library(app: AppTest, library: Library) -> None:
    statuses = ["completed", "failed", "queued"]
    for n in range(300):
        library.add(make_record(n, status=statuses[n % 3], favourite=n % 10 == 0,
                                model="sora-2-pro" if n % 5 == 0 else "sora-2", provider="elsewhere"))
    open_page(app, "app_pages/gallery.py")
    assert "Showing 1–12 of 300" in texts(app)
    button(app, "Older").click()
    app.run()
    assert "Showing 13–24 of 300" in texts(app)
    button(app, "Newer").click()
    app.run()
    assert "Showing 1–12 of 300" in texts(app)
    app.selectbox(key="gallery_status").set_value("failed")
    app.run()
    assert "of 100" in texts(app)
    app.selectbox(key="gallery_model").set_value("sora-2-pro")
    app.run()
    assert "of 20" in texts(app)
    app.toggle(key="gallery_favourites").set_value(True)
    app.selectbox(key="gallery_model").set_value(None)
    app.run()
    assert "of 10" in texts(app)
    assert not {"Newer", "Older"} & {b.label for b in app.button}, "one page needs no pager"
    app.text_input(key="gallery_text").set_value("Shot 10:")
    app.run()
    assert "Showing 1–1 of 1" in texts(app)


def test_settings_never_render_a_secret(data_dir: Path, keyed_localsora: LocalsoraProcess,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    typed = CANARY  # the server takes only the key typed in Settings, not the one in the environment
    monkeypatch.setenv("SORA_STUDIO_PROVIDER", "openai")
    monkeypatch.setenv("OPENAI_BASE_URL", keyed_localsora.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://example-resource.openai.azure.com")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", SECRET)
    at = new_session()
    for page in PAGES:
        open_page(at, page)
        assert SECRET not in every_element_text(at), page
    assert "401" in sidebar_text(at), "the environment's key is refused"
    open_page(at, "app_pages/settings.py")
    open_settings_section(at, "settings_every", "settings_keys")
    shown = every_element_text(at)
    assert "set (environment)" in shown and "OPENAI_API_KEY" in shown and "Azure OpenAI (key)" in shown
    at.text_input(key="session_OPENAI_API_KEY").set_value(typed)
    next(b for b in at.form_submit_button if b.label == "Use for this session").click()
    at.run()
    assert typed not in every_element_text(at) and SECRET not in every_element_text(at)
    assert "Set for this session: OPENAI_API_KEY" in texts(at)
    for page in PAGES:
        open_page(at, page)
        assert typed not in every_element_text(at), page
    open_page(at, "app_pages/gallery.py")
    button(at, "Sync").click()  # a call only the typed key gets through
    at.run()
    assert "Sync done:" in texts(at) and typed not in every_element_text(at)


def test_a_key_typed_in_settings_turns_the_sidebar_healthy(data_dir: Path, keyed_localsora: LocalsoraProcess,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    typed = CANARY
    monkeypatch.setenv("SORA_STUDIO_PROVIDER", "openai")
    monkeypatch.setenv("OPENAI_BASE_URL", keyed_localsora.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "fake-key-the-server-refuses-1234")
    at = open_settings_section(open_page(new_session(), "app_pages/settings.py"), "settings_keys")
    assert "Key rejected (401)" in sidebar_text(at)
    at.text_input(key="session_OPENAI_API_KEY").set_value(typed)
    next(b for b in at.form_submit_button if b.label == "Use for this session").click()
    at.run()
    assert "OpenAI-compatible gateway: connected" in sidebar_text(at)
    assert sidebar_links(at) == {}


def test_deep_link_opens_that_video(app: AppTest, library: Library, localsora: LocalsoraProcess) -> None:
    record = make_finished(library, localsora, "Deep linked teal wave")
    open_page(app, "app_pages/video.py", video=record.video_id)
    assert len(app.get("video")) == 1
    assert "Deep linked teal wave" in texts(app)
    open_page(app, "app_pages/video.py", video="video_unknown123")
    assert "There is no video 'video_unknown123'" in texts(app)


def test_active_jobs_come_back_after_a_refresh(data_dir: Path, library: Library, faults: LocalsoraProcess,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    faults.faults(render_delay=2)  # still rendering when the new session looks
    monkeypatch.setenv("LOCALSORA_URL", faults.root_url)
    [record] = local_jobs(faults, library).submit(VideoRequest(prompt="Started before the refresh"))
    at = new_session()  # what a browser refresh makes
    assert "Active jobs (1)" in texts(at) and "Started before the refresh" in texts(at)
    # The worker archives it between runs: the run after that one no longer lists it.
    rerun_until(at, lambda page: library.get(record.video_id).is_archived and "Active jobs" not in texts(page),
                what="the archived job to leave the sidebar")


def test_the_sidebar_says_when_the_provider_is_down_and_settings_switches_it(data_dir: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SORA_STUDIO_PROVIDER", "openai")
    monkeypatch.setenv("OPENAI_API_KEY", "fake-key-for-a-closed-port")
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    at = new_session()
    for page in ("app_pages/gallery.py", "app_pages/text_to_video.py", "app_pages/settings.py"):
        open_page(at, page)
        shown = sidebar_text(at)
        assert "OpenAI-compatible gateway: backend unreachable" in shown and "nothing answers there" in shown, page
        assert sidebar_links(at) == {"Fix it in Settings": "settings"}, page
    at.radio(key="settings_provider").set_value("local")
    at.run()
    assert "Local preview renderer: offline, no AI model" in sidebar_text(at), "the switch reaches the sidebar"
    assert sidebar_links(at) == {}, "a healthy provider needs no fixing"
    open_page(at, "app_pages/text_to_video.py")
    assert "It renders on **Local preview renderer**" in texts(at), "and the pages"
    assert "Local preview renderer: offline, no AI model" in sidebar_text(at)


def test_the_sidebar_counts_active_jobs_and_the_spend_of_a_priced_job(data_dir: Path, faults: LocalsoraProcess,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # localsora behind the OpenAI profile, so OpenAI's list prices apply: two 4 s takes of sora-2 at 720p.
    faults.faults(render_delay=1)  # the takes stay active for the runs that look at them
    monkeypatch.setenv("SORA_STUDIO_PROVIDER", "openai")
    monkeypatch.setenv("OPENAI_API_KEY", "local")
    monkeypatch.setenv("OPENAI_BASE_URL", faults.base_url)
    app = open_page(new_session(), "app_pages/text_to_video.py")
    assert "No active jobs." in sidebar_text(app) and "Spent so far: **$0.00**" in sidebar_text(app)
    app.text_area(key="t2v_prompt").set_value("A paper boat on a pond, slow pan left")
    app.number_input(key="t2v_variants").set_value(2)
    button(app, "Generate").click()
    app.run()
    assert [t.value for t in app.toast] == ["2 jobs started on OpenAI-compatible gateway."]
    app.run()  # the job panel's next tick; the sidebar is drawn before the page
    assert "Active jobs (2)" in sidebar_text(app) and "A paper boat on a pond" in sidebar_text(app)
    toasts: list[str] = []

    def both_done(at: AppTest) -> bool:
        toasts.extend(t.value for t in at.toast)
        return "No active jobs." in sidebar_text(at)

    rerun_until(app, both_done, what="both takes to finish in the sidebar")
    assert "Spent so far: **$0.80**" in sidebar_text(app)
    assert [t for t in toasts if t.startswith("Video ready: A paper boat on a pond")], toasts
    # Settings lists it per person: nobody gave a name in this session.
    settings = open_page(app, "app_pages/settings.py")
    spend = [c.value for c in settings.main.caption if "Total:" in c.value]
    assert spend and "(no name given): $0.80" in spend[0] and "**Total: $0.80**" in spend[0], spend


def test_retry_on_a_failed_job_sends_the_same_request_again(data_dir: Path, library: Library,
                                                            faults: LocalsoraProcess,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    faults.faults(blocked_words=["forbidden"])
    monkeypatch.setenv("LOCALSORA_URL", faults.root_url)
    app = open_page(new_session(), "app_pages/text_to_video.py")
    app.text_area(key="t2v_prompt").set_value("A forbidden dance on a rooftop, slow orbit")
    app.selectbox(key="t2v_size").set_value("1280x720")
    app.selectbox(key="t2v_seconds").set_value("8")
    button(app, "Generate").click()
    app.run()
    [first] = library.page().records
    rerun_until(app, lambda at: [b for b in at.button if b.label == "Retry"], what="the job to fail")
    assert "Blocked by moderation" in texts(app)
    button(app, "Retry").click()
    app.run()
    [again] = [r for r in library.page().records if r.video_id != first.video_id]

    def sent(record: VideoRecord) -> dict:
        wire = httpx.get(f"{faults.root_url}/_localsora/videos/{record.video_id}/request").json()
        wire["params"].pop("seed")  # none was sent; localsora picked one each time
        return {k: v for k, v in wire.items() if k != "id"}

    assert sent(again) == sent(first) and (sent(first)["size"], sent(first)["seconds"]) == ("1280x720", "8")
    assert again.video_id in app.session_state[SESSION_JOBS], "the retry is followed on the page"


def test_variants_that_started_stay_followed_when_a_later_one_is_refused(data_dir: Path, library: Library,
                                                                         start_threaded,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # Two creates allowed per 10 minutes: the third is refused for longer than the studio waits.
    limited = start_threaded("--rate-limit", "2", "--rate-window", "600")
    monkeypatch.setenv("LOCALSORA_URL", limited.root_url)
    app = open_page(new_session(), "app_pages/text_to_video.py")
    app.text_area(key="t2v_prompt").set_value("Three takes of a kite, the third refused")
    app.number_input(key="t2v_variants").set_value(3)
    button(app, "Generate").click()
    app.run()
    assert "2 of 3 variants started; the rest failed: Rate limited" in texts(app)
    started = {r.video_id for r in library.page().records}
    assert len(started) == 2 and started <= set(app.session_state[SESSION_JOBS]), "the started takes are followed"
    rerun_until(app, lambda at: len(at.get("video")) == 2, what="both started takes to play on the page")


def test_compare_preselects_the_variant_group(app: AppTest, library: Library, localsora: LocalsoraProcess) -> None:
    jobs = local_jobs(localsora, library)
    takes = jobs.submit(VideoRequest(prompt="Two takes of a harbour at dawn", variants=2))
    for take in takes:
        assert run_until_settled(jobs, take.video_id).is_archived
    make_finished(library, localsora, "Not part of the group")
    open_page(app, "app_pages/gallery.py")
    app.toggle(key="gallery_compare").set_value(True)
    app.run()
    assert sorted(app.multiselect(key="compare_ids").value) == sorted(t.video_id for t in takes)
    assert len(app.get("video")) == 2, "the takes play side by side"


def test_sync_brings_in_videos_made_elsewhere(app: AppTest, library: Library, localsora: LocalsoraProcess) -> None:
    client = sdk_client(localsora)
    made = client.videos.create(prompt="Made with the SDK, not the studio", seconds="4")
    assert wait_for_video(client, made.id).status == "completed"
    open_page(app, "app_pages/gallery.py")
    assert library.get(made.id) is None
    button(app, "Sync").click()
    app.run()
    shown = texts(app)
    assert "Sync done" in shown, shown[-3000:]  # the page's own words, whole, when it is not there
    # Sync downloads it, or the background worker does when it claimed the download first.
    wait_until(lambda: library.get(made.id), lambda r: r is not None and r.is_archived, what="the synced video's file")
    assert "Made with the SDK, not the studio" in texts(app)


def test_sound_is_turned_off_or_described_in_advanced_where_the_model_makes_it(
        app: AppTest, library: Library, localsora: LocalsoraProcess) -> None:
    import av

    app = open_page(app, "app_pages/text_to_video.py")
    sound = app.toggle(key="t2v_param_sound")
    assert (sound.label, sound.value) == ("Sound", True), "on, as the model makes it, until turned off"
    assert app.text_input(key="t2v_param_audio_prompt").label == "Sound description"
    app.text_area(key="t2v_prompt").set_value("A silent film of a quiet reading room")
    sound.set_value(False)
    app.run()
    button(app, "Generate").click()
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    [silent] = library.page().records
    assert silent.params["sound"] is False and "audio_prompt" not in silent.params
    wire = httpx.get(f"{localsora.root_url}/_localsora/videos/{silent.video_id}/request").json()
    assert wire["params"]["sound"] is False
    silent = rerun_until(app, lambda at: library.get(silent.video_id).is_archived) and library.get(silent.video_id)
    with av.open(str(library.path(silent.video_path))) as clip:
        assert not clip.streams.audio, "turned off: the clip has no audio track"

    app.toggle(key="t2v_param_sound").set_value(True)
    app.text_input(key="t2v_param_audio_prompt").set_value("rain on a tin roof")
    app.text_area(key="t2v_prompt").set_value("A shed in the rain")
    app.run()
    button(app, "Generate").click()
    app.run()
    rainy = next(r for r in library.page().records if r.video_id != silent.video_id)
    assert rainy.params["audio_prompt"] == "rain on a tin roof"
    assert "sound" not in rainy.params, "sound left on is not sent: the model's default holds"


@pytest.fixture
def wan_app(data_dir: Path, tiny_wan: LocalsoraProcess, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    """The studio on localsora's diffusers engine with the tiny Wan text-to-video model."""
    monkeypatch.setenv("LOCALSORA_URL", tiny_wan.root_url)
    yield new_session()


def test_the_pages_offer_what_the_tiny_wan_model_offers(wan_app: AppTest, library: Library,
                                                       tiny_wan: LocalsoraProcess) -> None:
    sidebar = texts(wan_app)
    assert f"Local model: {TINY_WAN} on cpu · no sound" in sidebar and "Local preview renderer" not in sidebar
    app = open_page(wan_app, "app_pages/text_to_video.py")
    assert f"It renders on **Local model ({TINY_WAN} on cpu)**" in texts(app)
    assert app.selectbox(key="t2v_model").options == [TINY_WAN]
    assert app.selectbox(key="t2v_size").options == ["64x64 · square", "96x64 · landscape"]
    assert app.selectbox(key="t2v_seconds").options == ["1 s", "2 s"]
    seed, steps = app.number_input(key="t2v_param_seed"), app.number_input(key="t2v_param_num_inference_steps")
    assert (seed.value, seed.min, seed.max) == (None, 0, 2**32 - 1) and (steps.min, steps.max) == (1, 200)
    guidance = app.number_input(key="t2v_param_guidance_scale")
    assert (guidance.min, guidance.max) == (0, 30)
    assert {"Seed", "Negative prompt", "Steps", "Guidance", "Frames per second", "Frames"} <= {
        w.label for w in (*app.number_input, *app.text_input)}

    app.text_area(key="t2v_prompt").set_value("a small robot walking in the rain")
    app.selectbox(key="t2v_size").set_value("96x64")
    app.selectbox(key="t2v_seconds").set_value("1")
    seed.set_value(4321)
    steps.set_value(2)
    app.text_input(key="t2v_param_negative_prompt").set_value("blurry")
    app.session_state["t2v_code"] = True  # open "Python code for this request": written only while open
    app.run()
    assert '"seed": 4321' in app.code[0].value, "the code snippet sends them too"
    button(app, "Generate").click()
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    [record] = library.page().records
    assert record.params == {"seed": 4321, "num_inference_steps": 2, "negative_prompt": "blurry"}
    made = load_providers({"LOCALSORA_URL": tiny_wan.root_url})["local"].client().videos.retrieve(record.video_id)
    assert made.model_extra["seed"] == 4321 and made.size == "96x64"
    rerun_until(app, lambda at: len(at.get("video")) == 1)

    app = open_page(app, "app_pages/image_to_video.py")
    assert "does not animate a reference image" in texts(app) and not app.file_uploader
    app = open_page(app, "app_pages/remix.py", video=record.video_id)
    assert app.get("button_group")[0].proto.options and "does not offer extend" in texts(app)
    assert [o.content for o in app.get("button_group")[0].proto.options] == ["Remix", "Edit"]
    assert app.number_input(key="remix_param_seed").max == 2**32 - 1
    assert not [n for n in app.number_input if n.key == "remix_param_num_inference_steps"], "seed only"
    # The model takes `strength`: "Follow the source" sets it (its opposite), and the remix sends it.
    follow = app.slider(key="remix_follow_source")
    assert (follow.value, follow.min, follow.max) == (pytest.approx(0.3), 0, 1)
    follow.set_value(0.9)
    app.text_area(key="remix_prompt").set_value("the robot in the snow")
    app.run()
    button(app, "Remix").click()
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    remix = next(r for r in library.page().records if r.kind == "remix")
    assert remix.params["strength"] == 0.1
    wire = httpx.get(f"{tiny_wan.root_url}/_localsora/videos/{remix.video_id}/request").json()
    assert wire["params"]["strength"] == 0.1
    app = open_page(app, "app_pages/settings.py")
    assert "no sound" in texts(app) and "It runs a real video model through diffusers" in texts(app)


@pytest.mark.xdist_group("diffusers")
def test_a_model_without_remix_or_text_gets_neither(data_dir: Path, library: Library, tmp_path: Path,
                                                     start_threaded, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.tiny_pipelines import save_tiny_wan_i2v

    # Wan image-to-video: animates a picture and extends clips; no text-only video, no remix, no edit.
    model = save_tiny_wan_i2v(tmp_path / "wan-i2v")
    # Served from a thread (the model loads in this process); the shared tiny_wan is a real diffusers process.
    server = start_threaded("--engine", "diffusers", "--model", str(model), *TINY_WAN_ARGS, data_dir=tmp_path / "ls")
    try:
        monkeypatch.setenv("LOCALSORA_URL", server.root_url)
        library.add(make_record(1, prompt="A finished clip from before", size="64x64", model=TINY_WAN))
        app = open_page(new_session(), "app_pages/text_to_video.py")
        assert "does not make video from a prompt alone" in texts(app) and not [b for b in app.button
                                                                            if b.label == "Generate"]
        app = open_page(app, "app_pages/image_to_video.py")
        assert app.file_uploader and app.number_input(key="i2v_param_seed") is not None
        app = open_page(app, "app_pages/gallery.py")
        app.session_state["grid_menu_video_000001"] = True  # open the card's "⋯" menu: the actions are in it
        app.run()
        labels = [b.label for b in app.button]
        assert "Play" in labels and "Remix" not in labels and "Edit" not in labels and "Extend" in labels
        app = open_page(app, "app_pages/remix.py")
        assert "does not offer remix or edit" in texts(app)
        assert [o.content for o in app.get("button_group")[0].proto.options] == ["Extend"]
    finally:
        server.stop()


# Connect a provider, and servers that lack modes or take any size.

CANARY = "canary-key-5e4d3c2b1a-must-never-render"


def test_connect(at: AppTest, url: str, key: str | None = None) -> AppTest:
    """Settings → Connect a provider → OpenAI-compatible server → Test connection."""
    open_settings_section(open_page(at, "app_pages/settings.py"), "settings_connect")
    at.text_input(key="connect_SORA_STUDIO_COMPATIBLE_URL").set_value(url)
    if key is not None:
        at.text_input(key="connect_SORA_STUDIO_COMPATIBLE_API_KEY").set_value(key)
    next(b for b in at.form_submit_button if b.label == "Test connection").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


test_connect.__test__ = False  # a helper, not a test


def test_test_connection_succeeds_on_a_running_localsora(app: AppTest, localsora: LocalsoraProcess) -> None:
    test_connect(app, localsora.root_url)
    shown = texts(app)
    assert f"Connected to 127.0.0.1:{localsora.port}" in shown and "It answers as a video server" in shown
    assert "{'What': 'Remix', 'Offered': 'yes', 'How the studio knows': 'its route answered'}" in shown
    snippet = app.code[-1].value
    assert 'SORA_STUDIO_PROVIDER = "compatible"' in snippet
    assert f'SORA_STUDIO_COMPATIBLE_URL = "{localsora.root_url}"' in snippet
    button(app, "Use it for this session").click()
    app.run()
    assert "OpenAI-compatible server: connected" in texts(app), "the studio now uses it"


def test_test_connection_explains_a_closed_port(app: AppTest) -> None:
    port = free_port()
    test_connect(app, f"http://127.0.0.1:{port}")
    assert f"Connection refused.** Nothing is listening at 127.0.0.1:{port}" in texts(app)
    assert not [b for b in app.button if b.label == "Use it for this session"]


def test_test_connection_never_shows_the_key(data_dir: Path, keyed_localsora: LocalsoraProcess) -> None:
    keyed = keyed_localsora
    at = new_session()
    test_connect(at, keyed.root_url, key="wrong-key-typed-by-mistake")
    assert "Key rejected.** 127.0.0.1" in texts(at) and "did not accept the key (401)" in texts(at)
    assert "wrong-key-typed-by-mistake" not in every_element_text(at)
    test_connect(at, keyed.root_url, key=CANARY)
    assert f"Connected to 127.0.0.1:{keyed.port}" in texts(at)
    assert 'SORA_STUDIO_COMPATIBLE_API_KEY = "PASTE-YOUR-KEY-HERE"' in at.code[-1].value
    assert CANARY not in every_element_text(at), "not in a field, the snippet, or anywhere else on the page"
    button(at, "Use it for this session").click()
    at.run()
    assert "OpenAI-compatible server: connected" in texts(at), "the key works from the session"
    for page in PAGES:
        open_page(at, page)
        assert CANARY not in every_element_text(at), page


def test_remix_that_answered_404_is_no_longer_offered(data_dir: Path, library: Library, start_threaded,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # localsora as vLLM-Omni, behind the local profile: its models list offers remix, its remix route is missing.
    server = start_threaded("--dialect", "vllm-omni", "--models", "sora-2=1280x720")  # the local profile's model
    monkeypatch.setenv("LOCALSORA_URL", server.root_url)
    source = make_finished(library, server, "A lighthouse before the storm")
    app = open_page(new_session(), "app_pages/remix.py", video=source.video_id)
    app.text_area(key="remix_prompt").set_value("The same lighthouse in a storm")
    button(app, "Remix").click()
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert "This server does not offer remix: 127.0.0.1" in texts(app) and "answered 404" in texts(app)
    app = open_page(app, "app_pages/gallery.py")
    app.session_state[f"grid_menu_{source.video_id}"] = True  # open the card's "⋯" menu: the actions are in it
    app.run()
    labels = [b.label for b in app.button]
    assert "Play" in labels and "Favourite" in labels and "Remix" not in labels
    app = open_page(new_session(), "app_pages/gallery.py")  # a new session reads what the library learned
    app.session_state[f"grid_menu_{source.video_id}"] = True
    app.run()
    assert "Rename" in [b.label for b in app.button] and "Remix" not in [b.label for b in app.button]
    app = open_page(app, "app_pages/remix.py")
    assert "does not offer remix" in texts(app)
    assert "Remix" not in [o.content for o in app.get("button_group")[0].proto.options]
    app = open_page(app, "app_pages/settings.py")
    assert "Learned from its answers: this server does not offer remix." in texts(app)


def text_to_video_on_vllm_omni(start_threaded, monkeypatch: pytest.MonkeyPatch) -> tuple[LocalsoraProcess, AppTest]:
    """Text to video on the compatible profile, against localsora speaking vLLM-Omni's dialect."""
    server = start_threaded("--dialect", "vllm-omni")
    monkeypatch.setenv("SORA_STUDIO_PROVIDER", "compatible")
    monkeypatch.setenv("SORA_STUDIO_COMPATIBLE_URL", server.root_url)
    return server, open_page(new_session(), "app_pages/text_to_video.py")


def test_a_vllm_omni_server_gets_free_sizes_and_no_remix(data_dir: Path, library: Library, start_threaded,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    server, app = text_to_video_on_vllm_omni(start_threaded, monkeypatch)
    size = app.text_input(key="t2v_size")
    assert size.value == "720x1280" and size.label == "Size (width x height)"
    size.set_value("833x480")
    app.text_area(key="t2v_prompt").set_value("A free size")
    app.run()
    assert "833x480 has an odd side; use even numbers, for example 834x480." in texts(app)
    button(app, "Generate").click()
    app.run()
    assert library.count() == 0, "a wrong size is never sent"
    app = open_page(app, "app_pages/remix.py")
    assert "offers no remix, edit or extend" in texts(app)
    app = open_page(app, "app_pages/image_to_video.py")
    app.text_input(key="i2v_size").set_value("640x360")
    app.file_uploader[0].set_value(("wide.png", png_bytes(1600, 900, (30, 160, 90)), "image/png"))
    app.run()
    assert app.text_input(key="i2v_size").value == "1280x720", "a new image preselects its orientation"
    app.text_input(key="i2v_size").set_value("640x360")
    app.run()
    assert "1600x900 PNG → 640x360" in str(app.image[0].proto), "the fitter follows the typed size"


def test_the_video_page_shows_render_time_and_memory(app: AppTest, library: Library) -> None:
    library.add(make_record(1, provider="compatible", prompt="A render from a GPU server",
                            extra={"inference_time_s": 12.5, "peak_memory_mb": 18234.0, "quality": "default"}))
    open_page(app, "app_pages/video.py", video="video_000001")
    assert "Rendered in 12.5 s · peak GPU memory 18,234 MB" in texts(app)
    assert '"quality": "default"' in every_element_text(app) or "quality" in every_element_text(app)


def test_a_films_page_lists_its_shots_and_opens_its_storyboard(app: AppTest, library: Library) -> None:
    """A storyboard's film: its lineage is its shots (one since deleted) and a way back to its storyboard; what the
    page says of it is how it was joined, not "More from the server"."""
    from studio import storyboard as boards

    board = boards.new_storyboard("Harbour spot", load_providers({})["local"], "sora-2", "720x1280")
    boards.save(library, board)
    library.add(make_record(1, prompt="Boats at dawn, wide"))
    library.add(make_record(2, prompt="A gull lands on the rail, close-up"))
    library.add(make_record(3, kind="storyboard", video_id="film_0001", title="Harbour spot", seconds="8",
                            extra={"storyboard_id": board.storyboard_id, "video": "copied", "audio": "none",
                                   "shots": ["video_000001", "video_000002", "video_gone"]}))
    open_page(app, "app_pages/video.py", video="film_0001")
    links = {link.proto.label: dict(p.split("=", 1) for p in link.proto.query_string.split("&") if p)
             for link in app.main.get("page_link")}
    assert links["Shot 1: Boats at dawn, wide"] == {"video": "video_000001"}
    assert links["Shot 2: A gull lands on the rail, close-up"] == {"video": "video_000002"}
    assert links["Open its storyboard"] == {"storyboard": board.storyboard_id}
    assert "Shot 3: video_gone (no longer in this library)." in texts(app)
    assert "Joined here from 3 shots · picture copied · sound none" in texts(app)
    assert "More from the server" not in every_element_text(app)
    open_page(app, "app_pages/storyboard.py", storyboard=board.storyboard_id)
    assert app.selectbox[0].value == board.storyboard_id, "the link opens that storyboard"


def test_a_video_only_in_the_library_is_edited_from_its_copy_not_remixed(app: AppTest, library: Library,
                                                                          localsora: LocalsoraProcess) -> None:
    """A video the provider no longer has (deleted there, or a storyboard's film): its page offers Edit, not Remix,
    and the Remix page picks it with Edit and Extend only; one with no file here is named, not swapped silently."""
    make_finished(library, localsora, "A teal wave, static shot")
    kept = make_finished(library, localsora, "A paper boat on a canal")
    library.update(kept.video_id, remote_deleted=True)
    open_page(app, "app_pages/video.py", video=kept.video_id)
    labels = [b.label for b in app.main.button]
    assert "Edit" in labels and "Remix" not in labels
    open_page(app, "app_pages/remix.py", video=kept.video_id)
    assert app.selectbox(key="remix_source").value == kept.video_id
    [action] = app.main.get("button_group")
    assert [option.content for option in action.proto.options] == ["Edit", "Extend"]
    assert "sent from this library as an MP4" in texts(app)
    library.add(make_record(1, kind="storyboard", video_id="film_0001", title="Harbour spot", remote_deleted=True))
    open_page(app, "app_pages/remix.py", video="film_0001")  # no file in the library
    assert "“Harbour spot” can't be picked here" in texts(app) and "no copy of its file" in texts(app)
    assert app.selectbox(key="remix_source").value != "film_0001", "another video, picked in plain sight"


def test_advanced_fields_on_a_vllm_omni_server_go_on_the_wire(data_dir: Path, library: Library, start_threaded,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    server, app = text_to_video_on_vllm_omni(start_threaded, monkeypatch)
    app.text_area(key="t2v_prompt").set_value("A kite over dunes")
    app.text_input(key="t2v_size").set_value("832x480")
    app.number_input(key="t2v_param_seed").set_value(99)
    app.number_input(key="t2v_param_num_inference_steps").set_value(30)
    app.number_input(key="t2v_param_guidance_scale").set_value(6.5)
    app.text_input(key="t2v_param_negative_prompt").set_value("blurry")
    app.run()
    button(app, "Generate").click()
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    [record] = library.page().records
    wire = httpx.get(f"{server.root_url}/_localsora/videos/{record.video_id}/request").json()
    assert wire["size"] == "832x480" and wire["prompt"] == "A kite over dunes"
    # No SORA_STUDIO_MODELS: the model is the one the server lists, which vLLM-Omni insists on.
    assert wire["model"] == record.model == "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"
    assert wire["params"] == {"seed": 99, "num_inference_steps": 30, "guidance_scale": 6.5, "negative_prompt": "blurry"}


def test_a_card_shows_a_hostile_model_and_id_as_text_not_html() -> None:
    """A model name or id from a server (or a batch file) lands in the card's HTML-enabled Markdown: it is
    escaped, so a browser shows it as text and runs nothing."""
    from components import video_card

    hostile = make_record(1, model="<img src=x onerror=alert(1)>", size="<svg onload=alert(2)>",
                          video_id="video_<b>x</b>")
    shown = video_card.summary_line(hostile) + video_card.made_line(hostile)
    assert re.search(r"(?<!\\)[<>]", shown) is None, shown  # every angle bracket escaped: no tag can open
    assert "\\<img src=x onerror=alert(1)\\>" in shown  # Markdown then shows the characters themselves
