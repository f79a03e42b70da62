"""The library: the studio's own record of every video (SQLite in WAL mode, plus a files folder).

It outlives provider expiry. It is safe for many Streamlit sessions and threads: each thread gets its own
connection, and SQLite serialises the writes. Paths are stored relative to the data dir, so the folder
can move.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from studio.access import Actor, require_owner
from studio.prompts import without_emphasis
from studio.provider.url_redaction import redacted_url

ACTIVE_STATUSES = ("queued", "in_progress")
STATUSES = ("queued", "in_progress", "completed", "failed", "timed_out")
SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
TRASH_DAYS = 30  # a video in the trash is removed for good after this long
# A part file untouched this long is no live download's (each chunk written touches it; the SDK times out sooner).
STALE_PART_SECONDS = 3600

# Each entry upgrades the schema by one version; existing libraries run the ones they lack.
MIGRATIONS: list[str] = [
    # 1: videos, their status history, and the indexes the gallery pages through.
    """
    CREATE TABLE videos (
        video_id TEXT PRIMARY KEY,
        provider TEXT NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        progress INTEGER NOT NULL DEFAULT 0,
        prompt TEXT NOT NULL,
        model TEXT NOT NULL,
        size TEXT NOT NULL,
        seconds TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        completed_at REAL,
        expires_at REAL,
        deadline_at REAL,
        parent_video_id TEXT,
        variant_group TEXT,
        variant_index INTEGER,
        reference_path TEXT,
        source_upload_path TEXT,
        cost_usd REAL,
        error_code TEXT,
        error_message TEXT,
        video_path TEXT,
        thumbnail_path TEXT,
        spritesheet_path TEXT,
        remote_deleted INTEGER NOT NULL DEFAULT 0,
        title TEXT NOT NULL DEFAULT '',
        tags TEXT NOT NULL DEFAULT '',
        favourite INTEGER NOT NULL DEFAULT 0,
        next_poll_at REAL NOT NULL DEFAULT 0,
        poll_failures INTEGER NOT NULL DEFAULT 0,
        last_poll_error TEXT
    );
    CREATE INDEX videos_newest ON videos(created_at DESC, video_id DESC);
    CREATE INDEX videos_by_status ON videos(status, created_at DESC);
    CREATE INDEX videos_by_model ON videos(model, created_at DESC);
    CREATE INDEX videos_favourites ON videos(favourite, created_at DESC);
    CREATE INDEX videos_by_parent ON videos(parent_video_id);
    CREATE INDEX videos_by_group ON videos(variant_group);
    CREATE TABLE status_history (
        id INTEGER PRIMARY KEY,
        video_id TEXT NOT NULL REFERENCES videos(video_id) ON DELETE CASCADE,
        status TEXT NOT NULL,
        progress INTEGER NOT NULL,
        at REAL NOT NULL,
        note TEXT
    );
    CREATE INDEX history_by_video ON status_history(video_id, at);
    """,
    # 2: text search over prompt, title and tags (trigram: any 3+ letters match inside words).
    """
    CREATE VIRTUAL TABLE videos_text USING fts5(video_id UNINDEXED, prompt, title, tags, tokenize='trigram');
    INSERT INTO videos_text (video_id, prompt, title, tags) SELECT video_id, prompt, title, tags FROM videos;
    CREATE TRIGGER videos_text_insert AFTER INSERT ON videos BEGIN
        INSERT INTO videos_text (video_id, prompt, title, tags) VALUES (new.video_id, new.prompt, new.title, new.tags);
    END;
    CREATE TRIGGER videos_text_update AFTER UPDATE OF prompt, title, tags ON videos BEGIN
        UPDATE videos_text SET prompt = new.prompt, title = new.title, tags = new.tags
        WHERE video_id = new.video_id;
    END;
    CREATE TRIGGER videos_text_delete AFTER DELETE ON videos BEGIN
        DELETE FROM videos_text WHERE video_id = old.video_id;
    END;
    """,
    # 3: the extra request fields a job was sent with (JSON: seed, negative_prompt, ...), and the seed it used.
    """
    ALTER TABLE videos ADD COLUMN params TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE videos ADD COLUMN seed INTEGER;
    """,
    # 4: every field a provider sent on the video beyond OpenAI's (JSON: inference_time_s, peak_memory_mb, ...).
    """
    ALTER TABLE videos ADD COLUMN extra TEXT NOT NULL DEFAULT '{}';
    """,
    # 5: modes a server answered 404 or 405 for, by its base URL (never a key), so a restart remembers them.
    """
    CREATE TABLE absent_modes (
        base_url TEXT NOT NULL,
        mode TEXT NOT NULL,
        status_code INTEGER NOT NULL,
        learned_at REAL NOT NULL,
        PRIMARY KEY (base_url, mode)
    );
    """,
    # 6: who started each video, and running totals kept by triggers, so no page sums or scans every row:
    # money spent per person (a deleted video was still paid for, so deletes leave it) and videos per model.
    """
    ALTER TABLE videos ADD COLUMN owner TEXT NOT NULL DEFAULT '';
    CREATE INDEX videos_by_owner ON videos(owner, created_at DESC);
    CREATE TABLE spend (owner TEXT PRIMARY KEY, usd REAL NOT NULL);
    INSERT INTO spend (owner, usd) SELECT owner, SUM(cost_usd) FROM videos
        WHERE status = 'completed' AND cost_usd IS NOT NULL GROUP BY owner;
    CREATE TRIGGER spend_insert AFTER INSERT ON videos
    WHEN new.status = 'completed' AND new.cost_usd IS NOT NULL BEGIN
        INSERT INTO spend (owner, usd) VALUES (new.owner, new.cost_usd)
            ON CONFLICT (owner) DO UPDATE SET usd = usd + excluded.usd;
    END;
    CREATE TRIGGER spend_update AFTER UPDATE OF status, cost_usd, owner ON videos BEGIN
        UPDATE spend SET usd = usd - old.cost_usd
            WHERE owner = old.owner AND old.status = 'completed' AND old.cost_usd IS NOT NULL;
        INSERT INTO spend (owner, usd) SELECT new.owner, new.cost_usd
            WHERE new.status = 'completed' AND new.cost_usd IS NOT NULL
            ON CONFLICT (owner) DO UPDATE SET usd = usd + excluded.usd;
    END;
    CREATE TABLE model_counts (model TEXT PRIMARY KEY, videos INTEGER NOT NULL);
    INSERT INTO model_counts (model, videos) SELECT model, COUNT(*) FROM videos GROUP BY model;
    CREATE TRIGGER model_counts_insert AFTER INSERT ON videos BEGIN
        INSERT INTO model_counts (model, videos) VALUES (new.model, 1)
            ON CONFLICT (model) DO UPDATE SET videos = videos + 1;
    END;
    CREATE TRIGGER model_counts_delete AFTER DELETE ON videos BEGIN
        UPDATE model_counts SET videos = videos - 1 WHERE model = old.model;
        DELETE FROM model_counts WHERE model = old.model AND videos <= 0;
    END;
    CREATE TRIGGER model_counts_update AFTER UPDATE OF model ON videos WHEN new.model IS NOT old.model BEGIN
        UPDATE model_counts SET videos = videos - 1 WHERE model = old.model;
        DELETE FROM model_counts WHERE model = old.model AND videos <= 0;
        INSERT INTO model_counts (model, videos) VALUES (new.model, 1)
            ON CONFLICT (model) DO UPDATE SET videos = videos + 1;
    END;
    """,
    # 7: batch queues (a batch and its rows, each row following one video) and storyboards (shots kept as JSON).
    # A row is marked 'submitting' before its create is sent, so a restart can tell a create that may have
    # happened from one that never did.
    """
    CREATE TABLE batches (
        batch_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        tag TEXT NOT NULL,
        provider TEXT NOT NULL,
        owner TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL,
        max_concurrent INTEGER NOT NULL,
        per_window INTEGER NOT NULL DEFAULT 0,
        window_seconds REAL NOT NULL DEFAULT 60,
        not_before REAL NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX batches_newest ON batches(created_at DESC);
    CREATE TABLE batch_rows (
        batch_id TEXT NOT NULL REFERENCES batches(batch_id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        line INTEGER NOT NULL,
        prompt TEXT NOT NULL,
        model TEXT NOT NULL,
        size TEXT NOT NULL,
        seconds TEXT NOT NULL,
        params TEXT NOT NULL DEFAULT '{}',
        image_path TEXT,
        state TEXT NOT NULL DEFAULT 'pending',
        video_id TEXT,
        requested_at REAL,
        error TEXT,
        PRIMARY KEY (batch_id, position)
    );
    CREATE INDEX batch_rows_by_state ON batch_rows(state, requested_at);
    CREATE INDEX batch_rows_by_video ON batch_rows(video_id);
    CREATE TABLE storyboards (
        storyboard_id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        provider TEXT NOT NULL,
        owner TEXT NOT NULL DEFAULT '',
        model TEXT NOT NULL,
        size TEXT NOT NULL,
        shots TEXT NOT NULL DEFAULT '[]',
        film_video_id TEXT,
        film_key TEXT,
        rendering INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX storyboards_newest ON storyboards(updated_at DESC);
    CREATE INDEX storyboards_rendering ON storyboards(rendering, provider);
    """,
    # 8: the server each video was made on (its base URL, never a key): a profile pointed at another server since
    # must not poll it there, where its id is unknown.
    """
    ALTER TABLE videos ADD COLUMN base_url TEXT;
    """,
    # 9: the trash (a deleted video is kept, files and all, for TRASH_DAYS, until restored or emptied), and the
    # claim on a storyboard's render step, held in SQLite so two studio processes never step one board at once.
    """
    ALTER TABLE videos ADD COLUMN trashed_at REAL;
    CREATE INDEX videos_trashed ON videos(trashed_at);
    ALTER TABLE storyboards ADD COLUMN claimed_by TEXT;
    ALTER TABLE storyboards ADD COLUMN claimed_until REAL NOT NULL DEFAULT 0;
    """,
    # 10: the provider each person connected in Settings, so a reload keeps it: its kind and settings, never a key
    # (`key_name` says which key to ask for again).
    """
    CREATE TABLE connections (
        owner TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        settings TEXT NOT NULL,
        key_name TEXT,
        saved_at REAL NOT NULL
    );
    """,
    # 11: review: each video's review status (draft until someone moves it) and folder (a campaign; '' for none),
    # indexed for the gallery's filters; comments; and who moved the review status when (its history).
    """
    ALTER TABLE videos ADD COLUMN review_status TEXT NOT NULL DEFAULT 'draft';
    ALTER TABLE videos ADD COLUMN folder TEXT NOT NULL DEFAULT '';
    CREATE INDEX videos_by_review ON videos(review_status, created_at DESC);
    CREATE INDEX videos_by_folder ON videos(folder, created_at DESC);
    CREATE TABLE comments (
        id INTEGER PRIMARY KEY,
        video_id TEXT NOT NULL REFERENCES videos(video_id) ON DELETE CASCADE,
        author TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX comments_by_video ON comments(video_id, created_at);
    CREATE TABLE review_history (
        id INTEGER PRIMARY KEY,
        video_id TEXT NOT NULL REFERENCES videos(video_id) ON DELETE CASCADE,
        review_status TEXT NOT NULL,
        author TEXT NOT NULL,
        at REAL NOT NULL
    );
    CREATE INDEX review_history_by_video ON review_history(video_id, at);
    """,
    # 12: settings shared by everyone on the server, one JSON value a name (the brand kit).
    """
    CREATE TABLE shared_settings (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        saved_at REAL NOT NULL
    );
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass
class VideoRecord:
    video_id: str
    provider: str
    kind: str  # generate | image | remix | edit | extend
    status: str
    prompt: str
    model: str
    size: str
    seconds: str  # the video's whole length, as the provider says: for an extension, its source's plus what it added
    created_at: float
    updated_at: float = 0.0
    progress: int = 0
    completed_at: float | None = None
    expires_at: float | None = None
    deadline_at: float | None = None
    parent_video_id: str | None = None
    variant_group: str | None = None
    variant_index: int | None = None
    reference_path: str | None = None
    source_upload_path: str | None = None
    cost_usd: float | None = None
    error_code: str | None = None
    error_message: str | None = None
    video_path: str | None = None
    thumbnail_path: str | None = None
    spritesheet_path: str | None = None
    remote_deleted: bool = False
    title: str = ""
    tags: str = ""
    favourite: bool = False
    next_poll_at: float = 0.0
    poll_failures: int = 0
    last_poll_error: str | None = None
    params: dict[str, Any] = field(default_factory=dict)  # extra request fields, sent again on Retry
    seed: int | None = None  # the seed the provider says it used, when it says
    extra: dict[str, Any] = field(default_factory=dict)  # fields the provider sent beyond OpenAI's, kept as sent
    owner: str = ""  # who started it on a shared server; "" when nobody said
    base_url: str | None = None  # the server it was made on; None for records from before migration 8
    trashed_at: float | None = None  # when it was moved to the trash; None while in the library
    review_status: str = "draft"  # a key of studio.review.REVIEW_STATUSES
    folder: str = ""  # the folder (campaign) it is filed in; "" for none

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_archived(self) -> bool:
        return self.video_path is not None

    @property
    def tag_list(self) -> list[str]:
        return [t for t in (s.strip() for s in self.tags.split(",")) if t]

    @property
    def display_title(self) -> str:
        return self.title or (without_emphasis(self.prompt.splitlines()[0])[:80] if self.prompt else self.video_id)


_COLUMNS = [f.name for f in fields(VideoRecord)]
_BOOLEANS = {"remote_deleted", "favourite"}
_JSON = {"params", "extra"}


@dataclass(frozen=True)
class Filters:
    status: str | None = None
    model: str | None = None
    text: str = ""
    favourites_only: bool = False
    provider: str | None = None
    owner: str | None = None  # None: everyone's
    trashed: bool = False  # the trash instead of the library
    sort: str = "newest"  # a key of SORTS
    review_status: str | None = None  # a key of studio.review.REVIEW_STATUSES; None: any
    folder: str | None = None  # None: every folder; "": filed in none


# How a page of videos can be ordered: (SQL expression, direction); pages go on from (its value, video_id).
SORTS = {"newest": ("created_at", "DESC"), "oldest": ("created_at", "ASC"),
         "longest": ("CAST(seconds AS REAL)", "DESC"), "most expensive": ("COALESCE(cost_usd, 0)", "DESC")}


@dataclass(frozen=True)
class Page:
    records: list[VideoRecord]
    next_cursor: tuple[float, str] | None  # pass back as `before` for the next (older) page


@dataclass(frozen=True)
class SavedConnection:
    """A provider connected in Settings, as kept across reloads: never its key, only which key it needs."""

    kind: str
    settings: dict[str, str]  # config key -> value, no key among them
    key_name: str | None = None  # the key to ask for again, if it had one


@dataclass
class HistoryEntry:
    status: str
    progress: int
    at: float
    note: str | None = field(default=None)


class Library:
    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.files_dir = self.data_dir / "files"
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.data_dir / "library.sqlite3"
        self._local = threading.local()
        self._pooled_connections = _ConnectionPool(self._open_connection)
        self._migrate()
        self._sweep_partial_downloads()

    def _sweep_partial_downloads(self) -> None:
        """Remove `*.part` files a killed download left behind. One still being written by another session
        (a new part file, younger than STALE_PART_SECONDS) is left alone."""
        cutoff = time.time() - STALE_PART_SECONDS
        for partial in self.files_dir.glob("*/*.part"):
            with contextlib.suppress(OSError):  # gone already: another session swept it
                if partial.stat().st_mtime < cutoff:
                    partial.unlink()

    # Connections: one per thread at a time. Streamlit runs every rerun on a new thread, so a thread's connection
    # goes back to a pool when the thread ends, rather than opening one (about 0.3 ms) on every rerun.
    def _connection(self) -> sqlite3.Connection:
        lease = getattr(self._local, "lease", None)
        if lease is None:
            lease = self._local.lease = _Lease(self._pooled_connections)
        return lease.conn

    def _open_connection(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, timeout=15, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=15000")
        return conn

    def _transaction(self) -> _Transaction:
        return _Transaction(self._connection())

    def _migrate(self) -> None:
        conn = self._connection()
        with self._transaction():
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in _statements(script):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")

    @property
    def schema_version(self) -> int:
        return self._connection().execute("PRAGMA user_version").fetchone()[0]

    # Files.
    def folder_for(self, video_id: str) -> Path:
        """The video's own folder. Ids come from providers, so an unsafe one is hashed, never used as a path."""
        name = video_id if SAFE_ID.match(video_id) else "id-" + hashlib.sha256(video_id.encode()).hexdigest()[:32]
        return self.files_dir / name

    def relative(self, path: Path) -> str:
        return path.resolve().relative_to(self.data_dir).as_posix()

    def path(self, relative: str | None) -> Path | None:
        return self.data_dir / relative if relative else None

    # Records.
    def add(self, record: VideoRecord, note: str | None = None) -> VideoRecord:
        now = time.time()
        record.updated_at = record.updated_at or now
        row = _row(record)
        with self._transaction() as conn:
            conn.execute(
                f"INSERT INTO videos ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})", list(row.values())
            )
            conn.execute(
                "INSERT INTO status_history (video_id, status, progress, at, note) VALUES (?, ?, ?, ?, ?)",
                (record.video_id, record.status, record.progress, now, note),
            )
        return record

    def get(self, video_id: str) -> VideoRecord | None:
        row = self._connection().execute(
            f"SELECT {', '.join(_COLUMNS)} FROM videos WHERE video_id = ?", (video_id,)
        ).fetchone()
        return _record(row) if row else None

    def __contains__(self, video_id: str) -> bool:
        return self._connection().execute("SELECT 1 FROM videos WHERE video_id = ?", (video_id,)).fetchone() is not None

    def update(self, video_id: str, note: str | None = None, **changes: Any) -> VideoRecord | None:
        """Change fields; a status or progress change is also written to the history."""
        if not changes:
            return self.get(video_id)
        unknown = set(changes) - set(_COLUMNS)
        if unknown:
            raise ValueError(f"unknown fields: {sorted(unknown)}")
        changes["updated_at"] = time.time()
        values = [_column_value(k, v) for k, v in changes.items()]
        with self._transaction() as conn:
            before = conn.execute("SELECT status, progress FROM videos WHERE video_id = ?", (video_id,)).fetchone()
            if before is None:
                return None
            conn.execute(
                f"UPDATE videos SET {', '.join(f'{k} = ?' for k in changes)} WHERE video_id = ?",
                [*values, video_id],
            )
            status = changes.get("status", before[0])
            progress = changes.get("progress", before[1])
            if (status, progress) != tuple(before) or note:
                conn.execute(
                    "INSERT INTO status_history (video_id, status, progress, at, note) VALUES (?, ?, ?, ?, ?)",
                    (video_id, status, progress, changes["updated_at"], note),
                )
        return self.get(video_id)

    @contextlib.contextmanager
    def download_lock(self, video_id: str) -> Iterator[bool]:
        """Hold the OS's lock on the video's folder while downloading into it: True when taken, False when another
        download on this machine holds it. The OS lets go when a process dies, so a killed download blocks none."""
        folder = self.folder_for(video_id)
        folder.mkdir(parents=True, exist_ok=True)
        handle = os.open(folder, os.O_RDONLY)
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(handle)  # closing lets the lock go

    def claim_download(self, video_id: str, now: float, until: float, retry_wait: float) -> bool:
        """Take the right to download this video until `until`. Call it holding `download_lock`: no download of it
        is alive here then, so a claim further ahead than `retry_wait` is a killed download's lease and is void;
        a wait before a retry (up to `retry_wait` ahead) still holds."""
        cursor = self._connection().execute(
            "UPDATE videos SET next_poll_at = ? WHERE video_id = ? AND (next_poll_at <= ? OR next_poll_at > ?)",
            (until, video_id, now, now + retry_wait),
        )
        return cursor.rowcount == 1

    def remove_part_files(self, video_id: str) -> None:
        """Remove the part files in the video's folder. Only while holding its `download_lock`: then they are
        what a killed download left."""
        for partial in self.folder_for(video_id).glob(".*.part"):
            partial.unlink(missing_ok=True)

    def claim_poll(self, video_id: str, now: float, next_poll_at: float) -> bool:
        """Atomically take the right to poll this job now; false when another thread already has it."""
        cursor = self._connection().execute(
            "UPDATE videos SET next_poll_at = ? WHERE video_id = ? AND next_poll_at <= ?",
            (next_poll_at, video_id, now),
        )
        return cursor.rowcount == 1

    def finished(self, limit: int = 60) -> list[VideoRecord]:
        """The newest completed videos whose files are here: what Compare and Blend pick from."""
        return [r for r in self.page(Filters(status="completed"), limit=limit).records if r.is_archived]

    def history(self, video_id: str) -> list[HistoryEntry]:
        rows = self._connection().execute(
            "SELECT status, progress, at, note FROM status_history WHERE video_id = ? ORDER BY at, id", (video_id,)
        ).fetchall()
        return [HistoryEntry(*r) for r in rows]

    def active(self, provider: str | None = None) -> list[VideoRecord]:
        sql = f"SELECT {', '.join(_COLUMNS)} FROM videos WHERE status IN ('queued', 'in_progress')"
        args: list[Any] = []
        if provider:
            sql += " AND provider = ?"
            args.append(provider)
        return [_record(r) for r in self._connection().execute(sql + " ORDER BY created_at", args)]

    def unarchived(self, provider: str | None = None, *, failing: bool = False) -> list[VideoRecord]:
        """Finished on the provider but not yet downloaded here; with `failing`, only those whose last try to
        download said why it could not (the sidebar asks on every rerun, so SQL sorts them out, not Python)."""
        sql = (f"SELECT {', '.join(_COLUMNS)} FROM videos "
               "WHERE status = 'completed' AND video_path IS NULL AND remote_deleted = 0")
        if failing:
            sql += " AND last_poll_error != ''"
        args: list[Any] = []
        if provider:
            sql += " AND provider = ?"
            args.append(provider)
        return [_record(r) for r in self._connection().execute(sql + " ORDER BY created_at", args)]

    def page(self, filters: Filters = Filters(), *, limit: int = 24,
             before: tuple[float, str] | None = None) -> Page:
        """In `filters.sort`'s order (newest first unless asked), `limit` at a time. Keyset paging keeps every page
        as fast as the first."""
        expression, direction = SORTS[filters.sort]
        after = "<" if direction == "DESC" else ">"
        where, args = _where(filters)
        if before is not None:
            where.append(f"({expression} {after} ? OR ({expression} = ? AND video_id {after} ?))")
            args += [before[0], before[0], before[1]]
        sql = (f"SELECT {', '.join(_COLUMNS)}, {expression} FROM videos {_join(where)} "
               f"ORDER BY {expression} {direction}, video_id {direction} LIMIT ?")
        rows = self._connection().execute(sql, [*args, limit + 1]).fetchall()
        records = [_record(r[:-1]) for r in rows[:limit]]
        more = len(rows) > limit and records
        return Page(records, (rows[limit - 1][-1], records[-1].video_id) if more else None)

    def count(self, filters: Filters = Filters()) -> int:
        where, args = _where(filters)
        return self._connection().execute(f"SELECT COUNT(*) FROM videos {_join(where)}", args).fetchone()[0]

    def models(self) -> list[str]:
        """The models of the videos in the library (not the trash): the kept counts, each checked for one video
        out of the trash through the model index."""
        return [r[0] for r in self._connection().execute(
            "SELECT model FROM model_counts AS counted WHERE EXISTS (SELECT 1 FROM videos INDEXED BY videos_by_model "
            "WHERE videos.model = counted.model AND trashed_at IS NULL) ORDER BY model")]

    def children(self, video_id: str) -> list[VideoRecord]:
        rows = self._connection().execute(
            f"SELECT {', '.join(_COLUMNS)} FROM videos WHERE parent_video_id = ? AND trashed_at IS NULL "
            "ORDER BY created_at", (video_id,)
        )
        return [_record(r) for r in rows]

    def variants(self, group: str) -> list[VideoRecord]:
        rows = self._connection().execute(
            f"SELECT {', '.join(_COLUMNS)} FROM videos WHERE variant_group = ? AND trashed_at IS NULL "
            "ORDER BY variant_index", (group,)
        )
        return [_record(r) for r in rows]

    def total_spent(self, owner: str | None = None) -> float:
        """Money spent on completed videos, everyone's or one person's, deleted videos included."""
        if owner is None:
            value = self._connection().execute("SELECT COALESCE(SUM(usd), 0) FROM spend").fetchone()[0]
        else:
            row = self._connection().execute("SELECT usd FROM spend WHERE owner = ?", (owner,)).fetchone()
            value = row[0] if row else 0.0
        return max(0.0, float(value))  # sums of floats can drift a hair below zero

    def spend_by_owner(self) -> dict[str, float]:
        rows = self._connection().execute("SELECT owner, usd FROM spend WHERE usd > 0 ORDER BY usd DESC")
        return {owner: float(usd) for owner, usd in rows}

    def disk_usage(self) -> int:
        total = self.db_path.stat().st_size if self.db_path.exists() else 0
        for root, _, files in os.walk(self.files_dir):
            total += sum((Path(root) / f).stat().st_size for f in files)
        return total

    # What servers lack, learned from their answers.
    def mark_mode_absent(self, base_url: str, mode: str, status_code: int) -> None:
        with self._transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO absent_modes (base_url, mode, status_code, learned_at) "
                         "VALUES (?, ?, ?, ?)", (_server_key(base_url), mode, status_code, time.time()))

    def mark_mode_present(self, base_url: str, mode: str) -> None:
        """The server has the mode after all (it was upgraded): stop hiding it."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM absent_modes WHERE base_url = ? AND mode = ?", (_server_key(base_url), mode))

    def absent_modes(self, base_url: str | None) -> set[str]:
        if not base_url:
            return set()
        rows = self._connection().execute("SELECT mode FROM absent_modes WHERE base_url = ?",
                                          (_server_key(base_url),))
        return {row[0] for row in rows}

    def save_connection(self, owner: str, connection: SavedConnection) -> None:
        if any("KEY" in name for name in connection.settings):
            raise ValueError("a connection is saved without its key")
        with self._transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO connections (owner, kind, settings, key_name, saved_at) "
                         "VALUES (?, ?, ?, ?, ?)", (owner, connection.kind, json.dumps(connection.settings),
                                                    connection.key_name, time.time()))

    def saved_connection(self, owner: str) -> SavedConnection | None:
        row = self._connection().execute("SELECT kind, settings, key_name FROM connections WHERE owner = ?",
                                         (owner,)).fetchone()
        return None if row is None else SavedConnection(row[0], json.loads(row[1]), row[2])

    def forget_connection(self, owner: str) -> None:
        with self._transaction() as conn:
            conn.execute("DELETE FROM connections WHERE owner = ?", (owner,))

    def shared_setting(self, name: str) -> str | None:
        row = self._connection().execute("SELECT value FROM shared_settings WHERE name = ?", (name,)).fetchone()
        return None if row is None else row[0]

    def save_shared_setting(self, name: str, value: str) -> None:
        with self._transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO shared_settings (name, value, saved_at) VALUES (?, ?, ?)",
                         (name, value, time.time()))

    def remove(self, video_id: str) -> bool:
        """Forget a video and delete its files. The row goes first, so no row ever points at a missing file."""
        record = self.get(video_id)
        if record is None:
            return False
        with self._transaction() as conn:
            conn.execute("DELETE FROM videos WHERE video_id = ?", (video_id,))
        shutil.rmtree(self.folder_for(video_id), ignore_errors=True)
        return True

    # Changes a person asks for: each checks, here where no page can skip it, that the work is theirs to change.
    def rename(self, video_id: str, *, title: str, tags: str, actor: Actor | None = None) -> VideoRecord | None:
        record = self.get(video_id)
        if record is None:
            return None
        require_owner(actor, record.owner, "rename it")
        return self.update(video_id, title=title, tags=tags)

    def set_favourite(self, video_id: str, favourite: bool, actor: Actor | None = None) -> VideoRecord | None:
        """Star or unstar: one flag the whole team's gallery shows, so only the owner or an admin may move it."""
        record = self.get(video_id)
        if record is None:
            return None
        require_owner(actor, record.owner, "favourite it")
        return self.update(video_id, favourite=favourite)

    def trash(self, video_id: str, actor: Actor | None = None) -> bool:
        """Move a video, record and files, to the trash: out of the gallery, restorable for TRASH_DAYS."""
        record = self.get(video_id)
        if record is None:
            return False
        require_owner(actor, record.owner, "delete it")
        return self._update_where("videos", {"trashed_at": time.time()}, "video_id = ? AND trashed_at IS NULL",
                                  [video_id]) == 1

    def restore(self, video_id: str, actor: Actor | None = None) -> bool:
        record = self.get(video_id)
        if record is None:
            return False
        require_owner(actor, record.owner, "restore it")
        return self._update_where("videos", {"trashed_at": None}, "video_id = ? AND trashed_at IS NOT NULL",
                                  [video_id]) == 1

    def trashed(self, limit: int = 200) -> list[VideoRecord]:
        """What is in the trash, latest deleted first."""
        rows = self._connection().execute(
            f"SELECT {', '.join(_COLUMNS)} FROM videos WHERE trashed_at IS NOT NULL ORDER BY trashed_at DESC "
            "LIMIT ?", (limit,))
        return [_record(r) for r in rows]

    def empty_trash(self, actor: Actor | None = None) -> int:
        """Remove for good what is in the trash that `actor` may delete (everything, for an admin or no one
        signed in). Returns how many went."""
        gone = [r for r in self.trashed(limit=100_000) if actor is None or actor.may_change(r.owner)]
        return sum(self.remove(r.video_id) for r in gone)

    def sweep_trash(self, now: float | None = None) -> int:
        """Remove what has been in the trash longer than TRASH_DAYS (the background worker's task)."""
        cutoff = (now if now is not None else time.time()) - TRASH_DAYS * 86400
        expired = [row[0] for row in self._connection().execute(
            "SELECT video_id FROM videos WHERE trashed_at IS NOT NULL AND trashed_at < ?", (cutoff,))]
        return sum(self.remove(video_id) for video_id in expired)

    # Batch queues and storyboards (migration 7): plain rows here; studio.batch and studio.storyboard shape them.
    def add_batch(self, batch: dict[str, Any], rows: list[dict[str, Any]]) -> None:
        """A batch and all its rows, in one transaction: a queue is never half-written."""
        with self._transaction() as conn:
            conn.execute(f"INSERT INTO batches ({', '.join(batch)}) VALUES ({', '.join('?' for _ in batch)})",
                         list(batch.values()))
            for row in rows:
                conn.execute(f"INSERT INTO batch_rows ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                             list(row.values()))

    def batch(self, batch_id: str) -> dict[str, Any] | None:
        found = self._dicts("SELECT * FROM batches WHERE batch_id = ?", (batch_id,))
        return found[0] if found else None

    def batches(self, provider: str | None = None, states: Sequence[str] = (), limit: int = 50) -> list[dict[str, Any]]:
        """Newest first."""
        where, args = [], []
        if provider:
            where.append("provider = ?")
            args.append(provider)
        if states:
            where.append(f"state IN ({', '.join('?' for _ in states)})")
            args += list(states)
        return self._dicts(f"SELECT * FROM batches {_join(where)} ORDER BY created_at DESC LIMIT ?", [*args, limit])

    def batch_rows(self, batch_id: str) -> list[dict[str, Any]]:
        return self._dicts("SELECT * FROM batch_rows WHERE batch_id = ? ORDER BY position", (batch_id,))

    def update_batch(self, batch_id: str, **changes: Any) -> None:
        self._update_where("batches", changes, "batch_id = ?", [batch_id], stamp=True)

    def update_batch_row(self, batch_id: str, position: int, *, only_if: str | None = None, **changes: Any) -> bool:
        """Change a row; with `only_if`, only while the row is in that state (an atomic claim). True if changed."""
        where, args = "batch_id = ? AND position = ?", [batch_id, position]
        if only_if is not None:
            where += " AND state = ?"
            args.append(only_if)
        return self._update_where("batch_rows", changes, where, args) == 1

    def batch_load(self, provider: str, since: float) -> tuple[int, int]:
        """(rows in flight, rows requested since `since`) over every batch on this provider: the pace is the
        provider's, whichever batch asks."""
        in_flight = self._connection().execute(
            "SELECT COUNT(*) FROM batch_rows r JOIN batches b USING (batch_id) LEFT JOIN videos v USING (video_id) "
            "WHERE b.provider = ? AND (r.state = 'submitting' OR (r.state = 'submitted' AND v.status IN "
            "('queued', 'in_progress')))", (provider,)).fetchone()[0]
        requested = self._connection().execute(
            "SELECT COUNT(*) FROM batch_rows r JOIN batches b USING (batch_id) "
            "WHERE b.provider = ? AND r.requested_at >= ?", (provider, since)).fetchone()[0]
        return int(in_flight), int(requested)

    def batch_rows_in_state(self, provider: str, state: str) -> list[dict[str, Any]]:
        return self._dicts("SELECT r.* FROM batch_rows r JOIN batches b USING (batch_id) "
                           "WHERE b.provider = ? AND r.state = ? ORDER BY r.requested_at", (provider, state))

    def batch_video_ids(self) -> set[str]:
        """Every video some batch row already follows."""
        rows = self._connection().execute("SELECT video_id FROM batch_rows WHERE video_id IS NOT NULL")
        return {row[0] for row in rows}

    def save_storyboard(self, storyboard: dict[str, Any]) -> None:
        """Insert or replace the whole storyboard; `created_at` is kept from the first save."""
        columns = list(storyboard)
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in ("storyboard_id", "created_at"))
        with self._transaction() as conn:
            conn.execute(f"INSERT INTO storyboards ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)}) "
                         f"ON CONFLICT (storyboard_id) DO UPDATE SET {updates}", list(storyboard.values()))

    def storyboard(self, storyboard_id: str) -> dict[str, Any] | None:
        found = self._dicts("SELECT * FROM storyboards WHERE storyboard_id = ?", (storyboard_id,))
        return found[0] if found else None

    def storyboards(self, limit: int = 50, *, rendering_on: str | None = None) -> list[dict[str, Any]]:
        """Latest changed first; with `rendering_on`, only those rendering on that provider."""
        if rendering_on is not None:
            return self._dicts("SELECT * FROM storyboards WHERE rendering = 1 AND provider = ? "
                               "ORDER BY updated_at LIMIT ?", (rendering_on, limit))
        return self._dicts("SELECT * FROM storyboards ORDER BY updated_at DESC LIMIT ?", (limit,))

    def claim_storyboard(self, storyboard_id: str, holder: str, lease_seconds: float) -> bool:
        """Atomically take the storyboard's render step for `holder` (free, lapsed, or already `holder`'s), in
        SQLite, so threads and processes on this data dir exclude each other. True when taken."""
        now = time.time()
        return self._update_where("storyboards", {"claimed_by": holder, "claimed_until": now + lease_seconds},
                                  "storyboard_id = ? AND (claimed_until < ? OR claimed_by = ?)",
                                  [storyboard_id, now, holder]) == 1

    def release_storyboard(self, storyboard_id: str, holder: str) -> None:
        self._update_where("storyboards", {"claimed_by": None, "claimed_until": 0},
                           "storyboard_id = ? AND claimed_by = ?", [storyboard_id, holder])

    # Review (migration 11): plain rows here; studio.review checks who may and shapes them.
    def add_comment(self, video_id: str, author: str, body: str, at: float) -> int:
        with self._transaction() as conn:
            cursor = conn.execute("INSERT INTO comments (video_id, author, body, created_at) VALUES (?, ?, ?, ?)",
                                  (video_id, author, body, at))
        return int(cursor.lastrowid or 0)

    def comments(self, video_id: str) -> list[dict[str, Any]]:
        """Oldest first."""
        return self._dicts("SELECT * FROM comments WHERE video_id = ? ORDER BY created_at, id", (video_id,))

    def comment(self, comment_id: int) -> dict[str, Any] | None:
        found = self._dicts("SELECT * FROM comments WHERE id = ?", (comment_id,))
        return found[0] if found else None

    def remove_comment(self, comment_id: int) -> bool:
        with self._transaction() as conn:
            return conn.execute("DELETE FROM comments WHERE id = ?", (comment_id,)).rowcount == 1

    def set_review_status(self, video_id: str, review_status: str, author: str, at: float) -> bool:
        """Move the review status and write who moved it, in one transaction; False when the video is gone."""
        with self._transaction() as conn:
            if conn.execute("UPDATE videos SET review_status = ?, updated_at = ? WHERE video_id = ?",
                            (review_status, at, video_id)).rowcount != 1:
                return False
            conn.execute("INSERT INTO review_history (video_id, review_status, author, at) VALUES (?, ?, ?, ?)",
                         (video_id, review_status, author, at))
        return True

    def review_history(self, video_id: str) -> list[dict[str, Any]]:
        """Oldest first."""
        return self._dicts("SELECT * FROM review_history WHERE video_id = ? ORDER BY at, id", (video_id,))

    def folders(self) -> list[str]:
        """Every folder some video in the library (not the trash) is filed in, by name, found through the folder
        index."""
        return [row[0] for row in self._connection().execute(
            # INDEXED BY: left to itself, the planner reads every kept video through the trash index instead.
            "SELECT DISTINCT folder FROM videos INDEXED BY videos_by_folder WHERE folder > '' AND trashed_at IS NULL "
            "ORDER BY folder")]

    def _dicts(self, sql: str, args: Sequence[Any]) -> list[dict[str, Any]]:
        cursor = self._connection().execute(sql, list(args))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _update_where(self, table: str, changes: dict[str, Any], where: str, args: list[Any], *,
                      stamp: bool = False) -> int:
        known = {row[1] for row in self._connection().execute(f"PRAGMA table_info({table})")}
        if unknown := set(changes) - known:
            raise ValueError(f"unknown {table} fields: {sorted(unknown)}")
        if stamp:
            changes = {**changes, "updated_at": time.time()}
        if not changes:
            return 0
        with self._transaction() as conn:
            cursor = conn.execute(f"UPDATE {table} SET {', '.join(f'{k} = ?' for k in changes)} WHERE {where}",
                                  [*changes.values(), *args])
        return cursor.rowcount


class _ConnectionPool:
    """Idle connections, handed to one thread at a time (see `_Lease`)."""

    def __init__(self, open_connection: Callable[[], sqlite3.Connection]) -> None:
        self._open = open_connection
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def take(self) -> sqlite3.Connection:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        return conn or self._open()

    def give_back(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:  # a thread that died mid-write leaves nothing half done for the next one
            conn.execute("ROLLBACK")
        with self._lock:
            self._idle.append(conn)


class _Lease:
    """A thread's connection, kept in the thread's locals: when the thread ends they are dropped, and it goes back."""

    def __init__(self, pool: _ConnectionPool) -> None:
        self._pool = pool
        self.conn = pool.take()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # the interpreter may be shutting down
            self._pool.give_back(self.conn)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, so concurrent writers queue instead of failing mid-way."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, kind: object, *_: object) -> None:
        self.conn.execute("ROLLBACK" if kind else "COMMIT")


def _statements(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    statements, current = [], []
    for line in script.strip().splitlines():
        current.append(line)
        joined = "\n".join(current).strip()
        if joined.endswith(";") and sqlite3.complete_statement(joined):
            statements.append(joined)
            current = []
    return statements


def _server_key(base_url: str) -> str:
    # One server, however its URL was typed: no trailing slash, lower-case scheme and host.
    url = redacted_url(base_url.strip().rstrip("/"))
    scheme, _, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    return f"{scheme.lower()}://{host.lower()}{slash}{path}" if rest else url


def _column_value(name: str, value: Any) -> Any:
    if name in _BOOLEANS:
        return int(value)
    if name in _JSON:
        return json.dumps(value or {}, sort_keys=True, default=str)
    if name == "base_url" and value:
        return redacted_url(value)  # which server, never the user name and password typed into its URL
    return value


def _row(record: VideoRecord) -> dict[str, Any]:
    return {k: _column_value(k, v) for k, v in asdict(record).items()}


def _record(row: Sequence[Any]) -> VideoRecord:
    record = VideoRecord(*row)
    record.remote_deleted = bool(record.remote_deleted)
    record.favourite = bool(record.favourite)
    record.params = json.loads(record.params) if isinstance(record.params, str) and record.params else {}
    record.extra = json.loads(record.extra) if isinstance(record.extra, str) and record.extra else {}
    return record


SEARCH_TERM = re.compile(r'"([^"]+)"|([^\s"]+)')  # a "quoted phrase" or a word


def _where(filters: Filters) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    if filters.status:
        where.append("status = ?")
        args.append(filters.status)
    if filters.model:
        where.append("model = ?")
        args.append(filters.model)
    if filters.favourites_only:
        where.append("favourite = 1")
    if filters.provider:
        where.append("provider = ?")
        args.append(filters.provider)
    if filters.owner is not None:
        where.append("owner = ?")
        args.append(filters.owner)
    if filters.review_status:
        where.append("review_status = ?")
        args.append(filters.review_status)
    if filters.folder is not None:
        where.append("folder = ?")
        args.append(filters.folder)
    where.append("trashed_at IS NOT NULL" if filters.trashed else "trashed_at IS NULL")
    # Every word, in any order, as the start or any part of a word: "earbuds blue" finds "Make the earbuds glow
    # electric blue"; words in double quotes are one phrase. Terms of 3+ letters go through the trigram index,
    # ANDed; shorter ones are scanned for.
    words = [quoted or word for quoted, word in SEARCH_TERM.findall(filters.text)]
    indexed = [word for word in words if len(word) >= 3]
    if indexed:
        where.append("video_id IN (SELECT video_id FROM videos_text WHERE videos_text MATCH ?)")
        args.append(" ".join('"' + word.replace('"', '""') + '"' for word in indexed))
    for word in words:
        if len(word) < 3:
            where.append("(prompt LIKE ? ESCAPE '\\' OR title LIKE ? ESCAPE '\\' OR tags LIKE ? ESCAPE '\\')")
            args += ["%" + re.sub(r"([\\%_])", r"\\\1", word) + "%"] * 3
    return where, args


def _join(where: list[str]) -> str:
    return ("WHERE " + " AND ".join(where)) if where else ""
