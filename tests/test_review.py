"""Review (issue 23): comments, the review status and its history, folders, who may do which, the gallery's
filters, and the self-contained "Share for review" page."""

from __future__ import annotations

import base64
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from studio import access, review, share
from studio.access import Actor, NotYours
from studio.errors import InvalidInput
from studio.library import Filters, Library, VideoRecord
from tests.media import mp4_bytes
from tests.test_library import make_record
from tests.test_pages import APP, as_read, button, new_session, open_page, texts

ANN = Actor("ann", signed_in=True)
BOB = Actor("bob", signed_in=True)
ADMIN = Actor("root", signed_in=True, admin=True)
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> **bold** :red[red] [link](http://evil.example)'


def bobs_video(library: Library, n: int = 1, **overrides: object) -> VideoRecord:
    return library.add(make_record(n, owner="bob", **overrides))


# Who may do what.


def test_with_sign_in_anyone_comments_but_only_the_owner_or_an_admin_sets_the_status_and_folder(
    tmp_path: Path,
) -> None:
    library = Library(tmp_path)
    video_id = bobs_video(library).video_id
    review.add_comment(library, video_id, "The logo is too small.", ANN)
    with pytest.raises(NotYours, match="bob's"):
        review.set_review_status(library, video_id, "approved", ANN)
    with pytest.raises(NotYours, match="bob's"):
        review.file_in_folder(library, video_id, "Spring launch", ANN)
    kept = library.get(video_id)
    assert kept is not None and (kept.review_status, kept.folder) == ("draft", "")
    assert review.review_history(library, video_id) == []

    assert review.set_review_status(library, video_id, "changes_requested", BOB).review_status == "changes_requested"
    assert review.set_review_status(library, video_id, "approved", ADMIN).review_status == "approved"
    assert review.file_in_folder(library, video_id, "Spring launch", BOB).folder == "Spring launch"
    assert [c.author for c in review.comments(library, video_id)] == ["ann"]


def test_with_sign_in_a_comment_is_deleted_only_by_its_author_or_an_admin(tmp_path: Path) -> None:
    library = Library(tmp_path)
    video_id = bobs_video(library).video_id
    anns = review.add_comment(library, video_id, "Ann's note", ANN)
    bobs = review.add_comment(library, video_id, "Bob's note", BOB)
    with pytest.raises(NotYours, match="ann's"):
        review.delete_comment(library, anns.id, BOB)  # not even the video's owner
    assert review.delete_comment(library, bobs.id, BOB)
    assert review.delete_comment(library, anns.id, ADMIN)
    assert review.comments(library, video_id) == []
    assert not review.delete_comment(library, anns.id, ADMIN), "gone already"


def test_with_sign_in_a_nameless_session_cannot_comment(tmp_path: Path) -> None:
    library = Library(tmp_path)
    video_id = bobs_video(library).video_id
    with pytest.raises(review.SignInNeeded):
        review.add_comment(library, video_id, "who am I?", Actor("", signed_in=True))
    assert review.comments(library, video_id) == []


def test_without_sign_in_names_are_labels_and_anyone_may_do_anything(tmp_path: Path) -> None:
    library = Library(tmp_path)
    video_id = bobs_video(library).video_id
    ann = Actor("ann")  # typed, not proven
    bobs = review.add_comment(library, video_id, "Bob's note", Actor("bob"))
    assert review.set_review_status(library, video_id, "approved", ann).review_status == "approved"
    assert review.file_in_folder(library, video_id, "Holiday", ann).folder == "Holiday"
    assert review.delete_comment(library, bobs.id, ann)
    nameless = review.add_comment(library, video_id, "no name given", Actor(""))
    assert nameless.author == "" and review.may_delete_comment(Actor("anyone"), nameless)


# Comments, statuses and their history.


def test_comments_are_kept_verbatim_and_whole_and_bad_ones_refused_without_storing(tmp_path: Path) -> None:
    library = Library(tmp_path)
    video_id = bobs_video(library).video_id
    long = "\n".join(f"line {n}: " + "word " * 40 for n in range(45))  # about 9,000 characters
    review.add_comment(library, video_id, HOSTILE, ANN)
    review.add_comment(library, video_id, long, BOB)
    assert [c.body for c in review.comments(library, video_id)] == [HOSTILE, long.strip()]
    with pytest.raises(InvalidInput, match="empty"):
        review.add_comment(library, video_id, "  \n ", ANN)
    with pytest.raises(InvalidInput, match="10,000 characters; this one has 10,001"):
        review.add_comment(library, video_id, "x" * 10_001, ANN)
    with pytest.raises(InvalidInput, match="no longer in the library"):
        review.add_comment(library, "video_gone", "hello", ANN)
    assert len(review.comments(library, video_id)) == 2


def test_the_status_history_says_who_moved_it_and_when(tmp_path: Path) -> None:
    library = Library(tmp_path)
    video_id = bobs_video(library).video_id
    review.set_review_status(library, video_id, "in_review", BOB, now=100.0)
    review.set_review_status(library, video_id, "in_review", BOB, now=150.0)  # no change, no entry
    review.set_review_status(library, video_id, "changes_requested", ADMIN, now=200.0)
    review.set_review_status(library, video_id, "approved", BOB, now=300.0)
    assert [(c.label, c.author, c.at) for c in review.review_history(library, video_id)] == [
        ("In review", "bob", 100.0),
        ("Changes requested", "root", 200.0),
        ("Approved", "bob", 300.0),
    ]
    with pytest.raises(InvalidInput, match="not a review status"):
        review.set_review_status(library, video_id, "shipped", BOB)
    rendering = bobs_video(library, 2, status="in_progress").video_id
    with pytest.raises(InvalidInput, match="Only a finished video"):
        review.set_review_status(library, rendering, "approved", BOB)


def test_comments_and_review_history_go_with_their_video(tmp_path: Path) -> None:
    library = Library(tmp_path)
    video_id = bobs_video(library).video_id
    review.add_comment(library, video_id, "note", BOB)
    review.set_review_status(library, video_id, "approved", BOB)
    library.remove(video_id)
    library.add(make_record(1, owner="bob"))  # the same id again: a new video, with no past
    assert review.comments(library, video_id) == [] and review.review_history(library, video_id) == []


# Folders and the gallery's filters.


def test_the_gallery_filters_by_review_status_and_folder_through_indexes(tmp_path: Path) -> None:
    library = Library(tmp_path)
    for n in range(30):
        library.add(make_record(n, owner="bob"))
    for n in range(0, 30, 3):
        review.set_review_status(library, f"video_{n:06d}", "approved", BOB)
    for n in range(0, 30, 5):
        review.file_in_folder(library, f"video_{n:06d}", "Spring launch", BOB)
    review.file_in_folder(library, "video_000001", "  spring   LAUNCH ", BOB)  # the same folder, as typed
    review.file_in_folder(library, "video_000002", "Holiday", BOB)
    assert library.folders() == ["Holiday", "Spring launch"]
    assert library.count(Filters(review_status="approved")) == 10
    assert library.count(Filters(review_status="draft")) == 20
    assert library.count(Filters(folder="Spring launch")) == 7
    assert library.count(Filters(folder="")) == 22, "filed in no folder"
    both = library.page(Filters(review_status="approved", folder="Spring launch"), limit=50).records
    assert [r.video_id for r in both] == ["video_000015", "video_000000"]
    assert all(r.review_status == "approved" and r.folder == "Spring launch" for r in both)

    ran: list[str] = []
    library._connection().set_trace_callback(ran.append)
    library.page(Filters(review_status="approved"), limit=5)
    library.page(Filters(folder="Holiday"), limit=5)
    library.folders()
    library._connection().set_trace_callback(None)
    for sql in ran:
        plan = " ".join(str(row[-1]) for row in library._connection().execute("EXPLAIN QUERY PLAN " + sql))
        assert "videos_by_review" in plan or "videos_by_folder" in plan, (sql, plan)
        assert "SCAN videos" not in plan or "COVERING INDEX" in plan, (sql, plan)


def test_a_folder_name_is_one_line_and_has_a_limit(tmp_path: Path) -> None:
    library = Library(tmp_path)
    video_id = bobs_video(library).video_id
    assert review.file_in_folder(library, video_id, "Q1\ncampaign\t ", BOB).folder == "Q1 campaign"
    with pytest.raises(InvalidInput, match="up to 60 characters"):
        review.file_in_folder(library, video_id, "x" * 61, BOB)
    assert review.file_in_folder(library, video_id, "", BOB).folder == "", "taken out of its folder"
    assert library.folders() == []


def test_a_folder_whose_videos_are_all_in_the_trash_is_not_offered(tmp_path: Path) -> None:
    library = Library(tmp_path)
    kept, trashed = bobs_video(library).video_id, library.add(make_record(7, owner="bob")).video_id
    review.file_in_folder(library, kept, "Spring launch", BOB)
    review.file_in_folder(library, trashed, "Old campaign", BOB)
    assert library.folders() == ["Old campaign", "Spring launch"]
    library.trash(trashed)
    assert library.folders() == ["Spring launch"], "the filter and the folder picker offer only what they can show"
    library.restore(trashed)
    assert library.folders() == ["Old campaign", "Spring launch"], "it comes back with its video"


# Share for review.


class Page(HTMLParser):
    """What a browser would load and show: every tag with its attributes, and the text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def archived(library: Library, record: VideoRecord, data: bytes) -> VideoRecord:
    folder = library.folder_for(record.video_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "video.mp4").write_bytes(data)
    library.add(record)
    return library.update(record.video_id, video_path=library.relative(folder / "video.mp4")) or record


def test_the_review_page_embeds_the_video_and_loads_nothing_else(tmp_path: Path) -> None:
    library = Library(tmp_path)
    clip = mp4_bytes(64, 48, 12)
    record = archived(library, make_record(1, owner="bob", prompt="A red kite over the dunes"), clip)
    review.set_review_status(library, record.video_id, "approved", ADMIN)
    review.add_comment(library, record.video_id, "Ship it.", BOB)
    page = Page(share.review_page(library, library.get(record.video_id) or record).decode("utf-8"))

    names = [tag for tag, _ in page.tags]
    assert names.count("video") == 1 and not {"script", "link", "iframe", "img", "object", "embed"} & set(names)
    [video] = [attrs for tag, attrs in page.tags if tag == "video"]
    source = str(video["src"])
    assert source.startswith("data:video/mp4;base64,") and "controls" in video
    assert base64.b64decode(source.partition(",")[2]) == clip, "the whole MP4, byte for byte"
    urls = [value for _, attrs in page.tags for name, value in attrs.items() if name in ("src", "href", "poster")]
    assert urls == [source], "nothing but the embedded video is loaded"
    [policy] = [attrs["content"] for tag, attrs in page.tags if attrs.get("http-equiv") == "Content-Security-Policy"]
    assert "default-src 'none'" in str(policy)
    shown = " ".join(" ".join(page.text).split())
    for fact in ("A red kite over the dunes", "sora-2", "720x1280", "4 s", "bob", "Approved (root,", "Ship it."):
        assert fact in shown, fact


def test_the_review_page_escapes_a_hostile_prompt_and_comment(tmp_path: Path) -> None:
    library = Library(tmp_path)
    record = archived(
        library, make_record(1, prompt=HOSTILE, title="", owner='<b onmouseover="x">eve</b>'), mp4_bytes(32, 32, 4)
    )
    review.add_comment(library, record.video_id, f"</p></div>{HOSTILE}", None)
    html = share.review_page(library, record).decode("utf-8")
    page = Page(html)
    assert {tag for tag, _ in page.tags} <= {
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "main",
        "h1",
        "h2",
        "video",
        "blockquote",
        "dl",
        "dt",
        "dd",
        "div",
        "span",
        "strong",
        "p",
        "footer",
    }
    assert not any(name.startswith("on") for _, attrs in page.tags for name in attrs)
    assert HOSTILE in page.text and f"</p></div>{HOSTILE}" in page.text, "shown as written, not run"
    assert '<b onmouseover="x">eve</b>' in page.text


def test_a_video_over_the_limit_is_refused_with_its_size(tmp_path: Path) -> None:
    library = Library(tmp_path)
    record = archived(library, make_record(1), b"")
    with library.path(record.video_path).open("wb") as big:  # type: ignore[union-attr]
        big.truncate(61 * 1024 * 1024)  # sparse: no disk used
    assert "61.0 MB" in str(share.share_refusal(library, record))
    with pytest.raises(share.ShareTooLarge, match=r"The video is 61\.0 MB; .* up to 60\.0 MB"):
        share.review_page(library, record)
    not_here = library.add(make_record(2))
    assert "Only a finished video" in str(share.share_refusal(library, not_here))


# The pages (AppTest on the real app and library).


@pytest.fixture
def library(data_dir: Path) -> Library:
    return Library(data_dir)


def test_the_gallery_filters_by_review_status_and_folder(data_dir: Path, library: Library) -> None:
    for n, (status, folder) in enumerate(
        [("approved", "Spring"), ("draft", "Spring"), ("approved", ""), ("in_review", "")]
    ):
        library.add(make_record(n, provider="elsewhere", prompt=f"Clip {n} of the launch"))
        review.set_review_status(library, f"video_{n:06d}", status, None)
        review.file_in_folder(library, f"video_{n:06d}", folder, None)
    at = open_page(new_session(), "app_pages/gallery.py")
    assert "Showing 1–4 of 4" in texts(at)
    at.selectbox(key="gallery_status").set_value("review:approved")
    at.run()
    assert "Showing 1–2 of 2" in texts(at) and "Clip 0" in texts(at) and "Clip 1" not in texts(at)
    at.selectbox(key="gallery_folder").set_value("Spring")
    at.run()
    assert "Showing 1–1 of 1" in texts(at) and "Clip 0" in texts(at) and "Approved" in texts(at)


def test_a_comment_shows_as_written_and_a_refused_one_stays_in_its_box(data_dir: Path, library: Library) -> None:
    video_id = library.add(make_record(1, provider="elsewhere")).video_id
    at = open_page(new_session(), "app_pages/video.py", video=video_id)
    box = f"comment_text_{video_id}"
    at.text_area(key=box).set_value(HOSTILE)
    button(at, "Comment").click()
    at.run()
    [comment] = [m for m in at.markdown if "onerror" in as_read(str(m.value))]
    assert HOSTILE in as_read(str(comment.value)) and "<script>" not in str(comment.value), "escaped Markdown"
    assert at.text_area(key=box).value == "", "the box is cleared once it is saved"

    too_long = "word " * 2_001
    at.text_area(key=box).set_value(too_long)
    button(at, "Comment").click()
    at.run()
    assert "10,000 characters" in texts(at)
    assert at.text_area(key=box).value == too_long, "nothing typed is lost"
    assert len(review.comments(library, video_id)) == 1
    at.selectbox(key=f"review_status_{video_id}").set_value("approved")
    at.run()
    assert (library.get(video_id) or make_record(0)).review_status == "approved"
    assert f"{time.strftime('%Y-%m-%d')}" in texts(at) and "Approved" in texts(at)


def test_signed_in_a_reviewer_comments_on_someone_elses_video_but_cannot_approve_it(
    data_dir: Path, library: Library
) -> None:
    video_id = library.add(make_record(1, provider="elsewhere", owner="Bob")).video_id
    bobs = review.add_comment(library, video_id, "Bob's own note", Actor("Bob", signed_in=True))
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["SORA_STUDIO_PASSCODE_HASH"] = access.hash_passcode("team passcode")
    at.run()
    at.text_input(key="sign_in_name").input("Ann")
    at.text_input(key="sign_in_passcode").input("team passcode")
    at.button[0].click()
    at.run()
    open_page(at, "app_pages/video.py", video=video_id)
    status = at.selectbox(key=f"review_status_{video_id}")
    assert status.disabled and "File in a folder" not in [b.label for b in at.button]
    assert f"comment_delete_{bobs.id}" not in [b.key for b in at.button], "Bob's comment is Bob's to delete"

    at.text_area(key=f"comment_text_{video_id}").set_value("Ann: the ending is too fast.")
    button(at, "Comment").click()
    at.run()
    [anns] = [c for c in review.comments(library, video_id) if c.author == "Ann"]
    assert f"comment_delete_{anns.id}" in [b.key for b in at.button], "her own, hers to delete"
    at.button(key=f"comment_delete_{anns.id}").click()
    at.run()
    assert [c.author for c in review.comments(library, video_id)] == ["Bob"]
