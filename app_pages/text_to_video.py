"""Text to video: a prompt in, videos out."""

import streamlit as st

from components.context import studio_context
from components.generation_settings import code_snippet, cost_badge, generation_settings
from components.job_panel import job_panel
from components.prompt_builder import prompt_input
from components.submit import run_submit
from studio.jobs import VideoRequest
from studio.prompts import prompt_too_long

context = studio_context()
st.title("Text to video")
if not context.provider.capabilities.text:
    st.warning(f"{context.provider.label} does not make video from a prompt alone: it animates a picture. "
               "Use Image to video, or pick another provider in Settings.", icon=":material/block:")
    st.page_link("app_pages/image_to_video.py", label="Go to Image to video", icon=":material/arrow_forward:")
    job_panel(context, key="t2v", include=lambda r: r.kind == "generate")
    st.stop()
st.caption(f"Describe the shot. It renders on **{context.provider.label}**.")

prompt = prompt_input("t2v")
choice = generation_settings(context.provider, "t2v")
request = VideoRequest(prompt=prompt, model=choice.model, size=choice.size, seconds=choice.seconds,
                       variants=choice.variants, params=choice.params)
badge, button = st.columns([3, 1], vertical_alignment="center")
with badge:
    cost_badge(context.provider, request)
too_long = prompt_too_long(prompt)
if button.button("Generate", type="primary", icon=":material/movie:", width="stretch", disabled=bool(too_long),
                 help=too_long):
    run_submit(context, lambda on_wait: context.jobs.submit(request, on_wait=on_wait))
code_snippet(context.provider, request, "t2v")

job_panel(context, key="t2v", include=lambda r: r.kind == "generate")
