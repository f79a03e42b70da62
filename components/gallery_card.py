"""A gallery card (thumbnail, facts, a menu of actions) and the dialogs it opens. Never loads MP4 bytes."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from components import video_card
from components.context import StudioContext
from components.feedback import queue_toast, show_error
from components.job_panel import TICK_SECONDS, check_in, failure_notice, in_flight, retry, state_label
from components.loop_blend import can_loop, loop_button
from components.plain_text import escape_markdown, title_of
from components.review_panel import FILING, ask_folder, folder_dialog, folder_text, review_badge
from components.trash import offer_undo
from studio.errors import StudioError
from studio.library import VideoRecord
from studio.prompts import short_title

# The first is the default: a delete that can be undone. The provider's copy goes only when asked for.
DELETE_SCOPES = {
    "local": "Move to the trash (restore it within 30 days; the provider keeps its copy)",
    "both": "Move to the trash, and delete the provider copy now (that cannot be undone)",
    "provider": "Provider copy only (keep the file in this library)",
}


DELETING = "gallery_deleting"  # the video whose delete dialog is open, so it survives reruns


PLAYING = "gallery_play_on_open"  # the video a card's Play opened: its page starts playing it


def open_video(video_id: str) -> None:
    st.query_params["video"] = video_id


def play_video(video_id: str) -> None:
    st.session_state[PLAYING] = video_id
    open_video(video_id)


def _close_menu(menu_key: str | None) -> None:
    """Close the card's "⋯" menu, so the dialog it asked for is the one thing open."""
    if menu_key:
        st.session_state[menu_key] = False


def ask_delete(video_id: str, menu_key: str | None = None) -> None:
    _close_menu(menu_key)
    st.session_state[DELETING] = video_id


def close_delete() -> None:
    st.session_state.pop(DELETING, None)


def _still_there(context: StudioContext, video_id: str, close: Callable[[], None]) -> VideoRecord | None:
    """The video a dialog is about; None, once said and the dialog's state dropped, when it is gone."""
    record = context.library.get(video_id)
    if record is None:
        close()
        st.info("It is already gone.")
    return record


@st.dialog("Delete video", on_dismiss=close_delete)
def delete_dialog(context: StudioContext, video_id: str) -> None:
    if (record := _still_there(context, video_id, close_delete)) is None:
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
        if scope in ("local", "both"):
            offer_undo(video_id)
            if st.query_params.get("video") == video_id:
                del st.query_params["video"]
        queue_toast(said, icon=":material/delete:")
        st.rerun()


RENAMING = "gallery_renaming"  # the video whose rename dialog is open


def ask_rename(video_id: str, menu_key: str | None = None) -> None:
    _close_menu(menu_key)
    st.session_state[RENAMING] = video_id


def close_rename() -> None:
    st.session_state.pop(RENAMING, None)


@st.dialog("Rename and tag", on_dismiss=close_rename)
def rename_dialog(context: StudioContext, video_id: str) -> None:
    if (record := _still_there(context, video_id, close_rename)) is None:
        return
    # Opens with the title as shown (the prompt's start when untitled), ready to edit rather than retype.
    current = record.title or short_title(record.prompt or record.video_id, 80)
    title = st.text_input("Title", value=current, key=f"rename_title_{video_id}")
    tags = st.text_input("Tags", value=record.tags, key=f"rename_tags_{video_id}", placeholder="spring, hero shot",
                         help="Comma-separated.")
    if st.button("Save", key=f"rename_save_{video_id}", type="primary"):
        try:
            context.library.rename(video_id, title=title.strip(), tags=", ".join(
                t.strip() for t in tags.split(",") if t.strip()), actor=context.jobs.actor)
        except StudioError as error:
            show_error(error)
            return
        close_rename()
        queue_toast("Saved.")
        st.rerun()


def dialog_if_open(context: StudioContext) -> None:
    """The delete, rename or folder dialog a button asked for; none is built otherwise."""
    if video_id := st.session_state.get(DELETING):
        delete_dialog(context, video_id)
    elif video_id := st.session_state.get(RENAMING):
        rename_dialog(context, video_id)
    elif video_id := st.session_state.get(FILING):
        folder_dialog(context, video_id)


def may_change(context: StudioContext, record: VideoRecord) -> bool:
    """Whether this person may favourite, rename or delete it: only hides buttons; the library and jobs check again."""
    return context.jobs.actor is None or context.jobs.actor.may_change(record.owner)


def _toggle_favourite(context: StudioContext, record: VideoRecord) -> None:
    context.library.set_favourite(record.video_id, not record.favourite, context.jobs.actor)


def _slots(per_row: int) -> Iterator[DeltaGenerator]:
    """Where each next button goes: `per_row` to a row, so labels never wrap."""
    while True:
        yield from st.columns(per_row) if per_row > 1 else [st.container()]


def action_buttons(context: StudioContext, record: VideoRecord, key: str, *, per_row: int,
                   menu_key: str | None = None) -> None:
    """What can be done to a video, `per_row` buttons to a row. In a card's menu (`menu_key`) a failed video
    also gets Details (a finished one opens with Play), and a button that opens a dialog closes the menu."""
    slot = _slots(per_row)
    video_id = record.video_id
    if record.status == "completed":
        with next(slot):
            video_card.download_button(context.library, record, key=f"{key}_dl_{video_id}")
        # Each of Remix, Edit and Extend the provider offers: the Remix page opens on that action.
        for action in video_card.actions_for(record, context.provider.capabilities):
            if next(slot).button(action, key=f"{key}_{action.lower()}_{video_id}", width="stretch",
                                 icon=video_card.ACTION_ICONS[action]):
                st.switch_page("app_pages/remix.py", query_params={"video": video_id, "action": action})
        if can_loop(context, record):
            loop_button(context, record, next(slot), key)
    elif record.status in ("failed", "timed_out"):
        if next(slot).button("Retry", key=f"{key}_retry_{video_id}", icon=":material/refresh:", width="stretch"):
            retry(context, video_id)
        if menu_key:
            next(slot).button("Details", key=f"{key}_open_{video_id}", icon=":material/info:", on_click=open_video,
                              args=(video_id,), width="stretch")
    if not may_change(context, record):  # someone else's: seen and remixed, changed only by them or an admin
        return
    next(slot).button("Unfavourite" if record.favourite else "Favourite", key=f"{key}_fav_{video_id}",
                      icon=":material/star:" if record.favourite else ":material/star_border:", width="stretch",
                      on_click=_toggle_favourite, args=(context, record))
    next(slot).button("Rename", key=f"{key}_rename_{video_id}", icon=":material/edit:", width="stretch",
                      help="Rename or tag this video", on_click=ask_rename, args=(video_id, menu_key))
    if menu_key:  # on the video's page, its review panel files it
        next(slot).button("Folder", key=f"{key}_folder_{video_id}", icon=":material/folder:", width="stretch",
                          help="File it in a folder (a campaign)", on_click=ask_folder, args=(video_id, menu_key))
    next(slot).button("Delete", key=f"{key}_del_{video_id}", icon=":material/delete:", width="stretch",
                      on_click=ask_delete, args=(video_id, menu_key))


def live_progress(context: StudioContext, video_id: str) -> None:
    """A card's progress, re-read from the library on the job panel's beat, so it moves as the sidebar's does; when
    the job ends the whole page reruns, and the card gets its thumbnail and Play."""

    @st.fragment(run_every=TICK_SECONDS)
    def tick() -> None:
        [record] = check_in(context, [video_id])
        # With why it is not moving, when the last poll said (a server down, or the profile moved).
        waiting = f" · {escape_markdown(record.last_poll_error)}" if record.last_poll_error else ""
        st.progress(min(100, max(0, record.progress)) / 100,
                    text=f"{state_label(record)} {record.progress}%{waiting}")

    tick()


def gallery_card(context: StudioContext, record: VideoRecord, key: str) -> None:
    """Thumbnail (a click plays it), title, facts, and one "⋯" menu that builds its buttons only when opened.

    Few elements, and no container of its own: a grid of cards is what the gallery's rerun costs, and a container
    a card cost it an eighth. So the thumbnail, the title and the facts are one element (the facts set small and
    grey as a caption would be), and the card is the run of its elements in its column: Play first, which app.py's
    CSS lays over the thumbnail that follows it; the "⋯" menu last, with the space between cards below it."""
    video_id = record.video_id
    if record.status == "completed":
        st.button("Play", key=f"{key}_play_{video_id}", icon=":material/play_arrow:", on_click=play_video,
                  args=(video_id,))
    star = "★ " if record.favourite else ""
    facts = (video_card.summary_line(record), video_card.sound_text(context.library, record),
             video_card.made_line(record), video_card.tags_text(record), folder_text(record))
    small = "  \n".join(line for line in facts if line)
    identity = video_card.identity_line(record)  # variants share a title: these tell them apart
    video_card.thumbnail(context.library, record, under=f"**{star}{title_of(record, 48)}** "
                         f"{video_card.badge_markup(record)} {review_badge(record)}\n\n{identity}"
                         f"\n\n:small[:gray[{small}]]")
    if record.status in ("failed", "timed_out"):
        failure_notice(context, record)
    elif in_flight(record):  # rendering, or finished there and still downloading (with why, if it is stuck)
        live_progress(context, video_id)
    menu_key = f"{key}_menu_{video_id}"
    menu = st.popover("⋯", key=menu_key, on_change="rerun", help="Download, remix, favourite, rename, file or delete")
    if menu.open:
        with menu:
            action_buttons(context, record, key, per_row=1, menu_key=menu_key)
