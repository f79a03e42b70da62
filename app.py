"""Sora Studio: page set-up, the provider, the sidebar, and navigation over pages/."""

import streamlit as st

from components.context import studio_context
from components.feedback import flush_toasts
from components.sidebar import sidebar

st.set_page_config(page_title="Sora Studio", page_icon="🎬", layout="wide")
st.html("""<style>
.studio-thumb {height: 190px; display: flex; align-items: center; justify-content: center; overflow: hidden;
  border-radius: 0.5rem; background: #1f1d2b; color: #c9c6dc; font-size: 0.9rem;}
.studio-thumb img {max-height: 100%; max-width: 100%; object-fit: contain;}
</style>""")

pages = {
    "Create": [
        st.Page("pages/text_to_video.py", title="Text to video", icon=":material/movie:", default=True),
        st.Page("pages/image_to_video.py", title="Image to video", icon=":material/image:"),
        st.Page("pages/remix.py", title="Remix", icon=":material/auto_fix_high:"),
    ],
    "Library": [
        st.Page("pages/gallery.py", title="Gallery", icon=":material/video_library:"),
        st.Page("pages/settings.py", title="Settings", icon=":material/settings:"),
    ],
}
page = st.navigation(pages)
sidebar(studio_context(fresh=True))
flush_toasts()
page.run()
