"""The gallery: every video in the library, filtered and paged; compare; sync. One video opens on its own page."""

import streamlit as st

from components.context import studio_context
from components.feedback import show_error
from components.gallery_card import dialog_if_open
from components.gallery_grid import compare_section, filters_bar, grid
from components.loop_blend import blend_section
from components.trash import trash_section, undo_notice
from studio.errors import StudioError

SYNC_SAID = "gallery_sync_said"  # (what the last Sync said, whether a run has shown it to the end)

if video_id := st.query_params.get("video"):  # a card's Play or Details, or a link from before the video page
    st.switch_page("app_pages/video.py", query_params={"video": video_id})
context = studio_context()
st.title("Gallery")

dialog_if_open(context)
undo_notice(context)

filters = filters_bar(context)
if st.session_state.pop("gallery_sync", False):
    bar = st.progress(0.0, text=f"Listing the videos {context.provider.label} has…")
    try:
        report = context.jobs.sync(
            on_progress=lambda done, total: bar.progress(done / total, text=f"Downloading {done} of {total}…"))
        st.session_state[SYNC_SAID] = (report.summary, False)
    except StudioError as error:
        show_error(error)
    bar.empty()
# Sync's report stays until a run has drawn it to the end: a card whose download ends mid-run reruns the page.
if (said := st.session_state.pop(SYNC_SAID, None)) and not said[1]:
    st.session_state[SYNC_SAID] = said
    st.success(f"Sync done: {said[0]}", icon=":material/sync:")
compare_section(context)
blend_section(context)
grid(context, filters)
trash_section(context)
if SYNC_SAID in st.session_state:  # drawn to the end: gone at the next run, as any one-off message
    st.session_state[SYNC_SAID] = (st.session_state[SYNC_SAID][0], True)
