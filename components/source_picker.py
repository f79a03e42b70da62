"""Pick a finished video: recent thumbnails with their prompts, or any of them from a list."""

from __future__ import annotations

import streamlit as st

from components import video_card
from components.context import StudioContext
from components.plain_text import escape_markdown, title_of
from studio.library import Filters, VideoRecord
from studio.prompts import short_title
from studio.provider.profiles import ProviderOffer

STRIP = 6


def _choose(key: str, video_id: str) -> None:
    st.session_state[f"{key}_source"] = video_id


def usable(record: VideoRecord, caps: ProviderOffer) -> bool:
    """The provider still has it; or it is only in this library (deleted there, or a storyboard's film) and the
    provider edits or extends, which send the library's MP4."""
    return not record.remote_deleted or (record.is_archived and (caps.edit or caps.extend))


def source_picker(context: StudioContext, key: str) -> VideoRecord | None:
    """Finished videos of the current provider that can be remixed, edited or extended. `?video=ID` preselects one."""
    caps = context.provider.capabilities
    records = [r for r in context.library.page(Filters(status="completed", provider=context.provider.kind),
                                               limit=200).records if usable(r, caps)]
    if not records:
        st.info("No finished videos yet. Make one in Text to video, then come back to remix it.",
                icon=":material/movie:")
        st.page_link("app_pages/text_to_video.py", label="Go to Text to video", icon=":material/arrow_forward:")
        return None
    ids = [r.video_id for r in records]
    by_id = {r.video_id: r for r in records}
    wanted = st.query_params.get("video")
    if wanted and wanted not in by_id and (linked := context.library.get(wanted)) is not None:
        # Said, not silently swapped for another video.
        if linked.provider != context.provider.kind:
            why = f"it was made on {escape_markdown(linked.provider)}, not {context.provider.label}"
        elif not linked.is_archived:
            why = f"{context.provider.label} no longer has it, and this library has no copy of its file"
        else:
            why = f"{context.provider.label} no longer has it, and offers no edit or extension to send it to"
        st.warning(f"“{title_of(linked)}” can't be picked here: {why}. Pick another video below.",
                   icon=":material/cloud_off:")
    if wanted in by_id and st.session_state.get(f"{key}_linked") != wanted:
        st.session_state[f"{key}_linked"] = wanted  # a deep link picks once; the user can still change it
        st.session_state[f"{key}_source"] = wanted
    if st.session_state.get(f"{key}_source") not in by_id:
        st.session_state[f"{key}_source"] = ids[0]

    # Keyed: on a phone, app.py's CSS keeps the strip one row that scrolls, rather than six cards stacked.
    strip = st.container(key=f"{key}_strip").columns(STRIP)
    for column, record in zip(strip, records[:STRIP], strict=False):
        with column:
            video_card.thumbnail(context.library, record, under=f":small[:gray[{title_of(record)}]]")
            chosen = st.session_state[f"{key}_source"] == record.video_id
            st.button("Picked" if chosen else "Pick", key=f"{key}_pick_{record.video_id}", disabled=chosen,
                      on_click=_choose, args=(key, record.video_id), width="stretch")
    picked = st.selectbox("Source video", ids, key=f"{key}_source",
                          format_func=lambda i: f"{short_title(by_id[i].display_title, 70)} · {by_id[i].size} · "
                                                f"{by_id[i].seconds} s" + (" · library copy" if by_id[i].remote_deleted
                                                                           else ""))
    return by_id.get(picked)
