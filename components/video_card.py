"""Showing one video: the player, its download button, its summary line and its links."""

from __future__ import annotations

import base64
import functools
import html
import re
import time
from datetime import datetime
from typing import Literal

import streamlit as st

from components.plain_text import escape_markdown
from studio.library import Library, VideoRecord
from studio.media.sound import has_sound
from studio.pricing import format_usd
from studio.provider.profiles import ProviderOffer

PORTRAIT_WIDTH = 340
STATUS_BADGES = {
    "queued": ("Queued", "gray"),
    "in_progress": ("Rendering", "blue"),
    "completed": ("Ready", "green"),
    "failed": ("Failed", "red"),
    "timed_out": ("Timed out", "orange"),
}


def summary_line(record: VideoRecord) -> str:
    if record.kind == "storyboard":
        cost = "joined from its shots"  # each shot's cost is counted on the shot, not twice here
    elif record.kind == "finish":
        cost = "finished here"  # made in this studio from its source, whose cost is counted on the source
    else:
        cost = "cost unknown" if record.cost_usd is None else format_usd(record.cost_usd)
    # The model, size, seconds and id come from a server or a batch file: hostile input, shown as Markdown that
    # may hold HTML (a gallery card's text shares the thumbnail's element), so each is escaped.
    model, size, seconds = (escape_markdown(str(value)) for value in (record.model, record.size, record.seconds))
    return f"{model} · {size} · {seconds} s · {cost}"


def short_id(record: VideoRecord) -> str:
    """Enough of the id to tell apart cards with the same prompt."""
    return record.video_id.removeprefix("video_")[-8:]


# How each kind of video was made, as a lineage step and a card's badge say it.
MADE_BY = {"generate": "Original", "image": "From an image", "remix": "Remix", "edit": "Edit", "extend": "Extend",
           "storyboard": "Film", "loop": "Loop", "blend": "Blend", "finish": "Finished"}
# Made from other videos: the card says how.
LINEAGE_BADGED = ("remix", "edit", "extend", "storyboard", "loop", "blend", "finish")


def identity_line(record: VideoRecord) -> str:
    """What tells one take from its siblings: how it was made (a badge), its variant number and its seed."""
    parts = [f":violet-badge[{MADE_BY[record.kind]}]"] if record.kind in LINEAGE_BADGED else []
    if record.variant_index is not None:
        parts.append(f"Variant {record.variant_index + 1}")
    seed = record.seed if record.seed is not None else record.params.get("seed")  # used, else asked for
    if seed is not None:
        parts.append(f"seed {escape_markdown(str(seed))}")
    return " · ".join(parts)


def made_line(record: VideoRecord) -> str:
    return f"Made {datetime.fromtimestamp(record.created_at):%d %b %H:%M} · id {escape_markdown(short_id(record))}"


def _badge(record: VideoRecord) -> tuple[str, str]:
    """The status's label and colour; a status no one expected (a server's word) is shown as text."""
    label, color = STATUS_BADGES.get(record.status, (escape_markdown(record.status), "gray"))
    return label, color


def status_badge(record: VideoRecord) -> None:
    label, color = _badge(record)
    st.badge(label, color=color)  # type: ignore[arg-type]


def badge_markup(record: VideoRecord) -> str:
    """The status badge as Markdown, to sit in a line of text rather than take an element (and columns)."""
    label, color = _badge(record)
    return f":{color}-badge[{label}]"


def elapsed(record: VideoRecord) -> str:
    end = record.completed_at or time.time()
    seconds = max(0, int(end - record.created_at))
    return f"{seconds // 60}:{seconds % 60:02d}"


def file_name(record: VideoRecord) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", record.display_title.lower()).strip("-")[:48] or "video"
    return f"{slug}-{record.video_id[-8:]}.mp4"


def player(library: Library, record: VideoRecord, *, width: int | Literal["stretch"] | None = None,
           autoplay: bool = False) -> bool:
    """Play the archived copy. False (with a hint) when there is nothing to play yet. `width` None: a
    portrait clip gets a fixed width, a landscape one the column's."""
    path = library.path(record.video_path)
    if path is None or not path.exists():
        st.info("This video has not been downloaded yet. It is fetched as soon as it is ready; "
                "use Sync in the Gallery if it was made elsewhere.", icon=":material/hourglass_top:")
        return False
    # Portrait clips at full column width would be taller than the screen.
    if width is None:
        try:
            across, down = (int(v) for v in record.size.split("x"))
        except ValueError:  # the size a server said is no WIDTHxHEIGHT
            across, down = 1, 0
        width = PORTRAIT_WIDTH if down > across else "stretch"
    # Unmuted where there is sound to hear; a silent clip is muted, so a browser lets it autoplay.
    st.video(str(path), width=width, autoplay=autoplay, muted=not has_sound(path))
    return True


def sound_text(library: Library, record: VideoRecord) -> str:
    """"with sound" or "no sound" for a downloaded clip; "" before there is a file to tell from."""
    sound = has_sound(library.path(record.video_path)) if record.video_path else None
    return "" if sound is None else (":material/volume_up: with sound" if sound else ":material/volume_off: no sound")


def download_button(library: Library, record: VideoRecord, key: str) -> None:
    path = library.path(record.video_path)
    if path is None or not path.exists():
        return
    # A callable defers reading the file until the click, so a grid never loads MP4 bytes.
    st.download_button("Download", data=lambda: path.open("rb"), file_name=file_name(record), mime="video/mp4",
                       icon=":material/download:", key=key, on_click="ignore", width="stretch")


def only_here_reason(record: VideoRecord) -> str:
    """Why the provider has no copy of a video the library has: a film joined here never had one."""
    return {"storyboard": "Joined in this studio from its shots",
            "finish": "Finished in this studio from its source"}.get(record.kind, "Deleted on the provider")


ACTION_ICONS = {"Remix": ":material/auto_fix_high:", "Edit": ":material/edit_note:", "Extend": ":material/more_time:"}


def actions_for(record: VideoRecord | None, caps: ProviderOffer) -> tuple[str, ...]:
    """What can be done to a finished video (Remix, Edit, Extend, as the provider offers). A remix starts from the
    provider's copy, so not for a video only in this library (deleted there, or a storyboard's film, made here);
    an edit or extension sends the library's MP4 instead."""
    actions = caps.actions()
    return tuple(a for a in actions if a != "Remix") if record is not None and record.remote_deleted else actions


def links(record: VideoRecord, actions: tuple[str, ...]) -> None:
    """`actions`: what can be done to it (`actions_for`), each a link to the Remix page open on that action."""
    for action in actions:
        st.page_link("app_pages/remix.py", label=f"{action} it", icon=ACTION_ICONS[action],
                     query_params={"video": record.video_id, "action": action})
    st.page_link("app_pages/video.py", label="Open in gallery", icon=":material/video_library:",
                 query_params={"video": record.video_id})


def download_and_links(library: Library, record: VideoRecord, actions: tuple[str, ...], key: str) -> None:
    download_button(library, record, key=f"{key}-dl-{record.video_id}")
    links(record, actions)


@functools.lru_cache(maxsize=512)
def _inline_image(path: str) -> str:
    """Base64 of a thumbnail, read once: a video's thumbnail is written once, when it is archived. A missing
    file raises, and is not cached, so it shows once it arrives."""
    with open(path, "rb") as file:
        return base64.b64encode(file.read()).decode()


def thumbnail(library: Library, record: VideoRecord, *, under: str = "") -> None:
    """A fixed-height frame, so portrait and landscape cards line up in a grid. No file system call on a rerun.
    `under` (Markdown) goes below it, in the same element: a grid or strip of them costs fewer elements."""
    path = library.path(record.thumbnail_path)
    try:
        data = _inline_image(str(path)) if path is not None else None
    except OSError:
        data = None
    if data is not None:
        inner = f"<img src='data:image/webp;base64,{data}' alt='{html.escape(record.display_title)}'>"
    else:
        inner = {"failed": "Failed", "timed_out": "Timed out"}.get(record.status, "No preview yet")
    below = f"\n\n{under}" if under else ""
    st.markdown(f"<div class='studio-thumb'>{inner}</div>{below}", unsafe_allow_html=True)


def tags_text(record: VideoRecord) -> str:
    """The tags as typed, spaces and all ("hero shot"), separated so each reads as one tag; "" when none."""
    if not record.tag_list:
        return ""
    return ":material/sell: " + " · ".join(escape_markdown(tag) for tag in record.tag_list)


def tags_line(record: VideoRecord) -> None:
    if text := tags_text(record):
        st.caption(text)
