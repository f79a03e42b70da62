"""Job records in SQLite and media files on disk, under one data dir, so a restart keeps everything."""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import shutil
import sqlite3
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

# OpenAI's `video_<hex>`, vLLM-Omni's `video_gen_<hex>` and SGLang's uuids (localsora.imitation): never a path.
VIDEO_ID = re.compile(r"^(video_[A-Za-z0-9_]{8,64}|[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12})$")
CHARACTER_ID = re.compile(r"^char_[A-Za-z0-9]{8,64}$")
MEDIA_FILES = {"video": "video.mp4", "thumbnail": "thumbnail.webp", "spritesheet": "spritesheet.jpg"}
ACTIVE = ("queued", "in_progress")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS videos (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    model TEXT NOT NULL,
    status TEXT NOT NULL,
    progress INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    completed_at INTEGER,
    expires_at INTEGER,
    prompt TEXT NOT NULL,
    size TEXT NOT NULL,
    seconds TEXT NOT NULL,
    render_seconds REAL NOT NULL,
    remixed_from_video_id TEXT,
    source_video_id TEXT,
    error_code TEXT,
    error_message TEXT,
    expired INTEGER NOT NULL DEFAULT 0,
    params TEXT
);
CREATE INDEX IF NOT EXISTS videos_status ON videos(status);
CREATE TABLE IF NOT EXISTS characters (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
"""


@dataclass
class Job:
    id: str
    kind: str  # generate | remix | edit | extend
    model: str
    status: str  # queued | in_progress | completed | failed
    progress: int
    created_at: int
    completed_at: int | None
    expires_at: int | None
    prompt: str
    size: str
    seconds: str  # the whole clip, as on the wire
    render_seconds: float  # new material to render (the extension, for extend)
    remixed_from_video_id: str | None = None
    source_video_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    expired: bool = False
    # What the engine takes beyond Sora's fields (seed, negative_prompt, ...), kept so a restart renders the same.
    params: dict[str, Any] | None = None

    def to_api(self) -> dict[str, Any]:
        """The contract's `Video` object."""
        failed = self.status == "failed" and self.error_code
        error = {"code": self.error_code, "message": self.error_message or ""} if failed else None
        return {
            "id": self.id,
            "object": "video",
            "model": self.model,
            "status": self.status,
            "progress": self.progress,
            "created_at": self.created_at,
            "completed_at": self.completed_at,
            "expires_at": self.expires_at,
            "prompt": self.prompt,
            "size": self.size,
            "seconds": self.seconds,
            "remixed_from_video_id": self.remixed_from_video_id,
            "error": error,
            # Beyond the contract, as vLLM-Omni adds fields: the seed that reproduces this video.
            **({"seed": self.params["seed"]} if self.params and "seed" in self.params else {}),
        }


_JOB_COLUMNS = [f.name for f in fields(Job)]


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether `exc`, or an exception it came from, is a full disk: ENOSPC, a quota's EDQUOT, or SQLite's
    "database or disk is full"."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(exc, sqlite3.OperationalError) and getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def new_video_id() -> str:
    return "video_" + secrets.token_hex(16)


def new_character_id() -> str:
    return "char_" + secrets.token_hex(16)


class Store:
    """Thread-safe: one connection behind a lock (SQLite serialises writes anyway)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        (data_dir / "videos").mkdir(exist_ok=True)
        (data_dir / "characters").mkdir(exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(data_dir / "localsora.sqlite3", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(videos)")}
        if "params" not in columns:  # a data dir from before the engines took parameters
            self._db.execute("ALTER TABLE videos ADD COLUMN params TEXT")

    def full_disk(self) -> str:
        """Where a write that found the disk full went, in words: the data dir, or the temporary folder that
        uploads are spooled to when it is another disk with less room left."""
        where = f"its data dir ({self.data_dir.resolve()})"
        spool = Path(tempfile.gettempdir())
        try:
            data, temp = os.statvfs(self.data_dir), os.statvfs(spool)
            same_disk = os.stat(spool).st_dev == os.stat(self.data_dir).st_dev
        except OSError:
            return where
        if not same_disk and temp.f_bavail * temp.f_frsize < data.f_bavail * data.f_frsize:
            return f"its temporary folder for uploads ({spool})"
        return where

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # Files. Ids are validated by the caller's lookups before they reach a path.
    def job_dir(self, video_id: str) -> Path:
        if not VIDEO_ID.match(video_id):
            raise ValueError(f"not a video id: {video_id!r}")
        return self.data_dir / "videos" / video_id

    def media_path(self, video_id: str, variant: str) -> Path:
        return self.job_dir(video_id) / MEDIA_FILES[variant]

    def character_dir(self, character_id: str) -> Path:
        if not CHARACTER_ID.match(character_id):
            raise ValueError(f"not a character id: {character_id!r}")
        return self.data_dir / "characters" / character_id

    # Jobs.
    def insert(self, job: Job) -> None:
        row = asdict(job)
        row["params"] = json.dumps(job.params) if job.params else None
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._lock:
            self._db.execute(f"INSERT INTO videos ({cols}) VALUES ({marks})", list(row.values()))

    def get(self, video_id: str) -> Job | None:
        if not VIDEO_ID.match(video_id):
            return None
        with self._lock:
            row = self._db.execute(
                f"SELECT {', '.join(_JOB_COLUMNS)} FROM videos WHERE id = ?", (video_id,)
            ).fetchone()
        return _job(row) if row else None

    def update(self, video_id: str, **changes: Any) -> None:
        sets = ", ".join(f"{k} = ?" for k in changes)
        with self._lock:
            self._db.execute(f"UPDATE videos SET {sets} WHERE id = ?", [*changes.values(), video_id])

    def delete(self, video_id: str) -> bool:
        with self._lock:
            deleted = self._db.execute("DELETE FROM videos WHERE id = ?", (video_id,)).rowcount > 0
        shutil.rmtree(self.job_dir(video_id), ignore_errors=True)
        return deleted

    def page(self, *, after: str | None, limit: int, order: str) -> tuple[list[Job], bool] | None:
        """One page in created order; None when `after` names no video."""
        newest_first = order == "desc"
        where, args = "", []
        with self._lock:
            if after is not None:
                found = self._db.execute("SELECT seq FROM videos WHERE id = ?", (after,)).fetchone()
                if not found:
                    return None
                where, args = ("WHERE seq < ?" if newest_first else "WHERE seq > ?"), [found[0]]
            rows = self._db.execute(
                f"SELECT {', '.join(_JOB_COLUMNS)} FROM videos {where} "
                f"ORDER BY seq {'DESC' if newest_first else 'ASC'} LIMIT ?",
                [*args, limit + 1],
            ).fetchall()
        return [_job(r) for r in rows[:limit]], len(rows) > limit

    def with_status(self, *statuses: str) -> list[Job]:
        marks = ", ".join("?" for _ in statuses)
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(_JOB_COLUMNS)} FROM videos WHERE status IN ({marks}) ORDER BY seq", statuses
            ).fetchall()
        return [_job(r) for r in rows]

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM videos").fetchone()[0]

    def count_active(self) -> int:
        with self._lock:
            return self._db.execute(
                "SELECT COUNT(*) FROM videos WHERE status IN ('queued', 'in_progress')"
            ).fetchone()[0]

    def expire_due(self, now: float | None = None) -> list[str]:
        """Drop the files of finished videos past `expires_at`: the media, and the uploads they were made from
        (source.mp4, reference.png). The record stays and answers as expired. A job still rendering expires
        once it is done, so its inputs are there while it needs them and its media do not outlive it."""
        now = time.time() if now is None else now
        with self._lock:
            ids = [
                r[0]
                for r in self._db.execute(
                    "SELECT id FROM videos WHERE expired = 0 AND expires_at IS NOT NULL AND expires_at <= ? "
                    f"AND status NOT IN ({', '.join(repr(s) for s in ACTIVE)})",
                    (int(now),),
                )
            ]
            self._db.executemany("UPDATE videos SET expired = 1 WHERE id = ?", [(i,) for i in ids])
        for video_id in ids:
            shutil.rmtree(self.job_dir(video_id), ignore_errors=True)
        return ids

    # Characters.
    def insert_character(self, character_id: str, name: str, created_at: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO characters (id, name, created_at) VALUES (?, ?, ?)", (character_id, name, created_at)
            )

    def count_characters(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM characters").fetchone()[0]

    def delete_character(self, character_id: str) -> bool:
        with self._lock:
            deleted = self._db.execute("DELETE FROM characters WHERE id = ?", (character_id,)).rowcount > 0
        shutil.rmtree(self.character_dir(character_id), ignore_errors=True)
        return deleted

    def get_character(self, character_id: str) -> dict[str, Any] | None:
        if not CHARACTER_ID.match(character_id):
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT id, name, created_at FROM characters WHERE id = ?", (character_id,)
            ).fetchone()
        return {"id": row[0], "name": row[1], "created_at": row[2]} if row else None


def _job(row: tuple[Any, ...]) -> Job:
    job = Job(*row)
    job.expired = bool(job.expired)
    job.params = json.loads(job.params) if job.params else None  # type: ignore[arg-type]
    return job
