"""The gallery: every video in the library, filtered and paged; compare; sync. One video opens on its own page."""

import streamlit as st

from components.context import studio_context
from components.feedback import show_error
from components.gallery_card import dialog_if_open
from components.gallery_grid import compare_section, filters_bar, grid
from components.loop_blend import blend_section
from components.trash import trash_section, undo_notice
from studio.errors import StudioError

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
        bar.empty()
        st.success(f"Sync done: {report.summary}", icon=":material/sync:")
    except StudioError as error:
        bar.empty()
        show_error(error)
compare_section(context)
blend_section(context)
grid(context, filters)
trash_section(context)
