"""One video's page (`?video=ID`): player, facts, review, finishing and lineage. A page of its own, hidden from the
menu, so the sidebar's Gallery leads back to the grid: Streamlit clears the query on a move to another page."""

import streamlit as st

from components.context import studio_context
from components.gallery_card import dialog_if_open
from components.video_detail import video_detail

video_id = st.query_params.get("video")
if not video_id:  # "Back to the gallery", or the video was just deleted
    st.switch_page("app_pages/gallery.py")
context = studio_context()
st.title("Gallery")
dialog_if_open(context)
video_detail(context, video_id)
