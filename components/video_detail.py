"""One video's page: the player, every fact, its history, and its lineage (parent and children)."""

from __future__ import annotations

import base64
import html
from datetime import datetime
from pathlib import Path

import streamlit as st

from components import video_card
from components.context import StudioContext
from components.drawer import drawer
from components.finish_panel import finish_panel
from components.gallery_card import PLAYING, action_buttons
from components.job_panel import failure_notice
from components.plain_text import counted, escape_markdown, title_of
from components.review_panel import review_panel
from components.trash import in_trash_notice
from studio.jobs import BLENDED_WITH
from studio.library import VideoRecord
from studio.media.thumbnails import frames_strip


def _when(timestamp: float | None) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M") if timestamp else "—"


ANCESTORS_SHOWN = 8  # a longer chain shows its nearest steps


def _lineage_link(record: VideoRecord, relation: str) -> None:
    # The title is cut at a word; the lineage container's CSS (app.py) wraps the link instead of clipping it.
    st.page_link("app_pages/video.py", label=f"{relation}: {title_of(record, 60)}", help=title_of(record, 400),
                 icon=":material/account_tree:", query_params={"video": record.video_id})


def ancestors(context: StudioContext, record: VideoRecord) -> tuple[list[VideoRecord], str | None]:
    """What `record` was made from, oldest first, and the id of the first one no longer in this library."""
    chain: list[VideoRecord] = []
    parent_id = record.parent_video_id
    while parent_id and len(chain) < ANCESTORS_SHOWN and parent_id not in {r.video_id for r in chain}:
        parent = context.library.get(parent_id)
        if parent is None:
            return chain[::-1], parent_id
        chain.append(parent)
        parent_id = parent.parent_video_id
    return chain[::-1], None


FILM_HANDLING = {"copied": "copied", "encoded": "re-encoded", "none": "none"}


def server_facts(record: VideoRecord) -> None:
    """What the server said about the render beyond OpenAI's fields: vLLM-Omni's time and memory, and the rest. A
    storyboard's film was made here, not by a server: how it was joined instead."""
    extra = record.extra
    if record.kind == "storyboard":
        video, audio = (FILM_HANDLING.get(str(extra.get(k)), "unknown") for k in ("video", "audio"))
        shots = counted(len(extra.get("shots") or []), "shot")
        st.caption(f"Joined here from {shots} · picture {video} · sound {audio}")
        return
    if record.kind == "finish":  # made here too: what was done to its source
        steps = (extra.get("finish") or {}).get("steps") or []
        st.caption("Finished here: " + escape_markdown("; ".join(str(s) for s in steps) or "re-encoded"))
        return
    facts = []
    if isinstance(seconds := extra.get("inference_time_s"), int | float) and not isinstance(seconds, bool):
        facts.append(f"Rendered in {seconds:,.1f} s")
    if isinstance(memory := extra.get("peak_memory_mb"), int | float) and not isinstance(memory, bool) and memory:
        facts.append(f"peak GPU memory {memory:,.0f} MB")
    if facts:
        st.caption(" · ".join(facts))
    others = {k: v for k, v in extra.items() if k not in ("inference_time_s", "peak_memory_mb", "seed", BLENDED_WITH)}
    if others:
        with st.expander("More from the server", icon=":material/data_object:"):
            st.json(others, expanded=True)


def lineage(context: StudioContext, record: VideoRecord) -> None:
    """What it was made from and what was made from it; for a storyboard's film, its shots and its storyboard."""
    chain, lost_id = ancestors(context, record)
    children = context.library.children(record.video_id)
    shots = (record.extra.get("shots") or []) if record.kind == "storyboard" else []
    if not (chain or children or lost_id or shots):
        return
    with st.container(key="lineage_chain"):
        _lineage_steps(context, record, chain, lost_id, children, shots)


def _lineage_steps(context: StudioContext, record: VideoRecord, chain: list[VideoRecord], lost_id: str | None,
                   children: list[VideoRecord], shots: list[str]) -> None:
    st.markdown("**Lineage**" + (", oldest first" if len(chain) > 1 else ""))
    if lost_id:
        st.caption(f"Made from {escape_markdown(lost_id)} (not in this library).")
    for ancestor in chain:  # each step says how it was made; this video is the last step
        _lineage_link(ancestor, video_card.MADE_BY.get(ancestor.kind, ancestor.kind.capitalize()))
    if chain:
        st.caption(f"↳ This video ({video_card.MADE_BY.get(record.kind, record.kind).lower()})")
    if (into := record.extra.get(BLENDED_WITH)) and (second := context.library.get(str(into))) is not None:
        _lineage_link(second, "Blended into")  # a blend's second source
    for number, shot_id in enumerate(shots, 1):
        if (shot := context.library.get(shot_id)) is not None:
            _lineage_link(shot, f"Shot {number}")
        else:
            st.caption(f"Shot {number}: {escape_markdown(str(shot_id))} (no longer in this library).")
    if storyboard_id := record.extra.get("storyboard_id") if shots else None:
        st.page_link("app_pages/storyboard.py", label="Open its storyboard", icon=":material/view_carousel:",
                     query_params={"storyboard": storyboard_id})
    for child in children:
        _lineage_link(child, video_card.MADE_BY.get(child.kind, child.kind.capitalize()))


def back_to_grid() -> None:
    st.session_state.pop(PLAYING, None)
    if "video" in st.query_params:
        del st.query_params["video"]


def video_detail(context: StudioContext, video_id: str) -> None:
    st.button("Back to the gallery", icon=":material/arrow_back:", on_click=back_to_grid, key="detail_back")
    record = context.library.get(video_id)
    if record is None:
        st.warning(f"There is no video '{escape_markdown(video_id)}' in this library. It may have been deleted, "
                   "or made elsewhere: try Sync.", icon=":material/search_off:")
        return
    left, right = st.columns([1.6, 1], gap="large")
    with left:
        if record.status == "completed":
            # Opened with a card's Play (a click on its picture): it plays at once, not after a second click.
            # Kept while the page is open, so a rerun (Favourite, say) leaves the player as it is.
            video_card.player(context.library, record, autoplay=st.session_state.get(PLAYING) == video_id)
        else:
            video_card.thumbnail(context.library, record)
            failure_notice(context, record)
    with right:
        head, badge = st.columns([3, 1], vertical_alignment="center")
        head.subheader(title_of(record, 80))
        with badge:
            video_card.status_badge(record)
        st.markdown(f"> {escape_markdown(record.prompt)}" if record.prompt else "_No prompt recorded._")
        st.caption(" · ".join(filter(None, (video_card.summary_line(record),
                                            video_card.sound_text(context.library, record)))))
        st.caption(f"Made {_when(record.created_at)} on {escape_markdown(record.provider)} · "
                   f"id {escape_markdown(record.video_id)}")
        video_card.tags_line(record)
        sent = {k: v for k, v in record.params.items() if k != "seed"}
        if record.seed is not None or sent:
            seed = [f"seed {record.seed}"] if record.seed is not None else []
            sent_words = [f"{k.replace('_', ' ')} {v}" for k, v in sorted(sent.items())]
            st.caption(escape_markdown(" · ".join(seed + sent_words)))
        server_facts(record)
        if record.remote_deleted:
            st.caption(f"{video_card.only_here_reason(record)}; this library keeps its copy.")
        elif record.expires_at:
            st.caption(f"Provider copy expires {_when(record.expires_at)}; the library copy stays.")
        if record.trashed_at is not None:
            in_trash_notice(context, record)
        else:
            action_buttons(context, record, key="detail", per_row=2)

        lineage(context, record)
        with st.expander("History", icon=":material/history:"):
            for entry in context.library.history(record.video_id):
                note = f" — {entry.note}" if entry.note else ""
                st.caption(escape_markdown(f"{_when(entry.at)} · {entry.status} {entry.progress}%{note}"))
    # Review: status, folder, Share for review and comments (components/review_panel.py), under the player, where
    # comments have the width to be read.
    if record.trashed_at is None:
        with left:
            review_panel(context, record)
    video = context.library.path(record.video_path)
    # Built only while open: the strip is made from the MP4 the first time.
    if video is not None and (frames := drawer("Frames", icon=":material/view_module:", key="video_frames")):
        with frames:
            frames_row(video, record)
    # Finish (issue 23): trim, format, logo, subtitles, end card, music; exports a new, linked video.
    finish_panel(context, record)


def frames_row(video: Path, record: VideoRecord) -> None:
    """The frames in one row that scrolls sideways (app.py's .studio-frames), never screens tall."""
    strip = frames_strip(video)
    if strip is None:
        st.caption("The frames cannot be read from this video.")
        return
    data = base64.b64encode(strip.read_bytes()).decode()
    st.html(f"<div class='studio-frames'><img src='data:image/jpeg;base64,{data}' "
            f"alt='Frames of {html.escape(record.display_title)}'></div>")
