"""The batch queue in the browser: rows in (a pasted or uploaded CSV with its images, or one prompt × N seeds), the
estimate and every bad row before anything is sent, then each batch's rows live, with pause, resume, cancel and
one ZIP.

The process's background worker sends the rows (`studio.batch.advance` rides on its beat). A session whose
provider the worker does not serve (keys typed for this session only) advances its batches from this page.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from components import video_card
from components.background import keep_jobs_running, polled_in_background
from components.context import StudioContext
from components.feedback import queue_toast, show_error
from components.finish_all import finish_all
from components.generation_settings import size_label
from components.identity import current_owner
from components.plain_text import counted, escape_markdown
from studio import batch as batches
from studio.errors import StudioError
from studio.jobs import Jobs
from studio.library import Library
from studio.media.upload_limits import BATCH_CSV, REFERENCE_IMAGE
from studio.prompts import short_title
from studio.provider.profiles import Provider

TICK_SECONDS = 1.0
PROVIDER_PACE = "This provider's pace"
STATUS_LABELS = batches.ROW_STATUS_WORDS  # the header counts rows in these same words
CSV_EXAMPLE = ("prompt,size,seconds,seed,image\n"
               "A red kite over green hills at dawn,720x1280,4,,\n"
               "\"A yellow taxi in the rain, pan left\",1280x720,4,,\n")


@st.cache_resource(show_spinner=False, max_entries=32)
def _on_worker_beat(_worker: object, _library: Library, _provider: Provider, _step: Callable[[Library, Jobs], object],
                    what: str, data_dir: str, kind: str, base_url: str) -> bool:
    """Put `step` for this provider on the worker's beat, once per server process, provider and kind of work."""
    jobs = Jobs(_provider, _library)
    _worker.add_task(lambda: _step(_library, jobs))  # type: ignore[attr-defined]
    return True


def moved_in_background(context: StudioContext, what: str, step: Callable[[Library, Jobs], object]) -> bool:
    """True when the background worker runs `step` (a batch's advance, a storyboard's render) for this provider;
    False when it does not serve it (keys typed for this session only), and the page must."""
    if not polled_in_background(context):
        return False
    provider = context.provider
    _on_worker_beat(keep_jobs_running(context), context.library, provider, step, what,
                    str(context.library.data_dir), provider.kind, provider.base_url or "")
    return True


def _defaults(provider: Provider, key: str) -> batches.RowDefaults:
    caps = provider.capabilities
    model_col, size_col, seconds_col = st.columns(3)
    model = model_col.selectbox("Model for blank cells", caps.models, key=f"{key}_model")
    size = size_col.selectbox("Size for blank cells", caps.sizes_for(model), format_func=size_label,
                              key=f"{key}_size")
    seconds = seconds_col.selectbox("Seconds for blank cells", caps.durations, key=f"{key}_seconds")
    return batches.RowDefaults(model=model, size=size, seconds=seconds)


def batch_form(context: StudioContext, key: str = "batch") -> None:
    """Rows in, checked and priced as they are typed; Start queues them."""
    provider = context.provider
    if st.session_state.pop(f"{key}_started", False):  # a queued batch's rows leave the form, so none is queued twice
        for name in ("csv_text", "csv_file", "images", "seed_prompt", "name"):
            st.session_state.pop(f"{key}_{name}", None)
    from_csv, from_seeds = st.tabs(["From a CSV", "One prompt × seeds"])
    drafts: list[batches.DraftRow] = []
    images: dict[str, bytes] = {}
    problems: list[batches.RowProblem] = []
    with from_csv:
        st.caption("Columns: **prompt**, and optionally size, seconds, model, seed and image (a file name; upload "
                   "the images below). One row per video; the first row names the columns.")
        uploaded = st.file_uploader("Upload a CSV", type=list(BATCH_CSV.extensions), key=f"{key}_csv_file",
                                    max_upload_size=BATCH_CSV.max_mb, help=BATCH_CSV.summary)
        text = st.text_area("Or paste the CSV", key=f"{key}_csv_text", height=160, placeholder=CSV_EXAMPLE)
        files = st.file_uploader("Images named in the CSV", type=list(REFERENCE_IMAGE.extensions),
                                 accept_multiple_files=True, key=f"{key}_images",
                                 max_upload_size=REFERENCE_IMAGE.max_mb, help=REFERENCE_IMAGE.summary)
        images = {f.name: f.getvalue() for f in files or []}
        csv_defaults = _defaults(provider, f"{key}_csv")
        source = uploaded.getvalue().decode("utf-8-sig", errors="replace") if uploaded is not None else text
    with from_seeds:
        prompt = st.text_area("Prompt", key=f"{key}_seed_prompt", height=100)
        takes_col, seed_col = st.columns(2)
        takes = takes_col.number_input("Takes", min_value=1, max_value=batches.MAX_ROWS, value=4,
                                       key=f"{key}_takes")
        first_seed = seed_col.number_input("First seed", min_value=0, value=1, key=f"{key}_first_seed")
        seed_defaults = _defaults(provider, f"{key}_seeds")
    use_seeds = bool(prompt.strip()) and not source.strip()
    try:
        if use_seeds:
            drafts = batches.rows_from_seeds(prompt, int(takes), int(first_seed), seed_defaults)
        elif source.strip():
            drafts = batches.parse_csv(source, csv_defaults)
    except batches.BatchRejected as error:
        problems = error.problems
    if not drafts and not problems:
        st.info("Paste or upload a CSV, or write one prompt for several seeds, to see the rows and their cost.",
                icon=":material/table_rows:")
        return
    plan = batches.plan_batch(drafts, provider, images) if drafts else None
    problems = problems + (plan.problems if plan else [])
    if plan is not None:
        st.markdown(f"**Estimate:** {escape_markdown(plan.estimate.label)}")
    if problems:
        st.error(f"**Fix {len(problems)} row problem{'s' if len(problems) != 1 else ''} before starting; nothing "
                 "has been sent.**\n\n" + "\n".join(f"- {escape_markdown(str(p))}" for p in problems),
                 icon=":material/error:")
    if plan is not None and plan.rows:
        st.dataframe([{"Line": r.line, "Prompt": short_title(r.prompt, 80), "Model": r.model, "Size": r.size,
                       "Seconds": r.seconds, "Seed": r.params.get("seed", ""), "Image": r.image_name}
                      for r in plan.rows], hide_index=True, width="stretch")
    name_col, pace_col, start_col = st.columns([2, 2, 1], vertical_alignment="bottom")
    name = name_col.text_input("Batch name", key=f"{key}_name", placeholder="Spring campaign")
    own_pace = batches.pace_for(provider)
    paces = {f"{PROVIDER_PACE} ({own_pace.label})": own_pace, **batches.PACE_PRESETS}
    pace_name = pace_col.selectbox("Pace", list(paces), key=f"{key}_pace",
                                   help="Jobs rendering at once, and job requests a minute. Azure allows 2 a "
                                        "minute; a 429 from the provider is always waited out.")
    ready = plan is not None and plan.ok and bool(plan.rows) and not problems
    if start_col.button("Start batch", type="primary", icon=":material/play_arrow:", disabled=not ready,
                        key=f"{key}_start", width="stretch"):
        assert plan is not None
        try:
            batch = batches.start_batch(context.library, provider, plan, name=name, pace=paces[pace_name],
                                        owner=current_owner())
        except StudioError as error:
            show_error(error)
            return
        queue_toast(f"Batch “{escape_markdown(batch.name)}” queued: {len(batch.rows)} videos.", icon=":material/queue:")
        st.session_state[f"{key}_started"] = True
        st.rerun()


def _row_line(library: Library, row: batches.BatchRow, key: str) -> None:
    with st.container(border=True):
        picture, words = st.columns([1, 4], vertical_alignment="center")
        with picture:
            if row.video is not None and row.video.thumbnail_path:
                video_card.thumbnail(library, row.video)
            else:
                st.caption(f"Line {row.line}")
        with words:
            status = escape_markdown(STATUS_LABELS.get(row.status, row.status))
            st.markdown(f"**Line {row.line} · {status}** · {escape_markdown(short_title(row.prompt, 90))}")
            if row.status in ("queued", "in_progress"):
                st.progress(min(100, max(0, row.progress)) / 100, text=f"{status} · {row.progress}%")
            seed = f" · seed {row.params['seed']}" if "seed" in row.params else ""
            st.caption(escape_markdown(f"{row.model} · {row.size} · {row.seconds} s{seed}"))
            if row.message:
                st.warning(escape_markdown(row.message), icon=":material/error:")
            if row.video is not None and row.status == "completed":
                st.page_link("app_pages/video.py", label="Open in gallery", icon=":material/video_library:",
                             query_params={"video": row.video.video_id})


def _controls(context: StudioContext, batch: batches.Batch, key: str) -> None:
    library, actor = context.library, context.jobs.actor
    pause_col, resume_col, cancel_col, zip_col = st.columns(4)
    mine = actor is None or actor.may_change(batch.owner)  # hides the buttons; studio.batch checks again
    try:
        if mine and batch.state == "running" and pause_col.button("Pause", icon=":material/pause:",
                                                                  key=f"{key}_pause"):
            batches.pause(library, batch.batch_id, actor)
            st.rerun()
        if mine and batch.state == "paused" and resume_col.button("Resume", icon=":material/play_arrow:",
                                                                  key=f"{key}_resume"):
            batches.resume(library, batch.batch_id, actor)
            st.rerun()
        if mine and batch.state in ("running", "paused") and cancel_col.button(
                "Cancel", icon=":material/cancel:", key=f"{key}_cancel",
                help="Sends nothing more. Videos already sent are paid for, so they finish and are kept."):
            batches.cancel(library, batch.batch_id, actor)
            st.rerun()
    except StudioError as error:
        show_error(error)
    if batch.completed:
        with zip_col:
            st.download_button(
                f"ZIP of {len(batch.completed)}", data=lambda: batches.zip_file(library, batch).open("rb"),
                file_name=batch.zip_name, mime="application/zip", icon=":material/folder_zip:",
                key=f"{key}_zip", on_click="ignore")


def batch_card(context: StudioContext, batch: batches.Batch, key: str) -> None:
    with st.container(border=True):
        head, state = st.columns([4, 1], vertical_alignment="center")
        head.markdown(f"### {escape_markdown(batch.name)}")
        state.badge(batch.state.capitalize(), color={"running": "blue", "paused": "orange", "finished": "green",
                                                     "cancelled": "gray"}.get(batch.state, "gray"))
        done = sum(row.settled for row in batch.rows)
        st.progress(done / len(batch.rows), text=batch.summary)
        st.caption(f"Tag {escape_markdown(batch.tag)} · {batch.pace.label}")
        if batch.last_error and batch.state == "running" and not batch.settled:
            st.info(escape_markdown(batch.last_error), icon=":material/schedule:")
        _controls(context, batch, key)
        if batch.settled and batch.completed:  # issue 23: its finished videos, with the brand kit or a preset
            finish_all(context, [row.video for row in batch.completed if row.video is not None], key=f"{key}_finish",
                       what=f"all {counted(len(batch.completed), 'video')}")
        with st.expander("Rows", expanded=not batch.settled or batch.state == "finished"):
            for row in batch.rows:
                _row_line(context.library, row, f"{key}_{row.position}")


def batch_list(context: StudioContext, *, limit: int = 5) -> None:
    """The newest batches, live while any has work left."""
    in_background = moved_in_background(context, "batches", batches.advance)
    live = any(not b.settled or b.state == "running" for b in batches.list_batches(
        context.library, context.provider.kind, limit=limit))

    @st.fragment(run_every=TICK_SECONDS if live else None)
    def rows() -> None:
        if not in_background:
            try:
                batches.advance(context.library, context.jobs)
            except StudioError as error:
                show_error(error)
        shown = batches.list_batches(context.library, context.provider.kind, limit=limit)
        if not shown:
            st.caption("No batches yet.")
        for batch in shown:
            batch_card(context, batch, key=f"batch_{batch.batch_id}")
        still_live = any(not b.settled or b.state == "running" for b in shown)
        if live and not still_live:
            st.rerun()  # the last row settled: one full run stops the ticking

    rows()
