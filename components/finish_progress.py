"""An export as the page sees it: it runs on the server (studio.finishing.FinishQueue, held by the background
worker), so leaving the page or closing the tab does not stop it; the page keeps the task's id in the session and
draws its progress bar, ticking on its own, until it ends."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from components.context import StudioContext
from components.feedback import show_error
from studio.errors import StudioError
from studio.finishing import FinishQueue, FinishTask
from studio.media.finishing import FinishSpec
from studio.worker import worker_for

TICK_SECONDS = 1.0


def finishing_queue(context: StudioContext) -> FinishQueue:
    return worker_for(context.library).finishing


def is_finishing(context: StudioContext, session_key: str) -> bool:
    """True while the export this session started under `session_key` is queued or running."""
    task_id = st.session_state.get(session_key)
    task = finishing_queue(context).get(task_id) if task_id else None
    return task is not None and not task.ended


def start_finish(context: StudioContext, session_key: str, source_ids: Sequence[str], spec: FinishSpec) -> bool:
    """Queue the export and remember it under `session_key`; what is refused at once is said here. One at a time
    per key: a second click while one runs queues nothing."""
    if is_finishing(context, session_key):
        return False
    try:
        task = finishing_queue(context).submit(source_ids, spec, actor=context.jobs.actor)
    except StudioError as error:  # FinishError is one: the choices stay as they are, to fix and export again
        show_error(error)
        return False
    st.session_state[session_key] = task.task_id
    return True


def ended_finish(context: StudioContext, session_key: str) -> FinishTask | None:
    """The export under `session_key`: while it runs, its progress bar (the page stays usable, and the bar redraws
    the whole page once it ends); once ended, the task, handed over once and then forgotten by the session."""
    task_id = st.session_state.get(session_key)
    if task_id is None:
        return None
    queue = finishing_queue(context)
    task = queue.get(task_id)
    if task is None or task.ended:
        del st.session_state[session_key]
        if task is None:  # ended over an hour ago, or the server's worker started again since
            st.info("This export is no longer followed here: once made, its video is in the Gallery.",
                    icon=":material/info:")
        return task

    @st.fragment(run_every=TICK_SECONDS)
    def progress() -> None:
        now = queue.get(task_id)
        if now is None or now.ended:
            st.rerun(scope="app")
        st.progress(now.progress, text=f"Finishing… {now.progress:.0%} · it goes on if you leave this page")

    progress()
    return None
