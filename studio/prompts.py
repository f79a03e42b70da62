"""The prompt builder: structured shot fields <-> one prompt text, and prompt checks.

`compose` writes one labelled line per filled field, which reads as plain
prose to a video model and to a person:

    Shot: Wide shot.
    Subject: a red fox.
    Action: trotting through fresh snow.
    Setting: a birch forest at dawn.
    Lighting: soft golden backlight.
    Camera: slow dolly in.
    Style: 35 mm film, shallow depth of field.
    Audio: crunching snow, distant birdsong.

`parse` reads that form back, so a saved prompt reopens in the builder; any
other text returns None and stays free text.

Field values are normalised when they are set (whitespace collapsed to
single spaces, trailing full stops removed), so `parse(compose(p)) == p`
holds for every PromptParts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from studio.errors import PromptRejected

__all__ = [
    "DEFAULT_MAX_CHARS",
    "FIELDS",
    "FIELD_HELP",
    "FIELD_LABELS",
    "FIELD_PLACEHOLDERS",
    "FieldSpec",
    "PromptParts",
    "compose",
    "parse",
    "prompt_too_long",
    "short_title",
    "validate_prompt",
]

DEFAULT_MAX_CHARS = 32000


@dataclass(frozen=True)
class FieldSpec:
    name: str  # the PromptParts attribute
    label: str  # shown in the UI and written into the prompt ("Camera: slow dolly in.")
    placeholder: str  # a short example for the empty text box
    help: str  # one line of advice for the UI


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "shot_type", "Shot", "Wide shot", "How much the frame shows: wide, medium, close-up, aerial..."
    ),
    FieldSpec("subject", "Subject", "a red fox", "Who or what the shot is about. Be specific."),
    FieldSpec("action", "Action", "trotting through fresh snow", "What happens, in one clear beat."),
    FieldSpec("setting", "Setting", "a birch forest at dawn", "Where and when."),
    FieldSpec("lighting", "Lighting", "soft golden backlight", "Light quality, direction and colour."),
    FieldSpec(
        "camera_motion", "Camera", "slow dolly in", "One camera move: pan, tilt, dolly, orbit or static."
    ),
    FieldSpec(
        "style", "Style", "35 mm film, shallow depth of field", "Look and texture: film stock, lens, grade."
    ),
    FieldSpec(
        "audio",
        "Audio",
        "crunching snow, distant birdsong",
        'Sound effects, music or dialogue, e.g. she says: "We open at nine."',
    ),
)
FIELD_LABELS: dict[str, str] = {spec.name: spec.label for spec in FIELDS}
FIELD_PLACEHOLDERS: dict[str, str] = {spec.name: spec.placeholder for spec in FIELDS}
FIELD_HELP: dict[str, str] = {spec.name: spec.help for spec in FIELDS}

_NAME_BY_LABEL: dict[str, str] = {spec.label.lower(): spec.name for spec in FIELDS}
_LINE = re.compile(r"^(?P<label>[A-Za-z]+):[ \t]*(?P<value>.*?)[ \t]*$")
# A value ending in one of these gets no extra full stop ("Audio: she shouts "Go!"").
_TERMINAL = ("!", "?", "…")


def _normalise(value: Any) -> str:
    """One line, single spaces, no trailing full stops: compose adds exactly one back.

    Idempotent, which is what makes the round trip exact.
    """
    text = re.sub(r"\s+", " ", str(value or "")).strip()
    return re.sub(r"[\s.]+$", "", text)


@dataclass
class PromptParts:
    """The builder's fields. Every value is normalised on assignment (see `_normalise`)."""

    shot_type: str = ""
    subject: str = ""
    action: str = ""
    setting: str = ""
    lighting: str = ""
    camera_motion: str = ""
    style: str = ""
    audio: str = ""  # sound, music or dialogue

    def __setattr__(self, name: str, value: Any) -> None:
        # Normalising on every assignment (the generated __init__ included)
        # keeps a UI that edits fields in place round-tripping too.
        super().__setattr__(name, _normalise(value) if name in FIELD_LABELS else value)

    def is_empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))


def compose(parts: PromptParts) -> str:
    """One labelled line per filled field, in builder order; "" when all are empty."""
    lines = []
    for spec in FIELDS:
        value = _normalise(getattr(parts, spec.name))
        if value:
            end = "" if value.endswith(_TERMINAL) else "."
            lines.append(f"{spec.label}: {value}{end}")
    return "\n".join(lines)


def parse(prompt: str) -> PromptParts | None:
    """Read back a prompt in `compose`'s form, or None if it is free text.

    Blank lines, surrounding spaces, label case and line order are forgiven,
    since people edit composed prompts by hand. Any line that is not
    "Label: value" with a builder label, or a label used twice, makes it
    free text.
    """
    values: dict[str, str] = {}
    for raw in prompt.splitlines():
        line = raw.strip()
        if not line:
            continue
        match = _LINE.match(line)
        if match is None:
            return None
        name = _NAME_BY_LABEL.get(match["label"].lower())
        value = _normalise(match["value"])
        if name is None or name in values or not value:
            return None
        values[name] = value
    if not values:
        return None
    return PromptParts(**values)


def prompt_too_long(prompt: str, max_chars: int = DEFAULT_MAX_CHARS) -> str | None:
    """What to tell the user when the prompt is over the limit, with by how much; None when it fits."""
    text = prompt.strip()
    if len(text) <= max_chars:
        return None
    over = len(text) - max_chars
    return f"The prompt is {len(text):,} characters; the limit is {max_chars:,}. Shorten it by {over:,}."


def validate_prompt(prompt: str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """The prompt with surrounding whitespace removed, or PromptRejected."""
    text = prompt.strip()
    if not text:
        raise PromptRejected("Write a prompt first: describe the shot you want.", code="prompt_empty")
    too_long = prompt_too_long(text, max_chars)
    if too_long:
        raise PromptRejected(too_long, code="prompt_too_long")
    return text


# Emphasis as a chat assistant writes it: **bold**, __bold__, *italic*, _italic_, ~~struck~~. A marker must touch
# its words on the inside and not be inside a word (snake_case, 2 * 3 stay as written).
_EMPHASIS = [re.compile(r"(?<![\w*])\*\*(?=\S)(.+?)(?<=\S)\*\*(?![\w*])"),
             re.compile(r"(?<!\w)__(?=\S)(.+?)(?<=\S)__(?!\w)"),
             re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"),
             re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])"),
             re.compile(r"(?<!\w)_(?=[^\s_])(.+?)(?<=[^\s_])_(?!\w)")]


def without_emphasis(text: str) -> str:
    """`text` with markdown emphasis markers taken off their words: what a title or a toast shows."""
    for pattern in _EMPHASIS:
        text = pattern.sub(r"\1", text)
    return text


def short_title(text: str, limit: int = 60) -> str:
    """`text` on one line, without emphasis markers, cut at a word boundary with "…" when longer than `limit`."""
    line = without_emphasis(re.sub(r"\s+", " ", text).strip())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    if " " in cut and line[limit - 1] != " ":
        cut = cut.rsplit(" ", 1)[0]  # never end on half a word
    return cut.rstrip(" ,;:-–—") + "…"
