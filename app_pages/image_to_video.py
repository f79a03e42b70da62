"""Image to video: a reference image, fitted to the exact video size, animated by the prompt."""

import streamlit as st

from components.context import studio_context
from components.generation_settings import code_snippet, cost_badge, generation_settings
from components.image_fitter import fit_controls, reference_upload
from components.job_panel import job_panel
from components.keyframe_editor import keyframe_editor
from components.prompt_builder import prompt_input
from components.submit import run_submit
from studio.jobs import VideoRequest
from studio.prompts import prompt_too_long

context = studio_context()
st.title("Image to video")
if not context.provider.capabilities.image:
    st.warning(f"{context.provider.label} does not animate a reference image. Make the video from a prompt in "
               "Text to video, or pick another provider in Settings.", icon=":material/block:")
    st.page_link("app_pages/text_to_video.py", label="Go to Text to video", icon=":material/arrow_forward:")
    st.page_link("app_pages/settings.py", label="Open Settings", icon=":material/settings:")
    st.stop()
st.caption(f"Animate a picture. It renders on **{context.provider.label}**.")

image_col, settings_col = st.columns([1, 1.3], gap="large")
with image_col:
    model_now = st.session_state.get("i2v_model") or context.provider.capabilities.models[0]
    uploaded = reference_upload("i2v", context.provider.capabilities.sizes_for(model_now), size_key="i2v_size")
with settings_col:
    prompt = prompt_input("i2v", example="The camera slowly pushes in as steam rises from the coffee cup.")
    choice = generation_settings(context.provider, "i2v", compact=True)
with image_col:
    fitted = fit_controls("i2v", *uploaded, choice.size) if uploaded and not choice.size_problem else None
    keyframes = keyframe_editor("i2v", choice.size, choice.seconds, choice.params.get("fps"), fitted) \
        if context.provider.capabilities.keyframes and not choice.size_problem else ()
with settings_col:
    request = VideoRequest(prompt=prompt, model=choice.model, size=choice.size, seconds=choice.seconds,
                           kind="image", reference=fitted, keyframes=keyframes or (), variants=choice.variants,
                           params=choice.params)
    badge, button = st.columns([3, 1], vertical_alignment="center")
    with badge:
        cost_badge(context.provider, request)
    blocked = "Upload a usable image first." if fitted is None else \
        "Fix the keyframes first." if keyframes is None else prompt_too_long(prompt)
    clicked = button.button("Generate", type="primary", icon=":material/movie:", width="stretch",
                            disabled=bool(blocked), help=blocked)
    if clicked and not blocked:
        run_submit(context, lambda on_wait: context.jobs.submit(request, on_wait=on_wait))
    code_snippet(context.provider, request, "i2v",
                 image_name=getattr(st.session_state.get("i2v_upload"), "name", None))

job_panel(context, key="i2v", include=lambda r: r.kind == "image")
