"""What localsora serves when no flag says otherwise: Sora 2's models, sizes and durations, as OpenAI published
them (see ../shared/DESIGN.md), and the sides of a free size. localsora stands alone, so it keeps its own copy; the
studio's catalog (studio/catalog.py) is tied to this one by a test."""

from __future__ import annotations

DEFAULT_MODELS: dict[str, tuple[str, ...]] = {
    "sora-2": ("720x1280", "1280x720"),
    "sora-2-pro": ("720x1280", "1280x720", "1024x1792", "1792x1024"),
}
# Dated snapshots answer like their base model.
MODEL_ALIASES: dict[str, str] = {
    "sora-2-2025-10-06": "sora-2",
    "sora-2-2025-12-08": "sora-2",
    "sora-2-pro-2025-10-06": "sora-2-pro",
}

DURATIONS: tuple[str, ...] = ("4", "8", "12")  # `seconds` of a new video
EXTENSION_DURATIONS: tuple[str, ...] = ("4", "8", "12", "16", "20")  # `seconds` an extension adds

# Any WIDTHxHEIGHT a free-size dialect (vLLM-Omni, SGLang) takes: even sides (H.264's 4:2:0 colour), in this range.
FREE_SIDE_MIN = 16
FREE_SIDE_MAX = 4096
FREE_SECONDS_MAX = 60  # whole seconds, from 1
FREE_FPS_MAX = 120  # a request's `fps` there
FREE_FRAMES_MAX = FREE_SECONDS_MAX * 24 + 1  # frames of one clip: the longest at 24 fps, and one (4k+1 counts)
