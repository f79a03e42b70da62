"""The storyboard in the browser: pick or start one, edit its shots (prompt, length, how each starts, an image),
render them, and play the joined film. Edits are saved as they are made; rendering sends only the shots whose
render no longer matches them.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from components import video_card
from components.batch_panel import moved_in_background
from components.context import StudioContext
from components.feedback import queue_toast, show_error
from components.finish_all import finish_all
from components.generation_settings import size_label
from components.identity import current_owner
from components.plain_text import counted, escape_markdown
from studio import storyboard as boards
from studio.errors import StudioError
from studio.media.upload_limits import REFERENCE_IMAGE
from studio.prompts import short_title

TICK_SECONDS = 1.0
OPEN = "storyboard_open"  # the storyboard id this session edits
NEW = "New storyboard…"
STATUS_LABELS = {"draft": "Needs a render", "waiting": "Waiting", "queued": "Queued", "in_progress": "Rendering",
                 "completed": "Ready", "failed": "Failed", "timed_out": "Timed out"}


def storyboard_picker(context: StudioContext) -> boards.Storyboard | None:
    """The storyboard this session edits: a saved one, or a new one made here."""
    saved = boards.list_storyboards(context.library)
    names = {b.storyboard_id: f"{b.title} · {counted(len(b.shots), 'shot')}" for b in saved}
    options = [*names, NEW]
    if asked := st.query_params.get("storyboard"):  # a film's "Open its storyboard" link
        st.session_state[OPEN] = asked
        del st.query_params["storyboard"]
    # A new session opens the board this person changed last (else anyone's): not "New storyboard…", which
    # invites a duplicate.
    current = st.session_state.get(OPEN) or next(
        (b.storyboard_id for b in saved if b.owner == context.jobs.owner), saved[0].storyboard_id if saved else None)
    # No key: when a title or shot count changes, the widget starts again at the open storyboard.
    choice = st.selectbox("Storyboard", options, index=options.index(current) if current in names else len(options) - 1,
                          format_func=lambda o: names.get(o, o))
    if choice != NEW:
        st.session_state[OPEN] = choice
        return boards.load(context.library, choice)
    caps = context.provider.capabilities
    with st.form("new_storyboard", border=True):
        title = st.text_input("Title", placeholder="Harbour spot")
        model_col, size_col = st.columns(2)
        model = model_col.selectbox("Model", caps.models)
        size = size_col.selectbox("Size of the film", caps.sizes_for(caps.models[0]), format_func=size_label)
        if st.form_submit_button("Create storyboard", type="primary", icon=":material/add:"):
            board = boards.new_storyboard(title, context.provider, model, size, owner=current_owner())
            board.shots = [boards.Shot(prompt="", seconds=caps.durations[0])]
            boards.save(context.library, board)
            st.session_state[OPEN] = board.storyboard_id
            st.rerun()
    return None


def _widget_key(board: boards.Storyboard, index: int, name: str) -> str:
    return f"sb_{board.storyboard_id}_{index}_{name}"


def _forget_widgets(board: boards.Storyboard) -> None:
    """After a reorder or delete, the shot widgets read their values again from the storyboard."""
    prefix = f"sb_{board.storyboard_id}_"
    for key in [k for k in st.session_state if str(k).startswith(prefix)]:
        del st.session_state[key]


def _move(context: StudioContext, board: boards.Storyboard, index: int, to: int | None) -> None:
    """Move a shot to `to`, or remove it with None."""
    def move(saved: boards.Storyboard) -> None:
        shot = saved.shots.pop(index)
        if to is not None:
            saved.shots.insert(to, shot)

    boards.edit(context.library, board.storyboard_id, move, context.jobs.actor)
    _forget_widgets(board)


def shot_editor(context: StudioContext, board: boards.Storyboard, index: int, state: boards.ShotState | None) -> None:
    caps = context.provider.capabilities
    shot = board.shots[index]
    with st.container(border=True, key=f"shot_{index}"):
        head, badge = st.columns([4, 1], vertical_alignment="center")
        head.markdown(f"**Shot {index + 1}**")
        status = state.status if state else "draft"
        if status == "draft" and board.rendering:
            status = "waiting"  # its render is on the way; the progress line below follows it live
        badge.badge(STATUS_LABELS.get(status, status), color={"completed": "green", "failed": "red",
                                                             "in_progress": "blue"}.get(status, "gray"))
        words, picture = st.columns([3, 1])
        with words:
            prompt_key = _widget_key(board, index, "prompt")
            st.session_state.setdefault(prompt_key, shot.prompt)
            shot.prompt = st.text_area(f"Shot {index + 1} prompt", key=prompt_key, height=90,
                                       placeholder="What we see and hear in this shot")
            offered = boards.starts_offered(caps) if index > 0 else ["fresh"]
            start_key = _widget_key(board, index, "start")
            st.session_state.setdefault(start_key, shot.start if shot.start in offered else "fresh")
            length_col, start_col = st.columns(2)
            shot.start = start_col.selectbox("Starts from", offered, key=start_key,
                                             format_func=lambda s: boards.START_LABELS[s])
            lengths = caps.extension_durations if shot.start == "extend" else caps.durations
            seconds_key = _widget_key(board, index, "seconds")
            if st.session_state.get(seconds_key, shot.seconds) not in lengths:
                st.session_state[seconds_key] = lengths[0]
            st.session_state.setdefault(seconds_key, shot.seconds if shot.seconds in lengths else lengths[0])
            shot.seconds = length_col.selectbox("Seconds" + (" to add" if shot.start == "extend" else ""), lengths,
                                                key=seconds_key)
        with picture:
            if state is not None and state.video is not None and state.video.thumbnail_path:
                video_card.thumbnail(context.library, state.video)
            if state is not None and state.status in ("queued", "in_progress"):
                st.progress(min(100, state.progress) / 100, text=f"{state.progress}%")
        if shot.start == "fresh" and caps.image:
            _reference(context, board, index)
        if state is not None and state.message and state.status in ("failed", "timed_out", "waiting"):
            st.warning(escape_markdown(state.message), icon=":material/error:")
        up, down, remove, _ = st.columns([1, 1, 1, 3])
        if index > 0 and up.button("Up", icon=":material/arrow_upward:", key=_widget_key(board, index, "up")):
            _move(context, board, index, index - 1)
            st.rerun()
        if index < len(board.shots) - 1 and down.button("Down", icon=":material/arrow_downward:",
                                                        key=_widget_key(board, index, "down")):
            _move(context, board, index, index + 1)
            st.rerun()
        if len(board.shots) > 1 and remove.button("Remove", icon=":material/delete:",
                                                  key=_widget_key(board, index, "remove")):
            _move(context, board, index, None)
            st.rerun()


def _reference(context: StudioContext, board: boards.Storyboard, index: int) -> None:
    shot = board.shots[index]
    upload_key = _widget_key(board, index, "image")
    upload = st.file_uploader(f"Shot {index + 1} image (optional)", type=list(REFERENCE_IMAGE.extensions),
                              key=upload_key, max_upload_size=REFERENCE_IMAGE.max_mb,
                              help=f"The shot animates this picture, fitted to the film's size "
                                   f"({REFERENCE_IMAGE.summary}).")
    if upload is not None:
        digest = hashlib.sha256(upload.getvalue()).hexdigest()
        if st.session_state.get(f"{upload_key}_digest") != digest:
            try:
                saved = boards.edit(context.library, board.storyboard_id,
                                    lambda b: boards.set_reference(context.library, b, index, upload.getvalue()),
                                    context.jobs.actor)
                shot.reference_path = saved.shots[index].reference_path
                st.session_state[f"{upload_key}_digest"] = digest
            except StudioError as error:
                show_error(error)
    elif shot.reference_path and st.button("Remove the image", key=f"{upload_key}_remove", icon=":material/close:"):
        boards.edit(context.library, board.storyboard_id, lambda b: boards.set_reference(context.library, b, index,
                                                                                         None), context.jobs.actor)
        shot.reference_path = None
    if shot.reference_path and (path := context.library.path(shot.reference_path)) and path.exists():
        st.image(str(path), caption="Starts from this picture", width=160)


def _keep_edits(context: StudioContext, board: boards.Storyboard) -> None:
    """Save what the widgets changed (title; each shot's prompt, length and start) onto the latest saved storyboard."""
    def apply(saved: boards.Storyboard) -> None:
        saved.title = board.title
        for mine, theirs in zip(board.shots, saved.shots, strict=False):
            theirs.prompt, theirs.seconds, theirs.start = mine.prompt, mine.seconds, mine.start

    boards.edit(context.library, board.storyboard_id, apply, context.jobs.actor)


def storyboard_editor(context: StudioContext, board: boards.Storyboard) -> None:
    """The shots, saved as they change; Render; and the live shot states and film."""
    library = context.library
    if context.jobs.actor is not None and not context.jobs.actor.may_change(board.owner):
        # Someone else's: watched, not changed (studio.storyboard refuses their edits and renders anyway).
        whose = f"{escape_markdown(board.owner)}'s" if board.owner else "someone else's"
        st.info(f"This storyboard is {whose}: you can watch it; only they or an admin can change or render it.",
                icon=":material/lock:")
        render_panel(context, board)
        return
    edited = (board.title, [(s.prompt, s.seconds, s.start) for s in board.shots])
    board.title = st.text_input("Title", value=board.title, key=f"sb_{board.storyboard_id}_title") or board.title
    st.caption(f"{escape_markdown(board.model)} · {escape_markdown(size_label(board.size))} · every shot is "
               "rendered at this size, and the film is joined at it.")
    state = boards.current_state(library, board)
    for index in range(len(board.shots)):
        shot_editor(context, board, index, state.shots[index] if index < len(state.shots) else None)
    if (board.title, [(s.prompt, s.seconds, s.start) for s in board.shots]) != edited:
        _keep_edits(context, board)
    if len(board.shots) < boards.MAX_SHOTS and st.button("Add shot", icon=":material/add:", key="storyboard_add"):
        seconds = context.provider.capabilities.durations[0]
        boards.edit(library, board.storyboard_id, lambda b: b.shots.append(boards.Shot(prompt="", seconds=seconds)),
                    context.jobs.actor)
        st.rerun()

    found = boards.problems(board, context.provider)
    if found:
        st.info(escape_markdown("To render: " + " ".join(found)), icon=":material/edit_note:")
    now = boards.current_state(library, board)
    to_send = sum(s.status in ("draft", "failed", "timed_out") for s in now.shots)
    label = f"Render {counted(to_send, 'shot')} and join" if to_send else "Join the film"
    if board.last_error and not board.rendering:
        st.error(f"The last render stopped: {escape_markdown(board.last_error)}", icon=":material/error:")
    if now.done:
        st.caption("The film is up to date with every shot. Change a shot to render it again.")
    elif not board.rendering and st.button(label, type="primary", icon=":material/movie:", disabled=bool(found),
                                           key="storyboard_render"):
        try:
            boards.request_render(library, board.storyboard_id, context.provider, context.jobs.actor)
        except StudioError as error:
            show_error(error)
            return
        st.rerun()
    render_panel(context, board)


def render_panel(context: StudioContext, board: boards.Storyboard) -> None:
    """While the storyboard renders (in the background worker, or from here when it does not serve this provider):
    each shot's progress, then the film."""
    in_background = moved_in_background(context, "storyboards", boards.advance_storyboards)
    rendering = board.rendering

    @st.fragment(run_every=TICK_SECONDS if rendering else None)
    def progress() -> None:
        library = context.library
        if rendering and not in_background:
            boards.advance_storyboards(library, context.jobs)
        fresh = boards.load(library, board.storyboard_id) or board
        state = boards.current_state(library, fresh)
        if rendering:
            done = sum(s.status == "completed" for s in state.shots)
            st.progress(done / max(1, len(state.shots)),
                        text=f"Rendering: {done} of {counted(len(state.shots), 'shot')} ready · " + " · ".join(
                            f"{i + 1}: {escape_markdown(STATUS_LABELS.get(s.status, s.status))}"
                            + (f" {s.progress}%" if s.status in ("queued", "in_progress") else "")
                            for i, s in enumerate(state.shots)))
        if rendering and not fresh.rendering:
            if state.done and state.film is not None:
                queue_toast(f"“{escape_markdown(fresh.title)}” is joined: {escape_markdown(state.film.seconds)} s.",
                            icon=":material/movie:")
            st.rerun()  # finished or stopped: a full run stops the ticking and shows the film or the reason
        if state.film is not None:
            film_panel(context, state)

    progress()


def film_panel(context: StudioContext, state: boards.RenderState) -> None:
    film = state.film
    assert film is not None
    st.subheader("The film")
    video_card.player(context.library, film)
    handling = {"copied": "shots copied as they are", "encoded": "re-encoded to one size"}.get(
        film.extra.get("video", ""), "")
    st.caption(f"{escape_markdown(film.seconds)} s · {escape_markdown(film.size)} · {handling}  \n"
               + "Shots: " + " · ".join(escape_markdown(short_title(s.video.prompt, 40)) for s in state.shots
                                        if s.video is not None))
    video_card.download_and_links(context.library, film, (), key="storyboard_film")
    finish_all(context, [film], key="storyboard_film_finish", what="the film")  # issue 23: brand kit, a preset
