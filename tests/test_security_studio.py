"""The studio against hostile input, without a browser (issue 21): what a batch ZIP holds, what an exported
snippet runs, credentials in a base URL, a full disk and a killed download. The browser half is
tests/test_e2e_xss.py."""

from __future__ import annotations

import ast
import contextlib
import csv
import io
import re
import sqlite3
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath

import pytest
from openai import OpenAI

from localsora.process import LocalsoraProcess, free_port
from studio import batch as batches
from studio import errors
from studio.jobs import Jobs, VideoRequest
from studio.library import Library, VideoRecord
from studio.media.images import fit
from studio.media.upload_limits import REFERENCE_IMAGE
from studio.provider.code_export import python_snippet
from studio.provider.connection_check import check_connection
from studio.provider.discovery import list_models
from studio.provider.profiles import load_providers
from tests.conftest import local_jobs, sdk_client, wait_for_video
from tests.media import decode_mp4, png_bytes
from tests.test_library import make_record
from tests.test_pages import new_session, open_page, sidebar_text
from tests.waiting import wait_until

FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)",
            "\t=1+1", "\r=1+1"]


def archived(library: Library, record: VideoRecord) -> VideoRecord:
    """`record` in the library with an MP4 on disk (a few bytes stand in: the ZIP stores files as they are)."""
    library.add(record)
    folder = library.folder_for(record.video_id)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "video.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    updated = library.update(record.video_id, video_path=library.relative(folder / "video.mp4"))
    assert updated is not None
    return updated


def batch_of(records: list[VideoRecord], **row_fields: object) -> batches.Batch:
    rows = []
    for position, record in enumerate(records):
        values: dict[str, object] = dict(batch_id="batch_1", position=position, line=position + 2,
                                         prompt=record.prompt, model=record.model, size=record.size,
                                         seconds=record.seconds, params={}, image_path=None, state="submitted",
                                         video_id=record.video_id, requested_at=0.0, error=None, video=record)
        values.update(row_fields)
        rows.append(batches.BatchRow(**values))  # type: ignore[arg-type]
    return batches.Batch(batch_id="batch_1", name="b", tag="batch-b-1", provider="local", owner="", state="finished",
                         pace=batches.Pace(), not_before=0.0, last_error=None, created_at=0.0, updated_at=0.0,
                         rows=rows)


def read_zip(library: Library, batch: batches.Batch) -> tuple[list[str], list[list[str]]]:
    buffer = io.BytesIO()
    batches.write_zip(library, batch, buffer)
    with zipfile.ZipFile(buffer) as archive:
        names = archive.namelist()
        manifest = archive.read("batch.csv").decode()
    return names, list(csv.reader(io.StringIO(manifest)))


def test_a_batch_csv_cell_that_starts_a_formula_is_written_as_text(tmp_path: Path) -> None:
    """A prompt, model or size a spreadsheet would run (`=HYPERLINK(...)`, `@SUM`, a leading tab) gets OWASP's
    leading single quote in batch.csv; ordinary cells are left as they were."""
    library = Library(tmp_path)
    records = [archived(library, make_record(n, prompt=formula, model=formula, size=formula))
               for n, formula in enumerate(FORMULAS)]
    records.append(archived(library, make_record(99, prompt="A calm sea at dawn")))
    _, (header, *rows) = read_zip(library, batch_of(records))
    prompt, model, size = (header.index(name) for name in ("prompt", "model", "size"))
    for row, formula in zip(rows, FORMULAS, strict=False):
        assert [row[prompt], row[model], row[size]] == ["'" + formula] * 3
    assert rows[-1][prompt] == "A calm sea at dawn" and rows[-1][model] == "sora-2"


def test_a_hostile_provider_id_cannot_name_a_zip_entry_outside_its_folder(tmp_path: Path) -> None:
    """A provider's id ends up in each entry's name: `/../x`, `..\\..\\x` or an absolute path stay one plain
    file name at the ZIP's top."""
    library = Library(tmp_path)
    hostile_ids = ["video_abc/../../evil", "video_/../x", "video_..\\..\\x", "/etc/passwd", "video_a:b\x00c"]
    records = []
    for n, video_id in enumerate(hostile_ids):
        record = make_record(n, prompt=f"Shot {n}")
        record.video_id = f"video_{n:06d}"
        stored = archived(library, record)
        stored.video_id = video_id  # the id the provider gave; its files are where the library keeps them
        records.append(stored)
    names, _ = read_zip(library, batch_of(records))
    videos = [name for name in names if name != "batch.csv"]
    assert len(videos) == len(hostile_ids)
    for name in videos:
        path = PurePosixPath(name)
        assert len(path.parts) == 1 and ".." not in name and "\\" not in name and ":" not in name, name


# ---------------------------------------------------------------- the exported snippet


HOSTILE_STRING = 'x"); import os; os.system("touch pwned"); ("'


def test_an_exported_snippet_keeps_a_hostile_model_source_id_and_file_name_as_strings() -> None:
    """A model, a source id or a file name with a quote or a line break in it stays one string literal: the
    snippet runs no code of theirs."""
    provider = load_providers(CONFIG)["compatible"]
    create = python_snippet(provider, VideoRequest(prompt="p", model=HOSTILE_STRING, size="1280x720", seconds="4",
                                                   reference=fit(png_bytes(64, 64), "1280x720")),
                            image_name="a\nimport os; os.system('touch pwned')\n.png")
    remix = python_snippet(provider, VideoRequest(prompt="p", kind="remix", source_video_id=HOSTILE_STRING))
    extend = python_snippet(provider, VideoRequest(prompt="p", kind="extend", source_video_id="v", seconds="8",
                                                   added_seconds=HOSTILE_STRING))
    for code in (create, remix, extend):
        tree = ast.parse(code)
        called = {ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
        assert "os.system" not in called, code
        assert HOSTILE_STRING in {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)}, code


# ---------------------------------------------------------------- credentials in a base URL


PASSWORD = "hunter2-never-shown"
WITH_CREDENTIALS = f"http://alice:{PASSWORD}@127.0.0.1:{{port}}/v1"
CONFIG = {"SORA_STUDIO_COMPATIBLE_URL": "http://bob:" + PASSWORD + "@gpu.example:8000/v1"}


def test_a_base_urls_credentials_are_never_shown() -> None:
    """The five places a base URL was shown (the host in every message, the models-list errors, the DNS error,
    the snippet, a video made elsewhere) leave out its user name and password."""
    provider = load_providers(CONFIG)["compatible"]
    assert provider.host == "gpu.example:8000"
    snippet = python_snippet(provider, VideoRequest(prompt="p"))
    assert PASSWORD not in snippet and "http://***@gpu.example:8000/v1" in snippet and ast.parse(snippet)

    nobody_there = OpenAI(base_url=WITH_CREDENTIALS.format(port=free_port()), api_key="k", max_retries=0)
    with pytest.raises(errors.BackendUnreachable) as unreachable:
        list_models(nobody_there)
    assert PASSWORD not in str(unreachable.value) and "***@127.0.0.1" in str(unreachable.value)

    no_such_host = load_providers({"SORA_STUDIO_COMPATIBLE_URL": f"http://bob:{PASSWORD}@no-such-host.invalid/v1",
                                   "SORA_STUDIO_COMPATIBLE_API_KEY": "k"})["compatible"]
    report = check_connection(no_such_host, timeout=5)
    assert not report.ok and report.problem == "dns" and PASSWORD not in f"{report.headline} {report.reason}"


def test_a_base_urls_credentials_are_never_stored(tmp_path: Path) -> None:
    """The library keeps which server made a video (and what that server lacks), never the password typed into
    its URL; a video made there is still followed there."""
    library = Library(tmp_path)
    provider = load_providers(CONFIG)["compatible"]
    assert provider.base_url is not None
    library.add(make_record(1, provider="compatible", base_url=provider.base_url))
    library.mark_mode_absent(provider.base_url, "remix", 404)
    database = sqlite3.connect(library.db_path)
    stored = [str(row) for table in ("videos", "absent_modes") for row in database.execute(f"SELECT * FROM {table}")]
    database.close()
    assert stored and not any(PASSWORD in row for row in stored), stored
    assert library.absent_modes(provider.base_url) == {"remix"}
    record = library.get("video_000001")
    assert record is not None and record.base_url == "http://***@gpu.example:8000/v1"
    assert Jobs(provider, library).made_elsewhere(record) is None


# ---------------------------------------------------------------- a full disk, a killed download


@contextlib.contextmanager
def full_disk(folder: Path) -> Iterator[Path]:
    """`folder` on a small file system of its own (a tmpfs), filled to the last byte: a real ENOSPC. Yields the
    filler file; deleting it makes room. Needs the right to mount (root)."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"a small tmpfs cannot be mounted here: {mounted.stderr.decode().strip()}")
    try:
        filler = folder / "filler"
        with open(filler, "wb") as out, contextlib.suppress(OSError):
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        yield filler
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def test_a_full_disk_is_said_with_where_on_the_card_and_sidebar_and_the_download_follows_once_there_is_room(
        localsora: LocalsoraProcess, data_dir: Path) -> None:
    jobs = local_jobs(localsora, data_dir)
    [record] = jobs.submit(VideoRequest(prompt="A lighthouse at dusk, slow pan right", size="1280x720"))
    assert wait_for_video(sdk_client(localsora), record.video_id).status == "completed"
    with full_disk(jobs.library.files_dir) as filler:
        jobs.refresh_active()  # the worker's tick: it raised a raw OSError 28 and recorded nothing
        stuck = jobs.library.get(record.video_id)
        assert stuck is not None and stuck.status == "completed" and not stuck.is_archived
        folder = jobs.library.folder_for(record.video_id)
        assert stuck.last_poll_error is not None and stuck.last_poll_error.startswith("The disk is full") \
            and str(folder) in stuck.last_poll_error, stuck.last_poll_error
        assert not list(folder.glob("*.part")) and not list(folder.glob(".*.part")), "no part file left"

        at = open_page(new_session(), "app_pages/gallery.py")
        assert "1 finished video not downloaded yet" in sidebar_text(at) and "The disk is full" in sidebar_text(at)
        assert any("The disk is full" in bar.proto.text for bar in at.get("progress")), "the card says why"

        filler.unlink()  # room again: the next tries download it, with nobody asking
        done = wait_until(lambda: jobs.refresh_active() and jobs.library.get(record.video_id),
                          lambda r: r is not None and r.is_archived, what="the download once there is room",
                          deadline=60)
        assert done.last_poll_error is None
        assert decode_mp4(jobs.library.path(done.video_path)).duration == pytest.approx(4, abs=0.05)


STALLED_DOWNLOAD = """
import sys
from studio.jobs import Jobs
from studio.library import Library
from studio.provider.profiles import load_providers
provider = load_providers({"LOCALSORA_URL": sys.argv[1]})["local"]
Jobs(provider, Library(sys.argv[2])).archive(sys.argv[3])
"""


class StallingServer(BaseHTTPRequestHandler):
    """Starts sending a 10 MB video and then sends nothing more: a download that is in flight when it is killed."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(10_000_000))
        self.end_headers()
        self.wfile.write(b"\0" * 100_000)
        self.wfile.flush()
        time.sleep(60)

    def log_message(self, *_: object) -> None:
        pass


def test_a_killed_download_is_retried_at_once_and_its_part_file_swept(localsora: LocalsoraProcess,
                                                                     tmp_path: Path) -> None:
    """A studio killed mid-download left its claim for 120 s and its .part for an hour; the next try (a
    restarted studio) downloads it at once and leaves no part file."""
    jobs = local_jobs(localsora, tmp_path / "data")
    [record] = jobs.submit(VideoRequest(prompt="A kite over dunes at noon", size="1280x720"))
    assert wait_for_video(sdk_client(localsora), record.video_id).status == "completed"
    folder = jobs.library.folder_for(record.video_id)

    stalling = ThreadingHTTPServer(("127.0.0.1", 0), StallingServer)
    stalling.daemon_threads = True
    threading.Thread(target=stalling.serve_forever, daemon=True).start()
    try:
        child = subprocess.Popen([sys.executable, "-c", STALLED_DOWNLOAD, f"http://127.0.0.1:{stalling.server_port}",
                                  str(tmp_path / "data"), record.video_id], cwd=Path(__file__).resolve().parent.parent)
        try:
            wait_until(lambda: list(folder.glob(".*.part")) if folder.exists() else [], what="the download to start",
                       deadline=60)
        finally:
            child.kill()
            child.wait()
    finally:
        stalling.shutdown()
    claimed = jobs.library.get(record.video_id)
    assert claimed is not None and claimed.next_poll_at > time.time() + 60, "the killed download held its lease"

    done = jobs.archive(record.video_id)
    assert done.is_archived, "the retry did not wait out the lease"
    assert decode_mp4(jobs.library.path(done.video_path)).duration == pytest.approx(4, abs=0.05)
    assert not list(folder.glob(".*.part")), "the killed download's part file is swept"


def test_a_status_no_one_expected_is_text_in_the_cards_html() -> None:
    """A card's badge sits in its HTML-enabled Markdown: a status a server made up (`<img onerror>`) is escaped
    there, as the model and size are; a known one keeps its label."""
    from components import video_card

    hostile = video_card.badge_markup(make_record(1, status="<img src=x onerror=alert(1)>"))
    assert re.search(r"(?<!\\)[<>\[\]]", hostile.removeprefix(":gray-badge[").removesuffix("]")) is None, hostile
    assert video_card.badge_markup(make_record(2, status="completed")) == ":green-badge[Ready]"


def test_settings_says_20_mb_for_20_mib_as_the_upload_limits_do(data_dir: Path) -> None:
    """One megabyte everywhere: Settings showed 20 MiB of library as "21.0 MB" while the uploaders call the same
    20 MiB limit "20 MB"."""
    library = Library(data_dir)
    folder = library.folder_for("video_big")
    folder.mkdir(parents=True)
    with open(folder / "video.mp4", "wb") as big:
        big.truncate(REFERENCE_IMAGE.max_bytes - library.disk_usage())  # the library is the limit's size in all
    assert REFERENCE_IMAGE.summary.endswith("up to 20 MB")
    at = open_page(new_session(), "app_pages/settings.py")
    assert any("· 20 MB on disk" in caption.value for caption in at.caption), [c.value for c in at.caption]
