"""A video's review on its page: status, folder, Share for review, comments and the status history; and the folder
dialog and review badge its gallery card shares. studio.review decides who may do what; this only draws."""

from __future__ import annotations

from datetime import datetime

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from components.context import StudioContext
from components.feedback import queue_toast, show_error
from components.plain_text import escape_markdown, title_of
from studio import review
from studio.errors import StudioError
from studio.library import VideoRecord
from studio.share import review_page, share_refusal, shared_size

# The badge a card shows for each status past Draft (a draft is every new video: no badge).
REVIEW_BADGES = {
    "in_review": ("blue", ":material/rate_review:"),
    "approved": ("green", ":material/verified:"),
    "changes_requested": ("orange", ":material/undo:"),
}
FILING = "review_filing"  # the video whose folder dialog is open
NO_FOLDER = ""
ERROR = "review_error"  # a refusal from a callback, shown on the next run


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def review_badge(record: VideoRecord) -> str:
    """The review status as a Markdown badge, "" for a draft."""
    if record.review_status not in REVIEW_BADGES:
        return ""
    color, icon = REVIEW_BADGES[record.review_status]
    return f":{color}-badge[{icon} {review.review_label(record.review_status)}]"


def folder_text(record: VideoRecord) -> str:
    return f":material/folder: {escape_markdown(record.folder)}" if record.folder else ""


def ask_folder(video_id: str, menu_key: str | None = None) -> None:
    if menu_key:  # a card's "⋯" menu closes, so the dialog is the one thing open
        st.session_state[menu_key] = False
    st.session_state[FILING] = video_id


def close_folder() -> None:
    video_id = st.session_state.pop(FILING, None)
    st.session_state.pop(f"folder_pick_{video_id}", None)  # opened again, it starts at the folder it is in


@st.dialog("File in a folder", on_dismiss=close_folder)
def folder_dialog(context: StudioContext, video_id: str) -> None:
    """Pick a folder (a campaign) or type a new one's name; "No folder" takes it out."""
    record = context.library.get(video_id)
    if record is None:
        close_folder()
        st.info("It is already gone.")
        return
    st.markdown(f"File **{title_of(record, 80)}** in:")
    folders = [NO_FOLDER, *context.library.folders()]
    chosen = st.selectbox(
        "Folder",
        folders,
        index=folders.index(record.folder) if record.folder in folders else 0,
        key=f"folder_pick_{video_id}",
        accept_new_options=True,
        format_func=lambda f: f or "No folder",
        help="Pick a folder, or type a new one's name (a campaign, a client) and press Enter.",
    )
    if st.button("Save", key=f"folder_save_{video_id}", type="primary", icon=":material/folder:"):
        try:
            filed = review.file_in_folder(context.library, video_id, chosen or NO_FOLDER, context.jobs.actor)
        except StudioError as error:
            show_error(error)
            return
        close_folder()
        queue_toast(
            f"Filed in {escape_markdown(filed.folder)}." if filed.folder else "Taken out of its folder.",
            icon=":material/folder:",
        )
        st.rerun()


def _set_status(context: StudioContext, video_id: str, key: str) -> None:
    try:
        review.set_review_status(context.library, video_id, st.session_state[key], context.jobs.actor)
    except StudioError as error:
        st.session_state[ERROR] = error


def _add_comment(context: StudioContext, video_id: str, key: str) -> None:
    try:
        review.add_comment(context.library, video_id, st.session_state.get(key) or "", context.jobs.actor)
    except StudioError as error:
        st.session_state[ERROR] = error  # the text stays in the box
        return
    st.session_state[key] = ""


def _delete_comment(context: StudioContext, comment_id: int) -> None:
    try:
        review.delete_comment(context.library, comment_id, context.jobs.actor)
    except StudioError as error:
        st.session_state[ERROR] = error
        return
    queue_toast("Comment deleted.", icon=":material/delete:")


def review_panel(context: StudioContext, record: VideoRecord) -> None:
    """The review block of a video's page."""
    with st.container(key="review_panel", border=True):
        st.markdown("**Review**")
        if (error := st.session_state.pop(ERROR, None)) is not None:
            show_error(error)
        status, folder, share = st.columns([2, 2, 3], vertical_alignment="bottom")
        _status_and_folder(context, record, status, folder)
        with share:
            _share(context, record)
        _comments(context, record)
        changes = review.review_history(context.library, record.video_id)
        if changes:
            with st.expander(f"Review history ({len(changes)})", icon=":material/history:"):
                for change in changes:
                    st.caption(f"{_when(change.at)} · {change.label} · {escape_markdown(change.author or 'someone')}")


def _status_and_folder(
    context: StudioContext, record: VideoRecord, status: DeltaGenerator, folder: DeltaGenerator
) -> None:
    allowed = review.may_review(context.jobs.actor, record)
    key = f"review_status_{record.video_id}"
    st.session_state[key] = record.review_status  # what the library says, whatever this session last picked
    status.selectbox(
        "Review status",
        list(review.REVIEW_STATUSES),
        key=key,
        format_func=review.review_label,
        on_change=_set_status,
        args=(context, record.video_id, key),
        disabled=not allowed or record.status != "completed",
        help=None if allowed else "Only its owner or an admin can change it; anyone can comment.",
    )
    if allowed:
        folder.button(
            escape_markdown(record.folder) if record.folder else "File in a folder",
            icon=":material/folder:",
            key=f"review_folder_{record.video_id}",
            on_click=ask_folder,
            args=(record.video_id,),
            width="stretch",
            help="File it in a folder (a campaign)",
        )
    elif record.folder:
        folder.caption(folder_text(record))


def _share(context: StudioContext, record: VideoRecord) -> None:
    if record.status != "completed":
        return
    if (refusal := share_refusal(context.library, record)) is not None:
        st.caption(f":material/share: {escape_markdown(refusal)}")
        return
    library, video_id = context.library, record.video_id
    # A callable: the page (the whole MP4 in base64) is built on the click, with the comments as they are then.
    st.download_button(
        f"Share for review ({shared_size(library, record)})",
        data=lambda: review_page(library, library.get(video_id) or record),
        file_name=f"review-{video_id[-8:]}.html",
        mime="text/html",
        icon=":material/share:",
        key=f"review_share_{video_id}",
        on_click="ignore",
        width="stretch",
        help="One HTML file: the video, its prompt, facts and comments. It opens from disk and needs no network, "
        "so it can be sent outside the studio.",
    )


def _comments(context: StudioContext, record: VideoRecord) -> None:
    notes = review.comments(context.library, record.video_id)
    st.markdown(f"**Comments** ({len(notes)})" if notes else "**Comments**")
    for note in notes:
        with st.container(key=f"comment_{note.id}"):
            said, delete = st.columns([12, 1], vertical_alignment="top")
            said.markdown(
                f"**{escape_markdown(note.author or 'Someone')}** · :gray[{_when(note.created_at)}]  \n"
                f"{escape_markdown(note.body)}"
            )
            if review.may_delete_comment(context.jobs.actor, note):
                delete.button(
                    "",
                    icon=":material/delete:",
                    key=f"comment_delete_{note.id}",
                    type="tertiary",
                    help="Delete this comment",
                    on_click=_delete_comment,
                    args=(context, note.id),
                )
    key = f"comment_text_{record.video_id}"
    st.text_area("Add a comment", key=key, placeholder="What works, what to change…", height=80)
    st.button(
        "Comment",
        key=f"comment_add_{record.video_id}",
        icon=":material/add_comment:",
        on_click=_add_comment,
        args=(context, record.video_id, key),
    )
