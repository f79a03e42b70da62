"""The gallery's filters, its paged grid of cards, and side-by-side compare."""

from __future__ import annotations

import streamlit as st

from components.context import StudioContext
from components.gallery_card import gallery_card
from components.video_pair import video_pair
from studio.library import SORTS, STATUSES, Filters
from studio.prompts import short_title
from studio.review import REVIEW_STATUSES

PAGE_SIZE = 12
COLUMNS = 3
CURSORS = "gallery_cursors"  # the `before` cursor of each page visited, so "Newer" can go back
STATUS_LABELS = {"queued": "Queued", "in_progress": "Rendering", "completed": "Ready", "failed": "Failed",
                 "timed_out": "Timed out"}
REVIEWED = "review:"  # a Status choice that is a review status (Approved, ...) rather than a job's
STATUS_CHOICES = [None, *STATUSES, *(REVIEWED + status for status in REVIEW_STATUSES)]
ALL_FOLDERS = "*"  # the Folder filter's "All folders" ("" is a real choice: filed in none)


def _status_label(choice: str | None) -> str:
    if choice is None:
        return "All statuses"
    return REVIEW_STATUSES[choice.removeprefix(REVIEWED)] if choice.startswith(REVIEWED) else STATUS_LABELS[choice]


def _folder_label(choice: str) -> str:
    return {ALL_FOLDERS: "All folders", "": "In no folder"}.get(choice, choice)


def _request_sync() -> None:
    st.session_state["gallery_sync"] = True


FILTER_KEYS = ("gallery_status", "gallery_model", "gallery_text", "gallery_favourites", "gallery_sort",
               "gallery_folder")
KEEP = "page"  # the filters keep their values while the page reruns without them (a dialog, say)
# What the filters were when the gallery was left, in plain session state: a widget's own state goes with a move to
# another page (a video's page), and Back finds them as they were. Streamlit's persist_state="session" did that, but
# also put back an old search over a newer one once the folder row appeared above the bar.
FILTERS_LEFT = "gallery_filters_left"


def _clear_filters() -> None:
    for key in FILTER_KEYS:
        st.session_state.pop(key, None)
    st.session_state.pop(FILTERS_LEFT, None)


def _filters_as_left(choices: dict[str, list[object]]) -> None:
    """Put back the filters from the last visit that a page switch dropped; a folder or model gone since is not."""
    for key, value in st.session_state.get(FILTERS_LEFT, {}).items():
        if key not in st.session_state and (key not in choices or value in choices[key]):
            st.session_state[key] = value


def filters_bar(context: StudioContext) -> Filters:
    owner = context.jobs.owner  # "" when nobody gave a name: then there is only everyone's library
    folders = context.library.folders()
    models = context.library.models()
    _filters_as_left({"gallery_folder": [ALL_FOLDERS, *folders, ""], "gallery_model": [None, *models]})
    # Whose and which folder sit above the bar, which is full: a row of their own, shown only when there is a choice.
    above = st.container(horizontal=True, vertical_alignment="center", gap="medium") if owner or folders else None
    whose = above.radio("Whose videos", ["Mine", "Everyone"], key="gallery_whose", horizontal=True,
                        label_visibility="collapsed", width="content") if above and owner else "Everyone"
    folder = above.selectbox("Folder", [ALL_FOLDERS, *folders, ""], key="gallery_folder", persist_state=KEEP,
                             width=220, label_visibility="collapsed", format_func=_folder_label,
                             icon=":material/folder:") \
        if above and folders else ALL_FOLDERS
    bar = st.container(horizontal=True, vertical_alignment="bottom", gap="medium")  # one row, not five columns
    # Job and review statuses in one list: Approved and Ready are both what a marketer calls a status.
    status = bar.selectbox("Status", STATUS_CHOICES, key="gallery_status", placeholder="All statuses",
                           persist_state=KEEP, width=150, format_func=_status_label)
    model = bar.selectbox("Model", [None, *models], key="gallery_model", placeholder="All models",
                          persist_state=KEEP, width=150, format_func=lambda m: "All models" if m is None else m)
    text = bar.text_input("Search", key="gallery_text", placeholder="Prompt, title or tags",
                          persist_state=KEEP)
    sort = bar.selectbox("Sort", list(SORTS), key="gallery_sort", persist_state=KEEP, width=130,
                         format_func=str.capitalize)
    favourites = bar.toggle("Favourites", key="gallery_favourites", persist_state=KEEP, width="content")
    bar.button("Sync", icon=":material/sync:", on_click=_request_sync,
               help=f"Add videos {context.provider.label} has that this library lacks, and download them.")
    reviewed = status.removeprefix(REVIEWED) if status and status.startswith(REVIEWED) else None
    filters = Filters(status=None if reviewed else status, model=model, text=text or "", favourites_only=favourites,
                      owner=owner if whose == "Mine" else None, sort=sort or "newest", review_status=reviewed,
                      folder=None if folder in (None, ALL_FOLDERS) else folder)
    st.session_state[FILTERS_LEFT] = {key: st.session_state[key] for key in ("gallery_whose", *FILTER_KEYS)
                                      if key in st.session_state}
    if st.session_state.get("gallery_filters") != filters:
        st.session_state["gallery_filters"] = filters
        st.session_state[CURSORS] = [None]  # new filters or a new order start at the first page
    return filters


def _older(cursor: tuple[float, str]) -> None:
    st.session_state[CURSORS].append(cursor)


def _newer() -> None:
    if len(st.session_state[CURSORS]) > 1:
        st.session_state[CURSORS].pop()


def grid(context: StudioContext, filters: Filters) -> None:
    cursors = st.session_state.setdefault(CURSORS, [None])
    page = context.library.page(filters, limit=PAGE_SIZE, before=cursors[-1])
    total = context.library.count(filters)
    if not page.records:
        if context.library.count() == 0:
            st.info("No videos yet. Make your first one, or press Sync to bring in videos made elsewhere.",
                    icon=":material/movie:")
            st.page_link("app_pages/text_to_video.py", label="Go to Text to video", icon=":material/arrow_forward:")
        else:
            st.info("No videos match these filters.", icon=":material/filter_alt_off:")
            st.button("Clear filters", on_click=_clear_filters, icon=":material/filter_alt_off:")
        return
    first = (len(cursors) - 1) * PAGE_SIZE + 1
    st.caption(f"Showing {first}–{first + len(page.records) - 1} of {total}")
    # Three columns filled in turn (newest at the top left), not a row of columns per three cards: 4 elements
    # instead of 16, on every rerun.
    columns = st.columns(COLUMNS)
    for index, record in enumerate(page.records):
        with columns[index % COLUMNS]:
            gallery_card(context, record, key="grid")
    if len(cursors) == 1 and page.next_cursor is None:
        return  # everything fits on one page: no pager to grey out
    with st.container(horizontal=True, horizontal_alignment="distribute"):  # one row, not three columns
        st.button("Newer", icon=":material/chevron_left:", on_click=_newer, disabled=len(cursors) == 1)
        st.button("Older", icon=":material/chevron_right:", icon_position="right", on_click=_older,
                  args=(page.next_cursor,), disabled=page.next_cursor is None)


def compare_section(context: StudioContext) -> None:
    """Two to four finished videos side by side; the newest variant group is preselected."""
    if not st.toggle("Compare videos", key="gallery_compare"):
        return
    records = context.library.finished(limit=60)
    if len(records) < 2:
        st.info("Compare needs at least two finished videos.", icon=":material/compare:")
        return
    by_id = {r.video_id: r for r in records}
    if "compare_ids" not in st.session_state:
        group = next((r.variant_group for r in records if r.variant_group), None)
        st.session_state["compare_ids"] = [r.video_id for r in records if group and r.variant_group == group][:4] \
            or [r.video_id for r in records[:2]]
    chosen = st.multiselect("Videos to compare", list(by_id), key="compare_ids", max_selections=4,
                            format_func=lambda i: f"{short_title(by_id[i].display_title, 50)} ({i[-6:]})")
    if len(chosen) < 2:
        st.caption("Pick two to four videos.")
        return
    video_pair(context.library, [by_id[i] for i in chosen], key="compare")
    st.divider()
