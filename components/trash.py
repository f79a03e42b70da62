"""The trash: Undo right after a delete, and the Gallery's Trash list with Restore and Empty trash."""

from __future__ import annotations

import math
import time

import streamlit as st

from components.context import StudioContext
from components.feedback import queue_toast, show_error
from components.plain_text import escape_markdown, title_of
from studio.errors import StudioError
from studio.library import TRASH_DAYS, VideoRecord

UNDO = "trash_undo"  # the video just moved to the trash: the next run offers Undo


def offer_undo(video_id: str) -> None:
    st.session_state[UNDO] = video_id


def _restore(context: StudioContext, video_id: str) -> None:
    try:
        context.library.restore(video_id, context.jobs.actor)
    except StudioError as error:
        st.session_state["trash_error"] = error
        return
    queue_toast("Restored to the library.", icon=":material/restore_from_trash:")


def undo_notice(context: StudioContext) -> None:
    """Once, after a delete: what went to the trash, with Undo. Gone on the next action, like a toast."""
    video_id = st.session_state.pop(UNDO, None)
    record = context.library.get(video_id) if video_id else None
    if record is None or record.trashed_at is None:
        return
    said, undo = st.columns([5, 1], vertical_alignment="center")
    said.info(f"Moved **{title_of(record, 60)}** to the trash.", icon=":material/delete:")
    undo.button("Undo", key=f"trash_undo_{video_id}", icon=":material/undo:", on_click=_restore,
                args=(context, video_id))


def _days_left(record: VideoRecord) -> int:
    return max(0, math.ceil(TRASH_DAYS - (time.time() - (record.trashed_at or 0)) / 86400))


def in_trash_notice(context: StudioContext, record: VideoRecord) -> None:
    """On a trashed video's own page (an old link): where it is, and Restore for whoever may."""
    st.info(f"In the trash: deleted for good in {_days_left(record)} days unless restored.", icon=":material/delete:")
    if context.jobs.actor is None or context.jobs.actor.may_change(record.owner):
        st.button("Restore", key=f"detail_restore_{record.video_id}", icon=":material/restore:", on_click=_restore,
                  args=(context, record.video_id))


def trash_section(context: StudioContext) -> None:
    """The trash, latest deleted first: each with Restore (for whoever may change it), and Empty trash."""
    if (error := st.session_state.pop("trash_error", None)) is not None:
        show_error(error)
    records = context.library.trashed()
    with st.expander(f"Trash ({len(records)})", icon=":material/delete:"):
        if not records:
            st.caption(f"Deleted videos wait here for {TRASH_DAYS} days, then go for good.")
            return
        actor = context.jobs.actor
        mine = [r for r in records if actor is None or actor.may_change(r.owner)]
        for record in records:
            facts, restore = st.columns([5, 1], vertical_alignment="center")
            owner = f" · {escape_markdown(record.owner)}" if record.owner else ""
            facts.markdown(f"**{title_of(record, 60)}**  \n:small[:gray[{_days_left(record)} days left{owner}]]")
            if record in mine:
                restore.button("Restore", key=f"trash_restore_{record.video_id}", icon=":material/restore:",
                               on_click=_restore, args=(context, record.video_id))
        if mine:
            with st.popover(f"Empty trash ({len(mine)})", icon=":material/delete_forever:"):
                st.write(f"Delete {len(mine)} videos and their files for good? This cannot be undone.")
                if st.button("Delete for good", key="trash_empty", type="primary"):
                    gone = context.library.empty_trash(actor)
                    queue_toast(f"Emptied the trash: {gone} videos deleted for good.",
                                icon=":material/delete_forever:")
                    st.rerun()
