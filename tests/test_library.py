"""The library: SQLite plus files, paging, filters, lineage, deletes, migrations and concurrency."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from studio.library import MIGRATIONS, SCHEMA_VERSION, Filters, Library, VideoRecord
from tests.waiting import join_all


def make_record(n: int, **overrides: object) -> VideoRecord:
    values: dict[str, object] = dict(
        video_id=f"video_{n:06d}", provider="local", kind="generate", status="completed",
        prompt=f"Shot {n}: a {'red' if n % 2 else 'blue'} kite over the dunes", model="sora-2",
        size="720x1280", seconds="4", created_at=1_700_000_000.0 + n, cost_usd=0.4,
    )
    values.update(overrides)
    return VideoRecord(**values)  # type: ignore[arg-type]


def seed(library: Library, count: int) -> None:
    statuses = ["completed", "failed", "queued"]
    for n in range(count):
        library.add(make_record(n, status=statuses[n % 3], model="sora-2-pro" if n % 5 == 0 else "sora-2",
                                favourite=n % 10 == 0))


def test_records_round_trip_with_history(tmp_path: Path) -> None:
    library = Library(tmp_path)
    library.add(make_record(1, status="queued"), note="submitted")
    library.update("video_000001", status="in_progress", progress=40)
    library.update("video_000001", status="completed", progress=100)
    record = library.get("video_000001")
    assert record is not None and record.status == "completed" and record.progress == 100
    assert [(h.status, h.progress) for h in library.history("video_000001")] == [
        ("queued", 0), ("in_progress", 40), ("completed", 100)]
    assert library.get("video_missing") is None


def test_pages_walk_the_whole_library_newest_first(tmp_path: Path) -> None:
    library = Library(tmp_path)
    seed(library, 300)
    seen, cursor = [], None
    while True:
        page = library.page(limit=24, before=cursor)
        seen += [r.video_id for r in page.records]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == 300 and len(set(seen)) == 300
    assert seen[0] == "video_000299" and seen[-1] == "video_000000"


def test_filters_by_status_model_text_and_favourites(tmp_path: Path) -> None:
    library = Library(tmp_path)
    seed(library, 300)
    assert library.count(Filters(status="failed")) == 100
    assert library.count(Filters(model="sora-2-pro")) == 60
    assert library.count(Filters(favourites_only=True)) == 30
    assert library.count(Filters(text="red kite")) == 150
    assert library.count(Filters(text='"Shot 12:"')) == 1, "a quoted phrase"
    assert library.count(Filters(text='Shot 12:')) == 3, "words: also Shot 112: and Shot 212:"
    both = library.page(Filters(status="completed", model="sora-2-pro"), limit=100).records
    assert both and all(r.status == "completed" and r.model == "sora-2-pro" for r in both)
    assert library.models() == ["sora-2", "sora-2-pro"]


def test_titles_and_tags_are_searchable(tmp_path: Path) -> None:
    library = Library(tmp_path)
    library.add(make_record(1))
    library.update("video_000001", title="Launch teaser", tags="spring, hero")
    assert [r.video_id for r in library.page(Filters(text="teaser")).records] == ["video_000001"]
    assert library.count(Filters(text="hero")) == 1
    assert library.count(Filters(text="autumn")) == 0


def test_gallery_queries_use_indexes(tmp_path: Path) -> None:
    library = Library(tmp_path)
    seed(library, 50)
    ran: list[str] = []
    library._connection().set_trace_callback(ran.append)  # the SQL the library really runs, values bound in
    cursor = library.page(limit=5).next_cursor
    for filters in (Filters(), Filters(status="failed"), Filters(model="sora-2-pro"), Filters(favourites_only=True),
                    Filters(owner="ana")):
        library.page(filters, limit=5)
        library.page(filters, limit=5, before=cursor)
        library.count(filters)
    library.children("video_000001")
    library.variants("g1")
    library._connection().set_trace_callback(None)
    queries = [sql for sql in ran if sql.startswith("SELECT") and " FROM videos " in sql]
    assert len(queries) >= 17, ran
    for sql in queries:
        plan = [str(row[-1]) for row in library._connection().execute("EXPLAIN QUERY PLAN " + sql)]
        on_videos = [step for step in plan if step.startswith(("SCAN videos", "SEARCH videos"))]
        # A filter seeks through an index; the unfiltered newest-first list (less the trash) may walk one in order.
        wanted = "SEARCH videos USING" if " WHERE " in sql.replace(" WHERE trashed_at IS NULL", "") else "USING"
        assert on_videos and all(wanted in step for step in on_videos), (sql, plan)


def test_pages_across_videos_made_in_the_same_second(tmp_path: Path) -> None:
    library = Library(tmp_path)
    # Variants: three takes a second, as a provider stamps them, so pages split inside a second.
    for n in range(30):
        library.add(make_record(n, created_at=1_700_000_000.0 + n // 3, variant_group=f"g{n // 3}",
                                variant_index=n % 3))
    for limit in (2, 4, 5):
        seen, cursor = [], None
        while True:
            page = library.page(limit=limit, before=cursor)
            seen += [r.video_id for r in page.records]
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == [f"video_{n:06d}" for n in reversed(range(30))], f"pages of {limit}: a repeat or a gap"


def test_lineage_and_variant_groups(tmp_path: Path) -> None:
    library = Library(tmp_path)
    library.add(make_record(1))
    library.add(make_record(2, kind="remix", parent_video_id="video_000001"))
    library.add(make_record(3, kind="extend", parent_video_id="video_000001"))
    for i in range(3):
        library.add(make_record(10 + i, variant_group="g1", variant_index=i))
    assert [r.video_id for r in library.children("video_000001")] == ["video_000002", "video_000003"]
    assert [r.variant_index for r in library.variants("g1")] == [0, 1, 2]


def test_remove_deletes_row_and_files_together(tmp_path: Path) -> None:
    library = Library(tmp_path)
    library.add(make_record(1))
    folder = library.folder_for("video_000001")
    folder.mkdir(parents=True)
    (folder / "video.mp4").write_bytes(b"mp4")
    library.update("video_000001", video_path=library.relative(folder / "video.mp4"))
    assert library.remove("video_000001")
    assert library.get("video_000001") is None and not folder.exists()
    assert library.history("video_000001") == []


def test_unsafe_provider_ids_never_become_paths(tmp_path: Path) -> None:
    library = Library(tmp_path)
    folder = library.folder_for("../../etc/passwd")
    assert folder.parent == library.files_dir and ".." not in folder.name


def test_total_spent_counts_completed_jobs_only(tmp_path: Path) -> None:
    library = Library(tmp_path)
    library.add(make_record(1, cost_usd=0.4))
    library.add(make_record(2, cost_usd=1.2))
    library.add(make_record(3, status="failed", cost_usd=5.0))
    assert library.total_spent() == pytest.approx(1.6)


def test_spend_is_a_running_total_per_person_that_deletes_do_not_refund(tmp_path: Path) -> None:
    library = Library(tmp_path)
    library.add(make_record(1, status="in_progress", cost_usd=0.4, owner="ana"))
    assert library.total_spent() == 0  # nothing is paid for until it completes
    library.update("video_000001", status="completed")
    library.add(make_record(2, cost_usd=1.2, owner="ben"))
    library.update("video_000002", cost_usd=1.0)  # a corrected price replaces the old one
    library.add(make_record(3, cost_usd=0.5, owner="ana"))
    assert library.spend_by_owner() == pytest.approx({"ana": 0.9, "ben": 1.0})
    assert library.total_spent("ana") == pytest.approx(0.9) and library.total_spent("nobody") == 0
    library.remove("video_000003")
    assert library.total_spent() == pytest.approx(1.9)  # the deleted video was still paid for
    assert Library(tmp_path).total_spent() == pytest.approx(1.9)  # kept in the library, not in memory


def test_the_model_list_follows_adds_renames_and_deletes(tmp_path: Path) -> None:
    library = Library(tmp_path)
    library.add(make_record(1, model="sora-2"))
    library.add(make_record(2, model="sora-2"))
    library.add(make_record(3, model="wan"))
    library.update("video_000003", model="ltx")
    assert library.models() == ["ltx", "sora-2"]
    library.remove("video_000001")
    assert library.models() == ["ltx", "sora-2"]
    library.remove("video_000002")
    assert library.models() == ["ltx"]
    library.trash("video_000003")
    assert library.models() == [], "the Model filter offers no model whose videos are all in the trash"
    library.restore("video_000003")
    assert library.models() == ["ltx"]


def test_an_old_library_is_migrated_in_place(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "library.sqlite3")
    conn.executescript(MIGRATIONS[0] + "\nPRAGMA user_version = 1;")
    conn.execute(
        "INSERT INTO videos (video_id, provider, kind, status, prompt, model, size, seconds, created_at, updated_at,"
        " cost_usd) VALUES ('video_old1', 'local', 'generate', 'completed', 'A lighthouse in fog', 'sora-2',"
        " '720x1280', '4', 1, 1, 0.4)")
    conn.commit()
    conn.close()
    library = Library(tmp_path)
    assert library.schema_version == SCHEMA_VERSION == 12
    assert [r.video_id for r in library.page(Filters(text="lighthouse")).records] == ["video_old1"]
    old = library.get("video_old1")
    assert old is not None and old.prompt == "A lighthouse in fog" and old.params == {} and old.seed is None
    assert old.base_url is None  # made before the studio kept the server: followed on whichever it names
    assert old.trashed_at is None  # in the library, not the trash
    assert old.extra == {} and library.absent_modes("http://gpu-box:8000/v1") == set()
    # The running totals start from what the old library holds.
    assert old.owner == "" and library.total_spent() == pytest.approx(0.4) and library.models() == ["sora-2"]


def test_extra_parameters_and_the_seed_are_kept(tmp_path: Path) -> None:
    library = Library(tmp_path)
    library.add(make_record(1, params={"seed": 7, "negative_prompt": "blur"}))
    library.update("video_000001", seed=7, params={"seed": 7, "negative_prompt": "blur", "guidance_scale": 4.5})
    record = Library(tmp_path).get("video_000001")
    assert record is not None and record.seed == 7
    assert record.params == {"seed": 7, "negative_prompt": "blur", "guidance_scale": 4.5}


def test_many_threads_write_at_once(tmp_path: Path) -> None:
    library = Library(tmp_path)
    failures: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for n in range(offset, offset + 25):
                library.add(make_record(n, status="queued"))
                library.update(f"video_{n:06d}", status="in_progress", progress=50)
                library.update(f"video_{n:06d}", favourite=True)
        except BaseException as exc:  # collected and re-raised in the main thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(k * 100,)) for k in range(8)]
    for thread in threads:
        thread.start()
    join_all(threads, what="eight threads writing to one library")
    assert failures == []
    assert library.count() == 200
    assert library.count(Filters(status="in_progress", favourites_only=True)) == 200


def open_library_files(library: Library) -> int:
    """How many files of this library's database the process holds open (the database, its WAL and index)."""
    fds = Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if str(library.db_path) in str(fd.resolve()))


def test_short_lived_threads_see_every_earlier_write_and_leave_no_connection_open(tmp_path: Path) -> None:
    """Streamlit runs each rerun on a new thread: a server up for days must not pile up open files."""
    library = Library(tmp_path)
    seen: list[int] = []

    def rerun(n: int) -> None:
        library.add(make_record(n))
        seen.append(library.count())

    for n in range(100):
        thread = threading.Thread(target=rerun, args=(n,))
        thread.start()
        join_all([thread], what=f"rerun {n} to write and count")
        if n == 0:
            after_first = open_library_files(library)
    assert seen == list(range(1, 101))
    assert open_library_files(library) <= after_first


def test_part_files_a_killed_download_left_are_swept_on_open(tmp_path: Path) -> None:
    import os
    import time

    library = Library(tmp_path)
    folder = library.folder_for("video_abc12345")
    folder.mkdir(parents=True)
    orphan, live, kept = folder / ".video.mp4.1234.part", folder / ".video.mp4.5678.part", folder / "video.mp4"
    for path in (orphan, live, kept):
        path.write_bytes(b"x" * 1024)
    two_hours_ago = time.time() - 7200
    os.utime(orphan, (two_hours_ago, two_hours_ago))
    os.utime(kept, (two_hours_ago, two_hours_ago))
    Library(tmp_path)
    assert not orphan.exists(), "an orphaned part file is swept"
    assert live.exists() and kept.exists(), "a download still being written, and finished files, stay"
