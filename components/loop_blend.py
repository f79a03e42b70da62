"""Loop and Blend: each is one request made from finished videos in the library (studio.jobs builds it), offered
where the provider places pictures at chosen frames."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from components.context import StudioContext
from components.submit import run_submit
from studio.library import VideoRecord
from studio.prompts import short_title

LOOP_HELP = ("Make a clip that leads from this video's end back into its start: the two play round as a seamless "
             "loop.")


def can_loop(context: StudioContext, record: VideoRecord) -> bool:
    return context.provider.capabilities.keyframes and record.status == "completed" and record.is_archived


def loop_button(context: StudioContext, record: VideoRecord, slot: DeltaGenerator, key: str) -> None:
    """A Loop button in `slot`, for a finished, downloaded video on a provider that places frames."""
    if not can_loop(context, record):
        return
    if slot.button("Loop", key=f"{key}_loop_{record.video_id}", icon=":material/all_inclusive:", help=LOOP_HELP,
                   width="stretch"):
        video_id = record.video_id
        run_submit(context, lambda on_wait: context.jobs.submit(context.jobs.loop_request(video_id),
                                                                on_wait=on_wait))


def blend_section(context: StudioContext) -> None:
    """Pick two finished videos; Blend makes the transition from the first's end into the second's start."""
    if not context.provider.capabilities.keyframes or not st.toggle("Blend two videos", key="gallery_blend"):
        return
    records = context.library.finished(limit=60)
    if len(records) < 2:
        st.info("Blend needs two finished videos.", icon=":material/join:")
        return
    by_id = {r.video_id: r for r in records}

    def label(video_id: str) -> str:
        return f"{short_title(by_id[video_id].display_title, 50)} ({video_id[-6:]})"

    first_col, second_col = st.columns(2)
    first = first_col.selectbox("From the end of", list(by_id), key="blend_from", format_func=label)
    second = second_col.selectbox("Into the start of", list(by_id), key="blend_into", format_func=label,
                                  index=1)
    prompt = st.text_input("How the transition looks (optional)", key="blend_prompt", max_chars=500,
                           placeholder="A smooth morph from one scene into the other")
    same = first == second
    if same:
        st.caption("Pick two different videos.")
    if st.button("Blend", type="primary", icon=":material/join:", key="blend_go", disabled=same):
        run_submit(context, lambda on_wait: context.jobs.submit(
            context.jobs.blend_request(first, second, prompt.strip()), on_wait=on_wait))
    st.divider()
