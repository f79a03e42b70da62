"""The studio against hostile input, without a browser (issue 21): what a batch ZIP holds, what an exported
snippet runs, credentials in a base URL, a full disk and a killed download. The browser half is
tests/test_e2e_xss.py."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path, PurePosixPath

from studio import batch as batches
from studio.library import Library, VideoRecord
from tests.test_library import make_record

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
