"""A thumbnail and a spritesheet made from the video itself, for providers that serve none (vLLM-Omni, LiteLLM)."""

from __future__ import annotations

import os
from pathlib import Path

THUMBNAIL_LONG_SIDE = 640
SPRITE_COUNT = 10  # one row: the Frames strip on a video's page scrolls sideways rather than down
SPRITE_HEIGHT = 120


def write_stills(video: Path, *, thumbnail: Path | None = None, spritesheet: Path | None = None) -> bool:
    """Save the middle frame as a WebP thumbnail and/or a one-row JPEG strip of frames spread over the clip, in
    one decode. False when the video cannot be decoded (nothing is written then)."""
    import av  # here, not above: a page that makes no thumbnail (the first one drawn) need not load PyAV
    from PIL import Image

    try:
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            total = stream.frames or 48
            wanted = {min(total - 1, (2 * i + 1) * total // (2 * SPRITE_COUNT)) for i in range(SPRITE_COUNT)}
            middle, frames, last = total // 2, [], None
            for n, decoded in enumerate(container.decode(stream)):
                last = decoded
                if n in wanted or n == middle:
                    frames.append((n, decoded.to_image()))
                if n >= max(max(wanted), middle):
                    break
    except (av.FFmpegError, IndexError, OSError):
        return False
    if last is None:
        return False
    if not frames:  # fewer frames than the header said
        frames = [(0, last.to_image())]
    if thumbnail is not None:
        still = min(frames, key=lambda found: abs(found[0] - middle))[1].copy()
        still.thumbnail((THUMBNAIL_LONG_SIDE, THUMBNAIL_LONG_SIDE))
        _save(still, thumbnail, "WEBP", quality=80)
    if spritesheet is not None:
        sprites = [image for n, image in frames if n in wanted] or [frames[0][1]]
        width = max(1, round(sprites[0].width * SPRITE_HEIGHT / sprites[0].height))
        sheet = Image.new("RGB", (width * len(sprites), SPRITE_HEIGHT))
        for index, image in enumerate(sprites):
            sheet.paste(image.convert("RGB").resize((width, SPRITE_HEIGHT)), (index * width, 0))
        _save(sheet, spritesheet, "JPEG", quality=80)
    return True


FRAMES_STRIP = "frames.jpg"  # beside the video: a provider's spritesheet may be a grid, screens tall


def frames_strip(video: Path) -> Path | None:
    """The one-row strip of the video's frames, made from it once and kept beside it; None if it cannot be read."""
    strip = video.with_name(FRAMES_STRIP)
    return strip if strip.exists() or (video.exists() and write_stills(video, spritesheet=strip)) else None


def _save(image: object, target: Path, image_format: str, **options: object) -> None:
    partial = target.with_name(f".{target.name}.part")
    image.save(partial, format=image_format, **options)  # type: ignore[attr-defined]
    os.replace(partial, target)
