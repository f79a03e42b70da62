"""Sora Studio: page set-up, the provider, the sidebar, and navigation over app_pages/."""

import streamlit as st

from components.background import keep_jobs_running
from components.context import studio_context
from components.feedback import flush_toasts
from components.identity import sign_in_gate
from components.sidebar import sidebar
from studio.provider.local_backend import page_drawn

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
/* A gallery card's Play comes just before its thumbnail and covers it (the .studio-thumb's height, pulled back
   over by that plus the column's gap): a click anywhere on the picture plays the video. */
div.stElementContainer[class*="st-key-"][class*="_play_"] {width: 100% !important; height: 190px;
  margin-bottom: calc(-190px - 1rem); z-index: 1;}
/* The card's "⋯" menu ends it: the space between cards goes below it. */
div[class*="st-key-"][class*="_menu_"] {margin-bottom: 1.25rem;}
div[class*="st-key-"][class*="_play_"] .stButton, div[class*="st-key-"][class*="_play_"] .stButton button {
  width: 100%; height: 100%;}
div[class*="st-key-"][class*="_play_"] .stButton button {border: none; background: transparent; color: #fff;
  border-radius: 0.5rem; align-items: flex-end; justify-content: flex-start; padding: 0.6rem;}
div[class*="st-key-"][class*="_play_"] .stButton button > div {background: rgba(20, 18, 32, 0.75);
  border-radius: 2rem; padding: 0.25rem 0.9rem 0.25rem 0.6rem; width: auto; flex: 0 0 auto;}
div[class*="st-key-"][class*="_play_"] .stButton button:hover {background: rgba(20, 18, 32, 0.2); color: #fff;}
/* A finished result's player fits the screen's height, so a portrait clip's controls and Download show. */
div[class*="st-key-result_"] video {max-height: 65vh; width: auto; max-width: 100%;}
/* On a phone, a source strip of Pick cards stays one row that scrolls sideways instead of stacking. */
@media (max-width: 640px) {
  div[class*="_strip"][class*="st-key-"] [data-testid="stHorizontalBlock"] {flex-wrap: nowrap; overflow-x: auto;}
  div[class*="_strip"][class*="st-key-"] [data-testid="stColumn"] {flex: 0 0 9rem; min-width: 9rem;}
  div[class*="_strip"][class*="st-key-"] .studio-thumb {height: 110px;}
}
/* A video's frames: one row at its own height, scrolling sideways. */
.studio-frames {overflow-x: auto; overflow-y: hidden;}
.studio-frames img {height: 120px; max-width: none; display: block;}
/* A lineage link wraps at a word instead of clipping its title mid-word. */
div.st-key-lineage_chain [data-testid="stPageLink-NavLink"] * {white-space: normal; text-overflow: clip;}
/* The fitted reference is outlined, so a white or pale edge still shows where the frame ends. */
div[class*="st-key-"][class*="_fitted_preview"] img {outline: 2px dashed #5b4bdb; outline-offset: 2px;}
</style>""")

sign_in_gate()  # with sign-in configured, nobody signed in sees only the sign-in page

SESSION_PAGES = "studio_pages"  # built once a session: each st.Page looks its file up on the disk, on every run
if SESSION_PAGES not in st.session_state:
    st.session_state[SESSION_PAGES] = {
        "Create": [
            st.Page("app_pages/text_to_video.py", title="Text to video", icon=":material/movie:", default=True),
            st.Page("app_pages/image_to_video.py", title="Image to video", icon=":material/image:"),
            st.Page("app_pages/remix.py", title="Remix", icon=":material/auto_fix_high:"),
            st.Page("app_pages/batch.py", title="Batch", icon=":material/table_rows:"),
            st.Page("app_pages/storyboard.py", title="Storyboard", icon=":material/view_carousel:"),
        ],
        "Library": [
            st.Page("app_pages/gallery.py", title="Gallery", icon=":material/video_library:"),
            st.Page("app_pages/settings.py", title="Settings", icon=":material/settings:"),
            st.Page("app_pages/video.py", title="Video", icon=":material/movie:", visibility="hidden"),
        ],
    }
page = st.navigation(st.session_state[SESSION_PAGES])
if page.url_path == "" and st.query_params.get("video"):
    # A link to a video is shared as /?video=ID too: the home page has no video view.
    st.switch_page("app_pages/video.py", query_params={"video": st.query_params["video"]})
if page.url_path == "video":  # a video's page is the gallery's: its menu link shows where you are, as when active
    st.html("""<style>a[data-testid="stSidebarNavLink"][href$="/gallery"] {background-color: rgba(169, 169, 162, 0.25);}
a[data-testid="stSidebarNavLink"][href$="/gallery"] p {font-weight: 600;}</style>""")
context = studio_context(for_app=True)
sidebar(context)
keep_jobs_running(context)  # jobs finish and archive with no tab open (one worker per server process)
flush_toasts()
try:
    page.run()
finally:
    page_drawn()  # an embedded localsora waiting to start may now take the cores
