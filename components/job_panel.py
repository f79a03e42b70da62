"""The job panel: live progress for this session's jobs, and the finished ones playing inline.

One fragment polls, and only while a job is active. It never plays video: when a job finishes, it asks
for one full rerun, and the finished card (player, download, links) is drawn outside the fragment.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from components import video_card
from components.context import StudioContext, session_jobs
from components.feedback import queue_toast, show_error
from components.submit import run_submit
from studio.library import VideoRecord

TICK_SECONDS = 1.0  # the fragment's beat; studio decides per job when a poll is due (openai-poll-after-ms)
FINISHED_SHOWN = 4


def _progress_card(context: StudioContext, record: VideoRecord) -> None:
    with st.container(border=True):
        st.markdown(f"**{record.display_title}**")
        state = "Queued" if record.status == "queued" else "Rendering"
        st.progress(min(100, max(0, record.progress)) / 100,
                    text=f"{state} · {record.progress}% · {video_card.elapsed(record)} elapsed")
        st.caption(video_card.summary_line(record))
        if record.last_poll_error:
            st.warning(record.last_poll_error, icon=":material/cloud_off:")


def finished_card(context: StudioContext, record: VideoRecord, key: str) -> None:
    with st.container(border=True):
        if record.status != "completed":
            head, badge = st.columns([4, 1], vertical_alignment="center")
            head.markdown(f"**{record.display_title}**")
            with badge:
                video_card.status_badge(record)
            error = context.jobs.failure(record)
            if error is not None:
                show_error(error)
            if st.button("Retry", key=f"{key}-retry-{record.video_id}", icon=":material/refresh:"):
                retry(context, record.video_id)
            return
        media, facts = st.columns([1.3, 1], gap="medium")
        with media:
            video_card.player(context.library, record)
        with facts:
            st.markdown(f"**{record.display_title}**")
            video_card.status_badge(record)
            seed = f" · seed {record.seed}" if record.seed is not None else ""
            st.caption(f"{video_card.summary_line(record)} · made in {video_card.elapsed(record)}{seed}")
            video_card.download_button(context.library, record, key=f"{key}-dl-{record.video_id}")
            video_card.links(record, context.provider.capabilities.actions())


def retry(context: StudioContext, video_id: str) -> None:
    run_submit(context, lambda on_wait: context.jobs.retry(video_id, on_wait=on_wait))


def job_panel(context: StudioContext, *, key: str, include: Callable[[VideoRecord], bool] = lambda r: True,
              headings: bool = True) -> bool:
    """This session's jobs that `include` accepts: live ones polled, finished ones shown. False if none."""
    records = [r for r in session_jobs(context) if include(r)]
    if not records:
        return False
    active_ids = [r.video_id for r in records if r.is_active]
    finished = [r for r in reversed(records) if not r.is_active][:FINISHED_SHOWN]

    @st.fragment(run_every=TICK_SECONDS if active_ids else None)
    def live() -> None:
        context.jobs.refresh_active()
        current = [context.library.get(i) for i in active_ids]
        done = [r for r in current if r is not None and not r.is_active]
        for record in current:
            if record is not None and record.is_active:
                _progress_card(context, record)
        if done:
            for record in done:
                if record.status == "completed":
                    queue_toast(f"Video ready: {record.display_title}", icon=":material/movie:")
                else:
                    queue_toast(f"Video {record.status.replace('_', ' ')}: {record.display_title}",
                                icon=":material/error:")
            st.rerun()  # the whole page: the finished card plays the video, the sidebar updates

    if active_ids:
        if headings:
            st.subheader("In progress")
        live()
    if finished:
        if headings:
            st.subheader("Finished")
        for record in finished:
            finished_card(context, record, key=key)
    return True

