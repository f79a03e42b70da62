"""Remix, edit or extend a finished video; the result plays beside its source, at the same size."""

from dataclasses import replace

import streamlit as st

from components import video_card
from components.context import latest_result, studio_context
from components.generation_settings import advanced_settings, code_snippet, cost_badge, follow_source
from components.job_panel import job_panel
from components.prompt_builder import prompt_input
from components.source_picker import source_picker
from components.submit import run_submit
from components.video_pair import video_pair
from studio.jobs import VideoRequest, extended_length
from studio.media.upload_limits import SOURCE_VIDEO
from studio.prompts import prompt_too_long

REMIX_KINDS = ("remix", "edit", "extend")

context = studio_context()
caps = context.provider.capabilities
st.title("Remix")
actions = caps.actions()
if not actions:
    st.warning(f"{context.provider.label} offers no remix, edit or extend. Pick another provider in Settings.",
               icon=":material/block:")
    st.page_link("app_pages/settings.py", label="Open Settings", icon=":material/settings:")
    st.stop()
st.caption(f"{' · '.join(actions)} a finished video on **{context.provider.label}**.")
not_offered = [name.lower() for name in ("Remix", "Edit", "Extend") if name not in actions]
if not_offered:
    st.info(f"{context.provider.label} does not offer {' or '.join(not_offered)}.", icon=":material/info:")

source = source_picker(context, key="remix")
library_copy = source is not None and source.remote_deleted  # only here: edits and extensions send its MP4
offered = video_card.actions_for(source, caps)
controls_col, progress_col = st.columns([1.2, 1], gap="large")
with controls_col:
    upload = None
    # Its own key for a library copy, which offers no Remix: each control keeps its own choice.
    action_key = "remix_action_copy" if library_copy else "remix_action"
    if (asked := st.query_params.get("action")) in offered:  # a card's or video page's Edit or Extend
        st.session_state[action_key] = asked
        del st.query_params["action"]
    action = st.segmented_control("Action", offered, default=offered[0], required=True, key=action_key) or offered[0]
    if library_copy:
        why = {"storyboard": "This film was joined in this studio",
               "finish": "This finished video was made in this studio"}.get(
            source.kind if source else "", f"{context.provider.label} no longer has this video")
        st.caption(f"{why}, so it is sent from this library as an MP4.")
    if action == "Edit":
        file = st.file_uploader("Or edit an uploaded MP4 instead", type=list(SOURCE_VIDEO.extensions),
                                key="remix_upload", max_upload_size=SOURCE_VIDEO.max_mb,
                                help=f"{SOURCE_VIDEO.summary}. Edit works on any MP4, not only videos from the "
                                     "library.")
        upload = (file.name, file.getvalue()) if file is not None else None
    added = ""
    if action == "Extend":
        added = st.selectbox("Seconds to add", caps.extension_durations, key="remix_seconds",
                             format_func=lambda s: f"+{s} s")
    prompt = prompt_input("remix", label="Prompt", builder=False,
                          example={"Remix": "Same scene, but at night in the rain.",
                                       "Edit": "Make the jacket red.",
                                       "Extend": "The camera keeps moving as the crowd cheers."}[action])
    params = advanced_settings(caps, "remix", only=("seed",))
    if action in ("Remix", "Edit"):
        params |= follow_source(caps, "remix")
    if source is None:
        length = caps.durations[0]  # an uploaded MP4's length is not known before it is sent
    else:
        length = extended_length(source.seconds, added) if added else source.seconds
    request = VideoRequest(
        prompt=prompt, kind=action.lower(),  # type: ignore[arg-type]
        model=source.model if source else caps.models[0],
        size=source.size if source else caps.sizes_for(caps.models[0])[0],
        seconds=length, added_seconds=added,
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
    # For a library copy the script sends a file too: the downloaded MP4, saved as source.mp4.
    code_snippet(context.provider, replace(request, source_upload=("source.mp4", b"")) if library_copy else request,
                 "remix")

with progress_col:
    # Jobs still rendering, and failures; a finished result plays below, beside its source.
    job_panel(context, key="remix", include=lambda r: r.kind in REMIX_KINDS and r.status != "completed",
              headings=False)

# The newest finished result of what is picked now: the library video, or an uploaded MP4 (which has no parent).
parent_id = None if upload else (source.video_id if source else None)
result = latest_result(context, parent_id, REMIX_KINDS) if upload or source else None
shown = ([] if upload or source is None else [source]) + ([result] if result else [])
if shown:
    waiting = "" if result or upload else "The result appears here, beside its source and the same size, as soon " \
                                          "as it is ready."
    video_pair(context.library, shown, key="remix", headings=["Result"] if upload else ["Source", "Result"],
               waiting=waiting, under=lambda r: video_card.download_and_links(context.library, r, actions, key="remix")
               if r is result else None)
