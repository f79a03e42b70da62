"""The gallery: every video in the library, filtered and paged; one video's page; compare; sync."""

import streamlit as st

from components.context import studio_context
from components.feedback import show_error
from components.gallery_card import dialog_if_open
from components.gallery_grid import compare_section, filters_bar, grid
from components.loop_blend import blend_section
from components.trash import trash_section, undo_notice
from components.video_detail import video_detail
from studio.errors import StudioError

context = studio_context()
st.title("Gallery")

dialog_if_open(context)
undo_notice(context)
video_id = st.query_params.get("video")
if video_id:
    video_detail(context, video_id)
    st.stop()

filters = filters_bar(context)
if st.session_state.pop("gallery_sync", False):
    bar = st.progress(0.0, text=f"Listing the videos {context.provider.label} has…")
    try:
        report = context.jobs.sync(
            on_progress=lambda done, total: bar.progress(done / total, text=f"Downloading {done} of {total}…"))
        bar.empty()
        st.success(f"Sync done: {report.summary}", icon=":material/sync:")
    except StudioError as error:
        bar.empty()
        show_error(error)
compare_section(context)
blend_section(context)
grid(context, filters)
trash_section(context)
