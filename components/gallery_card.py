"""A gallery card (thumbnail, facts, actions) and the dialogs it opens. Never loads MP4 bytes."""

from __future__ import annotations

import streamlit as st

from components import video_card
from components.context import StudioContext
from components.feedback import queue_toast, show_error
from components.job_panel import failure_notice, retry
from components.plain_text import title_of
from studio.errors import StudioError
from studio.library import VideoRecord
from studio.prompts import short_title

DELETE_SCOPES = {
    "both": "Both: the provider copy and the library copy",
    "local": "Library copy only (the provider keeps its copy)",
    "provider": "Provider copy only (keep the file in this library)",
}


DELETING = "gallery_deleting"  # the video whose delete dialog is open, so it survives reruns


def open_video(video_id: str) -> None:
    st.query_params["video"] = video_id


def ask_delete(video_id: str) -> None:
    st.session_state[DELETING] = video_id


def close_delete() -> None:
    st.session_state.pop(DELETING, None)


def delete_dialog_if_open(context: StudioContext) -> None:
    video_id = st.session_state.get(DELETING)
    if video_id:
        delete_dialog(context, video_id)


@st.dialog("Delete video", on_dismiss=close_delete)
def delete_dialog(context: StudioContext, video_id: str) -> None:
    record = context.library.get(video_id)
    if record is None:
        close_delete()
        st.info("It is already gone.")
        return
    st.markdown(f"Delete **{title_of(record, 80)}**?")
    scopes = ["local"] if record.remote_deleted else list(DELETE_SCOPES)
    scope = st.radio("What to delete", scopes, format_func=DELETE_SCOPES.get, key=f"scope_{video_id}")
    if not record.is_archived and scope == "provider":
        st.caption("There is no library copy of this video, so nothing would be left to play.")
    cancel, confirm = st.columns(2)
    if cancel.button("Cancel", key=f"cancel_{video_id}", width="stretch"):
        close_delete()
        st.rerun()
    if confirm.button("Delete", type="primary", key=f"confirm_delete_{video_id}", icon=":material/delete:",
                      width="stretch"):
        try:
            said = context.jobs.delete(video_id, scope)  # type: ignore[arg-type]
        except StudioError as error:
            show_error(error)
            return
        close_delete()
        if scope in ("local", "both") and st.query_params.get("video") == video_id:
            del st.query_params["video"]
        queue_toast(said, icon=":material/delete:")
        st.rerun()


def edit_popover(context: StudioContext, record: VideoRecord, key: str) -> None:
    with st.popover("Rename", icon=":material/edit:", width="stretch", help="Rename or tag this video"):
        # Opens with the title as shown (the prompt's start when untitled), ready to edit rather than retype.
        current = record.title or short_title(record.prompt or record.video_id, 80)
        title = st.text_input("Title", value=current, key=f"{key}_title_{record.video_id}")
        tags = st.text_input("Tags", value=record.tags, key=f"{key}_tags_{record.video_id}",
                             placeholder="spring, hero shot", help="Comma-separated.")
        if st.button("Save", key=f"{key}_save_{record.video_id}", type="primary"):
            context.library.update(record.video_id, title=title.strip(), tags=", ".join(
                t.strip() for t in tags.split(",") if t.strip()))
            queue_toast("Saved.")
            st.rerun()


def favourite_button(context: StudioContext, record: VideoRecord, key: str) -> None:
    label = "Unfavourite" if record.favourite else "Favourite"
    icon = ":material/star:" if record.favourite else ":material/star_border:"
    if st.button(label, key=f"{key}_fav_{record.video_id}", icon=icon, width="stretch"):
        context.library.update(record.video_id, favourite=not record.favourite)
        st.rerun()


def card_actions(context: StudioContext, record: VideoRecord, key: str, *, play: bool = True) -> None:
    """The buttons every view of a video offers; two to a row so labels never wrap."""
    first, second = st.columns(2)
    if record.status == "completed":
        if play:
            first.button("Play", key=f"{key}_play_{record.video_id}", icon=":material/play_arrow:",
                         on_click=open_video, args=(record.video_id,), width="stretch")
        else:
            with first:
                download_button_for(context, record, key)
        # The Remix page also edits and extends: name the first thing the provider offers, or nothing.
        actions = context.provider.capabilities.actions()
        if actions and second.button(actions[0], key=f"{key}_remix_{record.video_id}",
                                     icon=":material/auto_fix_high:", width="stretch"):
            st.switch_page("pages/remix.py", query_params={"video": record.video_id})
    elif record.status in ("failed", "timed_out"):
        if first.button("Retry", key=f"{key}_retry_{record.video_id}", icon=":material/refresh:", width="stretch"):
            retry(context, record.video_id)
        second.button("Details", key=f"{key}_open_{record.video_id}", icon=":material/info:",
                      on_click=open_video, args=(record.video_id,), width="stretch")
    third, fourth = st.columns(2)
    with third:
        favourite_button(context, record, key)
    fourth.button("Delete", key=f"{key}_del_{record.video_id}", icon=":material/delete:", width="stretch",
                  on_click=ask_delete, args=(record.video_id,))
    fifth, sixth = st.columns(2)
    if play:
        with fifth:
            download_button_for(context, record, key)
    with sixth if play else fifth:
        edit_popover(context, record, key)


def download_button_for(context: StudioContext, record: VideoRecord, key: str) -> None:
    video_card.download_button(context.library, record, key=f"{key}_dl_{record.video_id}")


def gallery_card(context: StudioContext, record: VideoRecord, key: str) -> None:
    with st.container(border=True):
        video_card.thumbnail(context.library, record)
        title, badge = st.columns([3, 1.2], vertical_alignment="center")
        star = "★ " if record.favourite else ""
        title.markdown(f"**{star}{title_of(record, 48)}**")
        with badge:
            video_card.status_badge(record)
        st.caption(f"{video_card.summary_line(record)}  \n{video_card.made_line(record)}")
        video_card.tags_line(record)
        if record.status in ("failed", "timed_out"):
            failure_notice(context, record)
        elif record.is_active:
            st.progress(record.progress / 100, text=f"{record.progress}%")
        card_actions(context, record, key)
