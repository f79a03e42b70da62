"""The sidebar: which backend is live (and why not), who is working, their active jobs, and the spend so far."""

from __future__ import annotations

import streamlit as st

from components.context import StudioContext, health_of, session_jobs
from components.identity import identity_box
from components.job_panel import TICK_SECONDS, announce_ended, check_in, in_flight, state_label
from components.plain_text import title_of
from components.spend import spend_summary

JOBS_LISTED = 6


def sidebar(context: StudioContext) -> None:
    with st.sidebar:
        health = health_of(context.provider, context.provider.kind, context.provider.base_url)
        icon = (":green[:material/check_circle:]" if health.ok else ":orange[:material/hourglass_top:]"
                if health.starting else ":red[:material/error:]")
        st.markdown(f"{icon} **{health.summary}**")
        if not health.ok:
            st.caption(health.detail)
            if not health.starting:  # a renderer on its way needs no fixing
                st.page_link("pages/settings.py", label="Fix it in Settings", icon=":material/settings:")
        identity_box()
        announce_ended(context)  # before app.py shows the queued toasts
        active_jobs(context)
        spend_summary(context.library, context.jobs.owner)


def active_jobs(context: StudioContext) -> None:
    """This person's active jobs, read from the library on the job panel's beat, so both show the same progress."""
    active_ids = [r.video_id for r in session_jobs(context) if in_flight(r)]

    @st.fragment(run_every=TICK_SECONDS if active_ids else None)
    def live() -> None:
        records = check_in(context, active_ids)
        if not records:
            st.caption("No active jobs.")
            return
        st.markdown(f"**Active jobs ({len(records)})**")
        for record in records[:JOBS_LISTED]:
            st.caption(f"{title_of(record, 38)} · {state_label(record)} {record.progress}%")

    live()
