"""A thumbnail made from the video itself, for providers that serve none."""

from __future__ import annotations

import os
from pathlib import Path

THUMBNAIL_LONG_SIDE = 640


def write_thumbnail(video: Path, target: Path) -> bool:
    """Save the middle frame as WebP; False when the video cannot be decoded."""
    import av  # here, not above: a page that makes no thumbnail (the first one drawn) need not load PyAV

    try:
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            middle = (stream.frames or 48) // 2
            frame = None
            for n, decoded in enumerate(container.decode(stream)):
                frame = decoded
                if n >= middle:
                    break
            if frame is None:
                return False
            image = frame.to_image()
    except (av.FFmpegError, IndexError, OSError):
        return False
    image.thumbnail((THUMBNAIL_LONG_SIDE, THUMBNAIL_LONG_SIDE))
    partial = target.with_name(f".{target.name}.part")
    image.save(partial, format="WEBP", quality=80)
    os.replace(partial, target)
    return True
