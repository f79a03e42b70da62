"""The sidebar: which backend is live (and why not), the active jobs, and the spend so far."""

from __future__ import annotations

import streamlit as st

from components.context import StudioContext, health_of, session_jobs
from components.plain_text import title_of
from studio.pricing import PRICES_READ_ON, format_usd


def sidebar(context: StudioContext) -> None:
    with st.sidebar:
        health = health_of(context.provider, context.provider.kind, context.provider.base_url)
        icon = ":green[:material/check_circle:]" if health.ok else ":red[:material/error:]"
        st.markdown(f"{icon} **{health.summary}**")
        if not health.ok:
            st.caption(health.detail)
            st.page_link("pages/settings.py", label="Fix it in Settings", icon=":material/settings:")
        active = [r for r in session_jobs(context) if r.is_active]
        if active:
            st.markdown(f"**Active jobs ({len(active)})**")
            for record in active[:6]:
                st.caption(f"{title_of(record, 38)} · {record.progress}%")
        else:
            st.caption("No active jobs.")
        st.caption(f"Spent so far: **{format_usd(context.library.total_spent())}** "
                   f"(estimate, list prices of {PRICES_READ_ON})")
