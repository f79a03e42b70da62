"""The sidebar: which backend is live (and why not), who is working, their active jobs, and the spend so far."""

from __future__ import annotations

import streamlit as st

from components.context import StudioContext, health_of, session_jobs
from components.finish_progress import finishing_queue
from components.identity import identity_box
from components.job_panel import TICK_SECONDS, announce_ended, check_in, in_flight, state_label, stuck_downloads
from components.kept_connection import ask_key_again
from components.plain_text import counted, escape_markdown, title_of
from components.spend import spend_line

JOBS_LISTED = 6


def sidebar(context: StudioContext) -> None:
    with st.sidebar:
        health = health_of(context.provider, context.provider.kind, context.provider.base_url)
        icon = (":green[:material/check_circle:]" if health.ok else ":orange[:material/hourglass_top:]"
                if health.starting else ":red[:material/error:]")
        sound = "makes sound" if context.provider.capabilities.audio else "makes silent video (no sound)"
        # It may quote the server. One element: the sidebar is drawn on every rerun of every page.
        st.markdown(f"{icon} **{escape_markdown(health.summary)}**  \n:small[:gray[The model {sound}.]]")
        if not health.ok:
            st.caption(escape_markdown(health.detail))
            if not health.starting:  # a renderer on its way needs no fixing
                st.page_link("app_pages/settings.py", label="Fix it in Settings", icon=":material/settings:")
        ask_key_again(context)
        identity_box()
        stuck_downloads(context)
        records = session_jobs(context)
        announce_ended(records)  # before app.py shows the queued toasts
        active_ids = [r.video_id for r in records if in_flight(r)]
        spent = spend_line(context.library, context.jobs.owner)
        if active_ids:
            active_jobs(context, active_ids)
            st.caption(spent)
        else:  # one element, not two: the sidebar is drawn on every rerun of every page
            st.caption(f"No active jobs.  \n{spent}")
        exports_running(context)


def active_jobs(context: StudioContext, active_ids: list[str]) -> None:
    """This person's active jobs, read from the library on the job panel's beat, so both show the same progress.
    A job started later reruns the whole page, which lists it here."""

    @st.fragment(run_every=TICK_SECONDS)
    def live() -> None:
        records = check_in(context, active_ids)  # all still in flight: when one ends, the whole page reruns
        lines = [f"{title_of(r, 38)} · {state_label(r)} {r.progress}%" for r in records[:JOBS_LISTED]]
        st.caption("  \n".join([f"**Active jobs ({len(records)})**", *lines]))  # one element, ticking every second

    live()


def exports_running(context: StudioContext) -> None:
    """This person's exports on the server, wherever they were started from: a line ticking with their progress,
    and once the last ends, the whole page drawn again (the gallery then shows what they made)."""
    queue = finishing_queue(context)
    owner = context.jobs.actor.name if context.jobs.actor is not None else ""
    if not queue.running(owner):
        return

    @st.fragment(run_every=TICK_SECONDS)
    def live() -> None:
        tasks = queue.running(owner)
        if not tasks:
            st.rerun(scope="app")
        lines = [f"{_exported(context, t.source_ids)} · {t.progress:.0%}" for t in tasks[:JOBS_LISTED]]
        st.caption("  \n".join([f"**Exporting ({len(tasks)})**", *lines]))

    live()


def _exported(context: StudioContext, source_ids: tuple[str, ...]) -> str:
    source = context.library.get(source_ids[0]) if len(source_ids) == 1 else None
    return title_of(source, 38) if source is not None else counted(len(source_ids), "video")
