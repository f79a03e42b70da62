"""The job panel: live progress for this person's jobs, and the finished ones playing inline.

The background worker polls and archives; the panel only reads the library, in a fragment that ticks while a job
is active. It never plays video: when a job finishes, it asks for one full rerun, and the finished card (player,
download, links) is drawn outside the fragment.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from components import video_card
from components.background import polled_in_background
from components.context import ANNOUNCED, StudioContext, session_jobs
from components.feedback import queue_toast, show_error
from components.plain_text import escape_markdown, title_of
from components.submit import run_submit
from studio.library import VideoRecord
from studio.prompts import short_title

TICK_SECONDS = 1.0  # how often a tab re-reads its active jobs; the worker polls each when the provider says
FINISHED_SHOWN = 4


def in_flight(record: VideoRecord) -> bool:
    """Still on its way: queued, rendering, or finished on the provider and not yet downloaded into the library."""
    return record.is_active or (record.status == "completed" and not record.is_archived and not record.remote_deleted)


def state_label(record: VideoRecord) -> str:
    return {"queued": "Queued", "completed": "Downloading"}.get(record.status, "Rendering")


def check_in(context: StudioContext, active_ids: list[str]) -> list[VideoRecord]:
    """The current records of jobs that were active. When one has ended, the whole page reruns: the sidebar, the
    panel and the gallery move on together, and `announce_ended` toasts it. Read from the library, which the
    worker keeps current."""
    if not polled_in_background(context):
        context.jobs.refresh_active()  # a session's own keys: no worker holds them, so its tab polls
    current = [r for r in (context.library.get(i) for i in active_ids) if r is not None]
    if len(current) == len(active_ids) and all(in_flight(r) for r in current):
        return current
    st.rerun()


def announce_ended(records: list[VideoRecord]) -> None:
    """Toast each of this session's jobs (`records`, see `session_jobs`) once when it has ended, whichever run first
    finds it so: the worker may finish a job between two runs, so it is the state that counts, not a change seen by
    a fragment."""
    announced = st.session_state.setdefault(ANNOUNCED, set())
    for record in records:
        if in_flight(record) or record.video_id in announced:
            continue
        announced.add(record.video_id)
        if record.status == "completed":
            queue_toast(f"Video ready: {title_of(record)}", icon=":material/movie:")
        else:
            queue_toast(f"Video {record.status.replace('_', ' ')}: {title_of(record)}", icon=":material/error:")


def _progress_card(context: StudioContext, record: VideoRecord) -> None:
    with st.container(border=True):
        st.markdown(f"**{title_of(record)}**")
        state = state_label(record)
        st.progress(min(100, max(0, record.progress)) / 100,
                    text=f"{state} · {record.progress}% · {video_card.elapsed(record)} elapsed")
        st.caption(video_card.summary_line(record))
        if record.last_poll_error:
            st.warning(escape_markdown(record.last_poll_error), icon=":material/cloud_off:")


def finished_card(context: StudioContext, record: VideoRecord, key: str) -> None:
    # Keyed: app.py's CSS keeps a portrait player within the screen, so its controls and Download stay in view.
    with st.container(border=True, key=f"result_{key}_{record.video_id}"):
        if record.status != "completed":
            st.markdown(f"**{title_of(record)}** {video_card.badge_markup(record)}")  # the badge inline: no columns
            failure_notice(context, record)
            if st.button("Retry", key=f"{key}-retry-{record.video_id}", icon=":material/refresh:"):
                retry(context, record.video_id)
            return
        media, facts = st.columns([1.3, 1], gap="medium")
        with media:
            video_card.player(context.library, record)
        with facts:
            st.markdown(f"**{title_of(record)}** {video_card.badge_markup(record)}")
            seed = f" · seed {record.seed}" if record.seed is not None else ""
            st.caption(f"{video_card.summary_line(record)} · made in {video_card.elapsed(record)}{seed}  \n"
                       f"{video_card.made_line(record)}")
            video_card.download_button(context.library, record, key=f"{key}-dl-{record.video_id}")
            video_card.links(record, video_card.actions_for(record, context.provider.capabilities))


def failure_notice(context: StudioContext, record: VideoRecord) -> None:
    """Why the job failed, what was sent, and the provider's own words in full."""
    error = context.jobs.failure(record)
    if error is None:
        return
    show_error(error)
    # The prompt, not the title: a renamed video was still blocked for what it asked.
    prompt = escape_markdown(short_title(record.prompt, 160))
    sent = f"the prompt “{prompt}”" if record.prompt else "a request with no prompt"
    if record.kind == "image":
        sent += " with a reference image"
    lines = [f"What was sent: {sent}"]
    if record.error_message:
        code = f" ({escape_markdown(record.error_code)})" if record.error_code else ""
        lines.append(f"The provider said{code}: {escape_markdown(record.error_message)}")
    st.caption("  \n".join(lines))  # one caption: a gallery page may show many failed cards


def stuck_downloads(context: StudioContext) -> None:
    """Finished videos this provider's downloads cannot save, whoever started them, and why (a full disk, and
    where): it stops every download, so the sidebar says it on every page."""
    stuck = [r for r in context.library.unarchived(provider=context.provider.kind, failing=True)
             if context.jobs.made_elsewhere(r) is None]
    if stuck:
        count = f"{len(stuck)} finished video{'s' if len(stuck) > 1 else ''} not downloaded yet"
        st.caption(f":orange[:material/warning:] **{count}**  \n{escape_markdown(stuck[-1].last_poll_error or '')}")


def retry(context: StudioContext, video_id: str) -> None:
    run_submit(context, lambda on_wait: context.jobs.retry(video_id, on_wait=on_wait))


def job_panel(context: StudioContext, *, key: str, include: Callable[[VideoRecord], bool] = lambda r: True,
              headings: bool = True) -> bool:
    """This person's jobs in this session that `include` accepts: live ones followed, finished ones shown.
    False if none."""
    records = [r for r in session_jobs(context) if include(r)]
    if not records:
        return False
    active_ids = [r.video_id for r in records if in_flight(r)]
    ended = [r for r in reversed(records) if not in_flight(r)][:FINISHED_SHOWN]
    finished = [r for r in ended if r.status == "completed"]
    failed = [r for r in ended if r.status != "completed"]

    @st.fragment(run_every=TICK_SECONDS if active_ids else None)
    def live() -> None:
        for record in check_in(context, active_ids):
            _progress_card(context, record)

    if active_ids:
        if headings:
            st.subheader("In progress")
        live()
    # Failures get their own heading: a blocked job is not "finished" to the person who asked for it.
    for heading, group in (("Failed", failed), ("Finished", finished)):
        if group and headings:
            st.subheader(heading)
        for record in group:
            finished_card(context, record, key=key)
    return True

