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
/* Delete destroys a video: it looks it, on every card and in its dialog. */
div[class*="st-key-"][class*="_del_"] button, div[class*="st-key-"][class*="_del_"] button span {
  color: #b3261e; border-color: #e6a19b;}
div[class*="st-key-"][class*="_del_"] button:hover {background: #fdecea; border-color: #b3261e;}
div[class*="st-key-confirm_delete_"] button {background: #b3261e; border-color: #b3261e; color: #fff;}
div[class*="st-key-confirm_delete_"] button:hover {background: #8c1d18; border-color: #8c1d18;}
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
if page.url_path == "" and st.query_params.get("video"):
    # A link to a video is shared as /?video=ID too: the home page has no video view, the gallery does.
    st.switch_page("pages/gallery.py", query_params={"video": st.query_params["video"]})
sidebar(studio_context(fresh=True))
flush_toasts()
page.run()
