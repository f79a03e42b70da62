"""A video size typed by hand, for servers that take any WIDTHxHEIGHT (vLLM-Omni, SGLang Diffusion)."""

from __future__ import annotations

from studio.catalog import FREE_SIDE_MAX, FREE_SIDE_MIN
from studio.errors import InvalidInput
from studio.media.images import parse_size


def check_free_size(text: str) -> str:
    """The size as the server wants it ("832x480"), or InvalidInput that says what to type instead."""
    width, height = parse_size(text)
    if not (FREE_SIDE_MIN <= width <= FREE_SIDE_MAX and FREE_SIDE_MIN <= height <= FREE_SIDE_MAX):
        raise InvalidInput(f"{width}x{height} is out of range: each side must be {FREE_SIDE_MIN} to "
                           f"{FREE_SIDE_MAX} pixels.", code="invalid_size")
    if width % 2 or height % 2:
        # H.264 with 4:2:0 colour, which every MP4 player plays, needs even sides.
        raise InvalidInput(f"{width}x{height} has an odd side; use even numbers, for example "
                           f"{width + width % 2}x{height + height % 2}.", code="invalid_size")
    return f"{width}x{height}"
