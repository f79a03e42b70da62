"""Showing one video: the player, its download button, its summary line and its links."""

from __future__ import annotations

import base64
import html
import re
import time
from datetime import datetime

import streamlit as st

from components.plain_text import escape_markdown
from studio.library import Library, VideoRecord
from studio.pricing import format_usd

PORTRAIT_WIDTH = 340
STATUS_BADGES = {
    "queued": ("Queued", "gray"),
    "in_progress": ("Rendering", "blue"),
    "completed": ("Ready", "green"),
    "failed": ("Failed", "red"),
    "timed_out": ("Timed out", "orange"),
}


def summary_line(record: VideoRecord) -> str:
    cost = "cost unknown" if record.cost_usd is None else format_usd(record.cost_usd)
    return f"{record.model} · {record.size} · {record.seconds} s · {cost}"


def short_id(record: VideoRecord) -> str:
    """Enough of the id to tell apart cards with the same prompt."""
    return record.video_id.removeprefix("video_")[-8:]


def made_line(record: VideoRecord) -> str:
    return f"Made {datetime.fromtimestamp(record.created_at):%d %b %H:%M} · id {short_id(record)}"


def status_badge(record: VideoRecord) -> None:
    label, color = STATUS_BADGES.get(record.status, (record.status, "gray"))
    st.badge(label, color=color)  # type: ignore[arg-type]


def elapsed(record: VideoRecord) -> str:
    end = record.completed_at or time.time()
    seconds = max(0, int(end - record.created_at))
    return f"{seconds // 60}:{seconds % 60:02d}"


def file_name(record: VideoRecord) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", record.display_title.lower()).strip("-")[:48] or "video"
    return f"{slug}-{record.video_id[-8:]}.mp4"


def player(library: Library, record: VideoRecord) -> bool:
    """Play the archived copy. False (with a hint) when there is nothing to play yet."""
    path = library.path(record.video_path)
    if path is None or not path.exists():
        st.info("This video has not been downloaded yet. It is fetched as soon as it is ready; "
                "use Sync in the Gallery if it was made elsewhere.", icon=":material/hourglass_top:")
        return False
    # Portrait clips at full column width would be taller than the screen.
    width, height = (int(v) for v in record.size.split("x"))
    st.video(str(path), width=PORTRAIT_WIDTH if height > width else "stretch")
    return True


def download_button(library: Library, record: VideoRecord, key: str) -> None:
    path = library.path(record.video_path)
    if path is None or not path.exists():
        return
    # A callable defers reading the file until the click, so a grid never loads MP4 bytes.
    st.download_button("Download", data=lambda: path.open("rb"), file_name=file_name(record), mime="video/mp4",
                       icon=":material/download:", key=key, on_click="ignore", width="stretch")


def links(record: VideoRecord, actions: tuple[str, ...]) -> None:
    """`actions`: what the provider offers on a finished video (Remix, Edit, Extend); the first one is linked."""
    if actions:
        st.page_link("pages/remix.py", label=f"{actions[0]} it", icon=":material/auto_fix_high:",
                     query_params={"video": record.video_id})
    st.page_link("pages/gallery.py", label="Open in gallery", icon=":material/video_library:",
                 query_params={"video": record.video_id})


@st.cache_data(max_entries=512, show_spinner=False)
def _inline_image(path: str, modified: float) -> str:
    """Base64 of a thumbnail, read once per file version rather than on every rerun."""
    with open(path, "rb") as file:
        return base64.b64encode(file.read()).decode()


def thumbnail(library: Library, record: VideoRecord) -> None:
    """A fixed-height frame, so portrait and landscape cards line up in a grid."""
    path = library.path(record.thumbnail_path)
    if path is not None and path.exists():
        data = _inline_image(str(path), path.stat().st_mtime)
        inner = f"<img src='data:image/webp;base64,{data}' alt='{html.escape(record.display_title)}'>"
    else:
        inner = {"failed": "Failed", "timed_out": "Timed out"}.get(record.status, "No preview yet")
    st.markdown(f"<div class='studio-thumb'>{inner}</div>", unsafe_allow_html=True)


def tags_line(record: VideoRecord) -> None:
    """The tags as typed, spaces and all ("hero shot"), separated so each reads as one tag."""
    if record.tag_list:
        st.caption(":material/sell: " + " · ".join(escape_markdown(tag) for tag in record.tag_list))
