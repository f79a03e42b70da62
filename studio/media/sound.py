"""Whether a clip has sound: its MP4 holds an audio stream. Read from the file's header, once per file version."""

from __future__ import annotations

import functools
import os
from pathlib import Path


def has_sound(path: Path | None) -> bool | None:
    """True or False once the clip is on disk; None before it is (nothing to tell yet)."""
    try:
        stat = os.stat(path) if path is not None else None
    except OSError:
        return None
    return None if stat is None else _has_audio_stream(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=1024)
def _has_audio_stream(path: str, _mtime_ns: int, _size: int) -> bool:
    import av  # loaded with the first card that shows a clip, not with the app

    try:
        with av.open(path) as container:
            return bool(container.streams.audio)
    except av.FFmpegError:
        return False
