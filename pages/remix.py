"""Remix, edit or extend a finished video; the result shows beside its source."""

import streamlit as st

from components import video_card
from components.context import studio_context
from components.generation_settings import advanced_settings, code_snippet, cost_badge
from components.job_panel import job_panel
from components.plain_text import title_of
from components.prompt_builder import prompt_input
from components.source_picker import source_picker
from components.submit import run_submit
from studio.jobs import VideoRequest
from studio.prompts import prompt_too_long

context = studio_context()
caps = context.provider.capabilities
st.title("Remix")
actions = caps.actions()
if not actions:
    st.warning(f"{context.provider.label} offers no remix, edit or extend. Pick another provider in Settings.",
               icon=":material/block:")
    st.page_link("pages/settings.py", label="Open Settings", icon=":material/settings:")
    st.stop()
st.caption(f"{' · '.join(actions)} a finished video on **{context.provider.label}**.")
not_offered = [name.lower() for name in ("Remix", "Edit", "Extend") if name not in actions]
if not_offered:
    st.info(f"{context.provider.label} does not offer {' or '.join(not_offered)}.", icon=":material/info:")

source = source_picker(context, key="remix")
source_col, result_col = st.columns(2, gap="large")
with source_col:
    st.subheader("Source")
    upload = None
    if source is not None:
        video_card.player(context.library, source)
        st.caption(f"{title_of(source)} · {video_card.summary_line(source)}")
    action = st.segmented_control("Action", actions, default=actions[0], key="remix_action", required=True) \
        or actions[0]
    if action == "Edit":
        file = st.file_uploader("Or edit an uploaded MP4 instead", type=["mp4"], key="remix_upload",
                                help="Edit works on any MP4, not only videos from the library.")
        upload = (file.name, file.getvalue()) if file is not None else None
    seconds = "4"
    if action == "Extend":
        seconds = st.selectbox("Seconds to add", caps.extension_durations, key="remix_seconds",
                               format_func=lambda s: f"+{s} s")
    prompt = prompt_input("remix", label="Prompt", builder=False,
                          example={"Remix": "Same scene, but at night in the rain.",
                                       "Edit": "Make the jacket red.",
                                       "Extend": "The camera keeps moving as the crowd cheers."}[action])
    params = advanced_settings(caps, "remix", only=("seed",))
    request = VideoRequest(
        prompt=prompt, kind=action.lower(),  # type: ignore[arg-type]
        model=source.model if source else caps.models[0],
        size=source.size if source else caps.sizes_for(caps.models[0])[0],
        seconds=seconds if action == "Extend" else (source.seconds if source else "4"),
        source_video_id=None if upload else (source.video_id if source else None), source_upload=upload,
        params=params,
    )
    badge, button = st.columns([3, 1], vertical_alignment="center")
    with badge:
        cost_badge(context.provider, request)
    blocked = None if source or upload else "Pick a source video first."
    blocked = blocked or prompt_too_long(prompt)
    if button.button(action, type="primary", icon=":material/auto_fix_high:", width="stretch", disabled=bool(blocked),
                     help=blocked):
        run_submit(context, lambda on_wait: context.jobs.submit(request, on_wait=on_wait))
    code_snippet(context.provider, request)

with result_col:
    st.subheader("Result")
    if not job_panel(context, key="remix", include=lambda r: r.kind in ("remix", "edit", "extend"), headings=False):
        st.info("The result appears here, beside its source, and plays as soon as it is ready.",
                icon=":material/auto_fix_high:")
