""" "Finish all": a batch's videos, or a storyboard's film, finished in one go with the brand kit and a format preset
(studio.finishing.finish_many, run on the server: it goes on with the page left); each finished video is a new
library item linked to its source."""

from __future__ import annotations

import streamlit as st

from components.context import StudioContext
from components.finish_progress import ended_finish, is_finishing, start_finish
from components.plain_text import counted, escape_markdown
from studio.brand_kit import load_brand_kit, with_brand
from studio.library import VideoRecord
from studio.media.finishing import FORMAT_PRESETS, FinishSpec, Format

KEEP_SIZE = "Keep each video's size"


def finish_all(context: StudioContext, sources: list[VideoRecord], *, key: str, what: str) -> None:
    """A small form: the brand kit (logo, end card) and a preset for every video of `sources`, then the links to the
    finished ones. `what` names them in the button: "3 videos", "the film"."""
    kit = load_brand_kit(context.library)
    with st.popover(f"Finish {what}", icon=":material/movie_edit:"):
        preset = st.selectbox("Format", [KEEP_SIZE, *FORMAT_PRESETS], key=f"{key}_preset")
        brand = st.checkbox(
            "With the brand kit's logo and end card",
            value=not kit.is_empty,
            disabled=kit.is_empty,
            key=f"{key}_brand",
            help="Set one in Settings → Brand kit." if kit.is_empty else None,
        )
        spec = FinishSpec(format=Format(*FORMAT_PRESETS[preset]) if preset in FORMAT_PRESETS else None)
        spec = with_brand(spec, context.library, kit) if brand else spec
        task_key = f"{key}_task"
        if st.button(
            "Finish",
            icon=":material/movie_edit:",
            type="primary",
            key=f"{key}_go",
            disabled=spec.is_empty or is_finishing(context, task_key),
            help="Choose a format or the brand kit." if spec.is_empty else None,
        ):
            start_finish(context, task_key, [r.video_id for r in sources], spec)
        if (ended := ended_finish(context, task_key)) is not None:
            for video_id, message in ended.failed:  # one bad clip does not stop the rest
                st.error(f"**{escape_markdown(video_id)} was not finished.** {escape_markdown(message)}",
                         icon=":material/error:")
            st.session_state[f"{key}_made"] = list(ended.made)
        made = [r for r in (context.library.get(i) for i in st.session_state.get(f"{key}_made", [])) if r is not None]
        if made:
            st.caption(f"Finished {counted(len(made), 'video')}; the originals are unchanged.")
            for record in made:
                st.page_link(
                    "app_pages/video.py",
                    label=escape_markdown(record.display_title[:60]),
                    icon=":material/movie_edit:",
                    query_params={"video": record.video_id},
                )
