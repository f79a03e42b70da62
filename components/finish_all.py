""" "Finish all": a batch's videos, or a storyboard's film, finished in one go with the brand kit and a format preset
(studio.finishing.finish_many); each finished video is a new library item linked to its source."""

from __future__ import annotations

import streamlit as st

from components.context import StudioContext
from components.feedback import show_error
from components.plain_text import counted, escape_markdown
from studio.brand_kit import load_brand_kit, with_brand
from studio.errors import StudioError
from studio.library import VideoRecord
from studio.media.finishing import FORMAT_PRESETS, FinishError, FinishSpec, Format

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
        if st.button(
            "Finish",
            icon=":material/movie_edit:",
            type="primary",
            key=f"{key}_go",
            disabled=spec.is_empty,
            help="Choose a format or the brand kit." if spec.is_empty else None,
        ):
            _run(context, sources, spec, key)
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


def _run(context: StudioContext, sources: list[VideoRecord], spec: FinishSpec, key: str) -> None:
    from studio.finishing import finish_many  # the engine: loaded when asked, not on every page

    bar = st.progress(0.0, text=f"Finishing {counted(len(sources), 'video')}…")
    try:
        result = finish_many(
            context.library,
            [r.video_id for r in sources],
            spec,
            actor=context.jobs.actor,
            on_progress=lambda done: bar.progress(min(1.0, max(0.0, done)), text=f"Finishing… {done:.0%}"),
        )
    except FinishError as error:
        st.error(f"**Nothing was finished.** {escape_markdown(str(error))}", icon=":material/error:")
        return
    except StudioError as error:
        show_error(error)
        return
    finally:
        bar.empty()
    for video_id, message in result.failed:  # one bad clip does not stop the rest
        st.error(
            f"**{escape_markdown(video_id)} was not finished.** {escape_markdown(message)}", icon=":material/error:"
        )
    st.session_state[f"{key}_made"] = [r.video_id for r in result.made]
