"""Videos side by side at the same size, with one Play that starts them together and keeps them in step.

Used by Remix (source and result) and by the gallery's Compare (two to four videos). The players are
Streamlit's own `st.video`; a small script finds them in this group and drives them as one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import streamlit as st

from components import video_card
from components.plain_text import title_of
from studio.library import Library, VideoRecord

PLAYER_HEIGHT = "min(62vh, 560px)"  # one box for every player, so portrait and landscape line up

_SCRIPT = """
<style>
.st-key-{key} video {{width: 100%; height: {height}; object-fit: contain; background: #111; border-radius: 0.5rem;}}
#{key}-play {{font: inherit; padding: 0.4rem 1rem; border-radius: 0.5rem; border: 1px solid #5b4bdb;
  background: #5b4bdb; color: #fff; cursor: pointer;}}
#{key}-play:hover {{background: #4a3bc4;}}
</style>
<button type="button" id="{key}-play" data-testid="video-pair-play">▶ {play_label}</button>
<script>
(() => {{
  const button = document.getElementById("{key}-play");
  if (!button || button.dataset.wired) return;
  button.dataset.wired = "1";
  const videos = () => Array.from(document.querySelectorAll(".st-key-{key} video"));
  const show = (playing) => {{ button.textContent = playing ? "⏸ {pause_label}" : "▶ {play_label}"; }};
  button.addEventListener("click", async () => {{
    const group = videos();
    if (group.some(v => !v.paused)) {{ group.forEach(v => v.pause()); show(false); return; }}
    // One soundtrack at a time: the last video (the result) keeps its sound.
    group.forEach((v, i) => {{ v.currentTime = 0; v.muted = i < group.length - 1; }});
    show(true);
    await Promise.all(group.map(v => v.play().catch(() => null)));
    const lead = group[group.length - 1];
    const follow = () => group.forEach(v => {{
      if (v !== lead && Math.abs(v.currentTime - lead.currentTime) > 0.15 && lead.currentTime < v.duration) {{
        v.currentTime = lead.currentTime;
      }}
    }});
    lead.ontimeupdate = follow;
    lead.onended = () => {{ group.forEach(v => v.pause()); show(false); }};
  }});
}})();
</script>
"""


def _group_key(key: str) -> str:
    return "video_pair_" + re.sub(r"[^a-zA-Z0-9_-]", "_", key)


def video_pair(library: Library, records: Sequence[VideoRecord], *, key: str, headings: Sequence[str] = (),
               under: Callable[[VideoRecord], None] | None = None, waiting: str = "") -> None:
    """`records` side by side, one Play for all. `headings` name the columns; `under(record)` adds what goes
    below each player (a caption is always there). One record with `waiting` keeps the second column for what
    is to come, saying `waiting` there, so the first is already the size it will stay."""
    group = _group_key(key)
    with st.container(key=group):
        columns = st.columns(max(len(records), 2 if waiting else 1), gap="medium")
        for index, (column, record) in enumerate(zip(columns, records, strict=False)):
            with column:
                if index < len(headings):
                    st.subheader(headings[index])
                video_card.player(library, record, width="stretch")
                st.caption(f"{title_of(record)} · {video_card.summary_line(record)}")
                if under is not None:
                    under(record)
        if waiting and len(records) == 1:
            with columns[1]:
                if len(headings) > 1:
                    st.subheader(headings[1])
                st.info(waiting, icon=":material/hourglass_top:")
        if len(records) < 2:
            return  # one player has its own Play
        play_label = "Play both" if len(records) == 2 else "Play all"
        pause_label = "Pause both" if len(records) == 2 else "Pause all"
        st.html(_SCRIPT.format(key=group, height=PLAYER_HEIGHT, play_label=play_label, pause_label=pause_label),
                unsafe_allow_javascript=True)
