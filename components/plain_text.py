"""User text (titles, prompts) shown as text: Streamlit renders labels, captions and toasts as Markdown."""

from __future__ import annotations

import re

from studio.library import VideoRecord
from studio.prompts import short_title

# Characters that start Markdown or Streamlit's own markup (:red[...], :material/icon:, $math$) anywhere in a line.
_INLINE_MARKUP = re.compile(r"([\\`*_{}\[\]<>$:|~&!^])")
# Characters that start a block only at the start of a line: headings, lists, numbered lists.
_LINE_START = re.compile(r"^(\s*)([#+-]|\d+[.)])")
# GFM links bare URLs and emails after parsing, so escapes do not stop it; an invisible word joiner does.
_AUTOLINK = re.compile(r"(://|www\.|@)")
WORD_JOINER = "\u2060"


def escape_markdown(text: str) -> str:
    """`text` that Markdown shows exactly as written; line breaks are kept as line breaks."""
    lines = []
    for line in text.splitlines() or [""]:
        line = _AUTOLINK.sub(lambda m: m[1][0] + WORD_JOINER + m[1][1:], line)
        line = _INLINE_MARKUP.sub(r"\\\1", line)
        line = _LINE_START.sub(lambda m: m[1] + m[2][:-1] + "\\" + m[2][-1], line)
        lines.append(line)
    return "  \n".join(lines)


def title_of(record: VideoRecord, limit: int = 60) -> str:
    """The record's title (its whole prompt when untitled) on one line, cut at a word with "…", escaped."""
    return escape_markdown(short_title(record.title or record.prompt or record.video_id, limit))


def counted(number: int, noun: str) -> str:
    """"1 shot", "2 shots": a count and its noun, singular for one."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
