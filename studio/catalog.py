"""What the studio knows without asking a server: Sora 2's models, sizes, durations and list prices, the rule for
dated snapshot names, and the sides of a free size.

These are fallbacks: a provider's own models list replaces them (studio.provider.discovery), and free text is
allowed where a provider takes other models. localsora keeps its own copy (localsora/catalog.py), as it never
imports the studio; tests/test_catalog.py fails when the two drift apart.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = [
    "DEFAULT_MODEL",
    "DURATIONS",
    "EVERY_SIZE",
    "EXTENSION_DURATIONS",
    "FREE_SIDE_MAX",
    "FREE_SIDE_MIN",
    "PRICES_READ_ON",
    "PRICES_USD_PER_SECOND",
    "SORA_SIZES",
    "base_model",
    "sizes_of",
]

PRICES_READ_ON: Final = "2026-09-01"

# model -> size -> list price in USD per second of output, as OpenAI published it (read on PRICES_READ_ON). Its keys
# are also each model's sizes, so a size can never be offered without its price, or priced without being offered.
PRICES_USD_PER_SECOND: Final[Mapping[str, Mapping[str, float]]] = MappingProxyType({
    "sora-2": MappingProxyType({"720x1280": 0.10, "1280x720": 0.10}),
    "sora-2-pro": MappingProxyType({"720x1280": 0.30, "1280x720": 0.30, "1024x1792": 0.50, "1792x1024": 0.50}),
})

SORA_SIZES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {model: tuple(prices) for model, prices in PRICES_USD_PER_SECOND.items()})
DEFAULT_MODEL: Final = "sora-2"
# Every Sora size, in the order listed: what a model the catalog does not know is offered.
EVERY_SIZE: Final = tuple(dict.fromkeys(size for sizes in SORA_SIZES.values() for size in sizes))

DURATIONS: Final = ("4", "8", "12")  # a new video's length, as the `seconds` string sent
EXTENSION_DURATIONS: Final = ("4", "8", "12", "16", "20")  # what an extension adds, sent as its `seconds`

# A free size (vLLM-Omni, SGLang Diffusion: any WIDTHxHEIGHT) must have each side in this range. localsora, which
# imitates those servers, takes 16 to 4096, so the studio refuses nothing a free-size server would make.
FREE_SIDE_MIN: Final = 16
FREE_SIDE_MAX: Final = 4096

# "sora-2-2025-10-06" is a dated snapshot of "sora-2": it makes the same sizes at the same price.
_DATED = re.compile(r"^(?P<base>.+)-(?P<date>\d{4}-\d{2}-\d{2})$")


def base_model(name: str) -> str | None:
    """The catalog model `name` stands for: itself, or the model a dated snapshot of it is; None for any other name.

    Matched as people type it (case and surrounding spaces do not matter). Only a real date counts as a snapshot's
    suffix, so "sora-2-preview" or "sora-2-2025-13-40" is not sora-2."""
    name = name.strip().lower()
    if name in SORA_SIZES:
        return name
    dated = _DATED.match(name)
    if dated is None or dated["base"] not in SORA_SIZES:
        return None
    try:
        datetime.date.fromisoformat(dated["date"])
    except ValueError:
        return None
    return dated["base"]


def sizes_of(name: str) -> tuple[str, ...] | None:
    """The sizes a catalog model (or a dated snapshot of one) makes; None for a model the catalog does not know."""
    base = base_model(name)
    return None if base is None else SORA_SIZES[base]
