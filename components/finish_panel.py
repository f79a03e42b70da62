"""The Finish panel on a video's page: trim, a social format, a logo, subtitles, an end card, a music bed and the
bitrate, then "Export MP4" (a new library item linked to this one, never an overwrite), a GIF and a poster frame.

What is typed and uploaded stays in the session while the page is open, so a failed export loses nothing."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import streamlit as st
from PIL import Image, ImageDraw
from streamlit_image_coordinates import streamlit_image_coordinates

from components.context import StudioContext
from components.drawer import drawer
from components.feedback import show_error
from components.finish_progress import ended_finish, finishing_queue, is_finishing, start_finish
from components.plain_text import escape_markdown
from studio.brand_kit import CORNER_LABELS, BrandKit, finish_parts, font_path, load_brand_kit, picture
from studio.errors import StudioError
from studio.library import Library, VideoRecord
from studio.media.finishing import (
    FORMAT_PRESETS,
    Caption,
    EndCard,
    FinishError,
    FinishSpec,
    Format,
    Logo,
    MusicBed,
    Subtitles,
    Trim,
    parse_subtitles,
    poster_frame,
    reframe_preview,
)
from studio.media.thumbnails import frames_strip
from studio.media.upload_limits import END_CARD_IMAGE, LOGO_IMAGE, MUSIC_BED, SUBTITLE_FILE, UploadLimit, megabytes_text

ORIGINAL = "Original size"
FORMAT_MODES = {"crop": "Crop around a point", "fit": "Fit, with blurred bars"}
LOGO_SOURCES = ("None", "Brand kit", "Upload")
BITRATES = {
    0: "Automatic (the encoder's quality)",
    2000: "2 Mbit/s",
    4000: "4 Mbit/s",
    8000: "8 Mbit/s",
    12000: "12 Mbit/s",
}
GIF_WIDTHS = (320, 480, 640)
GIF_FPS = (8, 10, 12, 15)
PREVIEW_WIDTH = 320  # px: the source frame and its reframed preview sit side by side


@dataclass
class Draft:
    """The request as the panel has it, and what stops it being exported, in words."""

    spec: FinishSpec = field(default_factory=FinishSpec)
    problems: list[str] = field(default_factory=list)


def _key(record: VideoRecord, name: str) -> str:
    return f"finish_{name}_{record.video_id}"  # per video: another video's page starts from its own defaults


def clip_seconds(record: VideoRecord) -> float:
    try:
        return max(0.1, float(record.seconds))
    except ValueError:
        return 4.0


def finish_panel(context: StudioContext, record: VideoRecord) -> None:
    """The Finish drawer of a finished, downloaded video; nothing for one still rendering or failed."""
    source = context.library.path(record.video_path)
    if record.status != "completed" or source is None or not source.exists():
        return
    if (
        panel := drawer("Finish: logo, end card, subtitles, formats", icon=":material/movie_edit:", key="finish_drawer")
    ) is None:
        return
    with panel:
        kit = load_brand_kit(context.library)
        st.button(
            "Apply brand kit",
            icon=":material/palette:",
            on_click=apply_brand_kit,
            args=(record, kit),
            disabled=kit.is_empty,
            key=_key(record, "apply_kit"),
            help="Set the logo and end card from Settings → Brand kit"
            if not kit.is_empty
            else "No brand kit saved yet: set one in Settings → Brand kit.",
        )
        draft = Draft()
        trim, fmt, logo, subtitles, end_card, music = st.tabs(
            ["Trim", "Format", "Logo", "Subtitles", "End card", "Music and bitrate"]
        )
        with trim:
            _trim(record, source, draft)
        with fmt:
            _format(context, record, draft)
        with logo:
            _logo(context, record, kit, draft)
        with subtitles:
            _subtitles(record, kit, draft)
        with end_card:
            _end_card(context, record, kit, draft)
        with music:
            _music(record, draft)
        _export(context, record, draft)
        _gif_and_poster(context.library, record, source)


def apply_brand_kit(record: VideoRecord, kit: BrandKit) -> None:
    """One click: the logo and end card fields take the kit's values (each can still be changed after)."""
    state = st.session_state
    if kit.logo_file:
        state[_key(record, "logo_source")] = "Brand kit"
    if kit.end_card_seconds > 0:
        state.update(
            {
                _key(record, "card_on"): True,
                _key(record, "card_seconds"): float(kit.end_card_seconds),
                _key(record, "card_colour"): kit.background,
                _key(record, "card_text_colour"): kit.text_colour,
                _key(record, "card_headline"): kit.headline,
                _key(record, "card_cta"): kit.call_to_action,
                _key(record, "card_use_kit_image"): bool(kit.end_card_image_file),
            }
        )
    st.toast("Brand kit applied: its logo and end card are set below.", icon=":material/palette:")


def _upload(record: VideoRecord, name: str, limit: UploadLimit, label: str, draft: Draft) -> tuple[bytes, str] | None:
    """An uploaded file's bytes and name, or None; one over the house limit is refused in words."""
    upload = st.file_uploader(f"{label} ({limit.summary})", type=list(limit.extensions), key=_key(record, name))
    if upload is None:
        return None
    if (problem := limit.refusal(upload.size)) is not None:
        st.error(escape_markdown(problem), icon=":material/error:")
        draft.problems.append(problem)
        return None
    return upload.getvalue(), upload.name


def _trim(record: VideoRecord, source: Path, draft: Draft) -> None:
    if (strip := frames_strip(source)) is not None:
        st.image(str(strip), width="stretch")
    length = clip_seconds(record)
    start, end = st.slider(
        "Keep from, to (seconds)", 0.0, length, (0.0, length), step=0.1, format="%.1f s", key=_key(record, "trim")
    )
    if end - start < 0.5:
        draft.problems.append("Keep at least half a second of the clip.")
    elif start > 0 or end < length:
        draft.spec = _with(draft.spec, trim=Trim(start=start, end=None if end >= length else end))


def _format(context: StudioContext, record: VideoRecord, draft: Draft) -> None:
    choice = st.radio("Format", [ORIGINAL, *FORMAT_PRESETS], horizontal=True, key=_key(record, "format"))
    if choice == ORIGINAL:
        return
    width, height = FORMAT_PRESETS[choice]
    mode = (
        st.segmented_control(
            "Reframe by",
            list(FORMAT_MODES),
            format_func=FORMAT_MODES.get,
            required=True,
            default="crop",
            key=_key(record, "format_mode"),
        )
        or "crop"
    )
    frame = thumbnail_frame(context.library, record)
    if frame is None:
        draft.spec = _with(draft.spec, format=Format(width, height, mode=mode))  # type: ignore[arg-type]
        st.caption("No frame to preview: the export still reframes the clip, around its centre.")
        return
    left, right = st.columns(2)
    # The component keeps its last click under its key: read before it is drawn, so the marker shows that point.
    focal = _focal_point(st.session_state.get(_key(record, "focal_click")))
    with left:
        if mode == "crop":
            st.caption(f"Click the point to keep in view (now {focal[0]:.0%} across, {focal[1]:.0%} down).")
            clicked = streamlit_image_coordinates(
                _marked(frame, focal), width=PREVIEW_WIDTH, key=_key(record, "focal_click"), cursor="crosshair"
            )
            focal = _focal_point(clicked)
        else:
            st.image(frame, width=PREVIEW_WIDTH, caption="The source")
    chosen = Format(width, height, mode=mode, focal_x=focal[0], focal_y=focal[1])  # type: ignore[arg-type]
    draft.spec = _with(draft.spec, format=chosen)
    with right:
        try:
            preview = reframe_preview(frame, chosen)
        except FinishError as error:
            st.caption(f"No preview: {escape_markdown(str(error) or 'the finisher is not installed here')}.")
        else:
            st.image(
                preview,
                width=PREVIEW_WIDTH // 2 if height > width else PREVIEW_WIDTH,
                caption=f"{width}x{height}, {FORMAT_MODES[mode].lower()}",
            )


def _focal_point(clicked: object) -> tuple[float, float]:
    """A click on the preview (x, y of the shown width, height) as 0..1 of the frame; the centre before any."""
    if not isinstance(clicked, dict) or not clicked.get("width") or not clicked.get("height"):
        return 0.5, 0.5
    return (min(1.0, max(0.0, clicked["x"] / clicked["width"])), min(1.0, max(0.0, clicked["y"] / clicked["height"])))


def _marked(frame: Image.Image, focal: tuple[float, float]) -> Image.Image:
    """The frame with a ring on the focal point."""
    marked = frame.copy()
    x, y, r = focal[0] * frame.width, focal[1] * frame.height, max(6, frame.width // 40)
    draw = ImageDraw.Draw(marked)
    draw.ellipse((x - r, y - r, x + r, y + r), outline="white", width=max(2, r // 3))
    draw.ellipse((x - r / 3, y - r / 3, x + r / 3, y + r / 3), fill="white")
    return marked


def thumbnail_frame(library: Library, record: VideoRecord) -> Image.Image | None:
    """The video's thumbnail as an RGB picture (its file closed), or None when it has none or it cannot be read."""
    path = library.path(record.thumbnail_path)
    if path is None:
        return None
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except OSError:
        return None


def _logo(context: StudioContext, record: VideoRecord, kit: BrandKit, draft: Draft) -> None:
    source = st.radio("Logo", LOGO_SOURCES, horizontal=True, key=_key(record, "logo_source"))
    if source == "None":
        return
    if source == "Brand kit":
        logo = finish_parts(context.library, kit).logo
        if logo is None:
            st.caption("The brand kit has no logo yet: set one in Settings → Brand kit, or upload one here.")
        else:
            st.image(logo.png, width=120)
            draft.spec = _with(draft.spec, logo=logo)
        return
    upload = _upload(record, "logo_file", LOGO_IMAGE, "Logo", draft)
    corner_col, size_col, opacity_col = st.columns(3)
    corner = corner_col.selectbox(
        "Corner", list(CORNER_LABELS), format_func=CORNER_LABELS.get, index=3, key=_key(record, "logo_corner")
    )
    width = size_col.slider("Width (% of the frame)", 5, 50, 18, key=_key(record, "logo_width"))
    opacity = opacity_col.slider("Opacity (%)", 10, 100, 85, key=_key(record, "logo_opacity"))
    if upload is not None:
        draft.spec = _with(
            draft.spec,
            logo=Logo(
                png=upload[0],
                corner=corner,  # type: ignore[arg-type]
                width=width / 100,
                opacity=opacity / 100,
            ),
        )


def _subtitles(record: VideoRecord, kit: BrandKit, draft: Draft) -> None:
    upload = _upload(record, "subtitle_file", SUBTITLE_FILE, "Subtitles file", draft)
    lines: tuple[Caption, ...] = ()
    if upload is not None:
        try:
            lines = parse_subtitles(*upload)
        except FinishError as error:
            st.error(escape_markdown(str(error)), icon=":material/error:")
            draft.problems.append(str(error))
            return
        st.caption(f"{len(lines)} lines read from {escape_markdown(upload[1])}.")
    else:
        st.caption("Or type timed lines (seconds on the finished clip):")
        typed = st.data_editor(
            [{"From": 0.0, "To": 2.0, "Text": ""}],
            num_rows="dynamic",
            width="stretch",
            key=_key(record, "subtitle_rows"),
            column_config={
                "From": st.column_config.NumberColumn(min_value=0.0, step=0.1),
                "To": st.column_config.NumberColumn(min_value=0.0, step=0.1),
                "Text": st.column_config.TextColumn(width="large"),
            },
        )
        lines, problems = typed_captions(typed)
        draft.problems.extend(problems)
    if not lines:
        return
    burn = st.radio(
        "Show them",
        ("Burned into the picture", "As a subtitle track, with a .srt beside it"),
        horizontal=True,
        key=_key(record, "subtitle_burn"),
    )
    burn_in = burn.startswith("Burned")  # burned-in lines are drawn in the brand kit's font, as its end card
    draft.spec = _with(draft.spec, subtitles=Subtitles(lines=lines, burn_in=burn_in, font=font_path(kit)))


def typed_captions(rows: list[dict[str, object]]) -> tuple[tuple[Caption, ...], list[str]]:
    """The lines typed in the subtitles table, in time order (rows with no text are left out), and what is wrong
    with them, by line number as typed."""
    captions, problems = [], []
    for number, row in enumerate(rows, 1):
        text = " ".join(str(row.get("Text") or "").split())
        if not text:
            continue
        start, end = (_seconds(row.get(column)) for column in ("From", "To"))
        if end <= start:
            problems.append(f"Subtitle line {number} must end after it starts ({start:g} s to {end:g} s).")
        captions.append(Caption(start, end, text))
    return tuple(sorted(captions, key=lambda caption: caption.start)), problems


def _seconds(value: object) -> float:
    try:
        return max(0.0, float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def _end_card(context: StudioContext, record: VideoRecord, kit: BrandKit, draft: Draft) -> None:
    if not st.toggle("Add an end card", key=_key(record, "card_on")):
        return
    text_col, look_col = st.columns([2, 1])
    headline = text_col.text_input("Headline", max_chars=80, key=_key(record, "card_headline"))
    cta = text_col.text_input(
        "Call to action", max_chars=80, key=_key(record, "card_cta"), placeholder="e.g. Shop now at example.com"
    )
    seconds = look_col.number_input("Seconds", 0.5, 10.0, 2.0, step=0.5, key=_key(record, "card_seconds"))
    colour = look_col.color_picker("Background", "#000000", key=_key(record, "card_colour"))
    text_colour = look_col.color_picker("Text", "#ffffff", key=_key(record, "card_text_colour"))
    upload = _upload(record, "card_image", END_CARD_IMAGE, "Picture (optional)", draft)
    from_kit = st.session_state.get(_key(record, "card_use_kit_image")) and upload is None
    if from_kit:
        st.caption("The brand kit's end card picture fills the card; upload another to replace it.")
    image = upload[0] if upload is not None else picture(context.library, kit.end_card_image_file) if from_kit else None
    draft.spec = _with(
        draft.spec,
        end_card=EndCard(
            seconds=seconds,
            colour=colour,
            image=image,
            headline=headline,
            call_to_action=cta,
            text_colour=text_colour,
            font=font_path(kit),
        ),
    )


def _music(record: VideoRecord, draft: Draft) -> None:
    upload = _upload(record, "music_file", MUSIC_BED, "Music bed", draft)
    if upload is not None:
        volume = st.slider(
            "Music volume (%)",
            5,
            100,
            35,
            key=_key(record, "music_volume"),
            help="Lowered further wherever the clip has its own sound; faded out at the end.",
        )
        draft.spec = _with(draft.spec, music=MusicBed(audio=upload[0], filename=upload[1], volume=volume / 100))
    bitrate = st.selectbox("Bitrate", list(BITRATES), format_func=BITRATES.get, key=_key(record, "bitrate"))
    if bitrate:
        draft.spec = _with(draft.spec, bitrate_kbps=bitrate)


def _with(spec: FinishSpec, **parts: object) -> FinishSpec:
    return replace(spec, **parts)  # type: ignore[arg-type]


FINISHED = "finished_video_of_{}"  # session key: the library item the last export of a video made
EXPORTING = "exporting_video_of_{}"  # session key: the export of a video this session has running on the server
GIF_MADE = "finished_gif_of_{}"  # session key: (its file, what it is) of the last GIF made of a video


def _export(context: StudioContext, record: VideoRecord, draft: Draft) -> None:
    for problem in draft.problems:
        st.caption(f":material/error: {escape_markdown(problem)}")
    task_key = EXPORTING.format(record.video_id)
    if st.button(
        "Export MP4",
        icon=":material/movie:",
        type="primary",
        key=_key(record, "export"),
        disabled=bool(draft.problems) or draft.spec.is_empty or is_finishing(context, task_key),
        help="Choose at least one change above." if draft.spec.is_empty else None,
    ):
        start_finish(context, task_key, [record.video_id], draft.spec)
    if (ended := ended_finish(context, task_key)) is not None:
        for _, message in ended.failed:  # the choices above stay as they are: fix one and export again
            st.error(f"**The clip was not finished.** {escape_markdown(message)}", icon=":material/error:")
        if ended.made:
            st.session_state[FINISHED.format(record.video_id)] = ended.made[0]
    elif not st.session_state.get(task_key) and (others := finishing_queue(context).running_for(record.video_id)):
        st.caption(f":material/hourglass_top: An export of this video is running on the server "
                   f"({others[0].progress:.0%}); it appears in the gallery when it is done.")
    _finished_notice(context, record)


def _finished_notice(context: StudioContext, record: VideoRecord) -> None:
    made_id = st.session_state.get(FINISHED.format(record.video_id))
    made = context.library.get(made_id) if made_id else None
    path = context.library.path(made.video_path) if made is not None else None
    if made is None or path is None or not path.exists():
        return
    st.success(
        f"Finished: a new video, {made.size}, {clip_seconds(made):g} s. This one is unchanged.",
        icon=":material/check_circle:",
    )
    link, download = st.columns(2)
    link.page_link(
        "app_pages/video.py",
        label="Open the finished video",
        icon=":material/movie_edit:",
        query_params={"video": made.video_id},
    )
    download.download_button(
        "Download the finished MP4",
        data=lambda: path.open("rb"),
        mime="video/mp4",
        file_name=f"{made.video_id}.mp4",
        icon=":material/download:",
        on_click="ignore",
        key=_key(record, "finished_download"),
    )
    sidecar = context.library.path(made.extra.get("subtitles_path"))
    if sidecar is not None and sidecar.exists():  # soft subtitles: the .srt that goes beside the MP4
        download.download_button(
            "Download the subtitles (.srt)",
            data=sidecar.read_bytes,
            mime="application/x-subrip",
            file_name=f"{made.video_id}.srt",
            icon=":material/subtitles:",
            on_click="ignore",
            key=_key(record, "finished_subtitles"),
        )


def _gif_and_poster(library: Library, record: VideoRecord, source: Path) -> None:
    st.markdown("**GIF and poster frame** (of this video as it is)")
    width_col, fps_col, size_col, at_col = st.columns(4)
    width = width_col.selectbox(
        "GIF width", GIF_WIDTHS, index=1, format_func="{} px".format, key=_key(record, "gif_width")
    )
    fps = fps_col.selectbox("GIF frames a second", GIF_FPS, index=1, key=_key(record, "gif_fps"))
    max_mb = size_col.number_input("GIF at most (MB)", 0.5, 50.0, 5.0, step=0.5, key=_key(record, "gif_mb"))
    at = at_col.number_input(
        "Poster at (s)",
        0.0,
        clip_seconds(record),
        min(1.0, clip_seconds(record) / 2),
        step=0.1,
        key=_key(record, "poster_at"),
    )
    gif_col, poster_col = st.columns(2)
    if gif_col.button("Make GIF", icon=":material/gif_box:", key=_key(record, "gif")):
        from studio.finishing import save_gif  # the engine: loaded when asked, not on every page

        with st.spinner("Making the GIF…"):
            try:
                made = save_gif(library, record.video_id, width=width, fps=fps, max_megabytes=max_mb)
            except StudioError as error:  # FinishError among them: a limit no size can meet
                show_error(error)
            else:
                st.session_state[GIF_MADE.format(record.video_id)] = (
                    str(made.path),
                    f"{made.width}x{made.height}, {made.fps} fps, {megabytes_text(made.size_bytes)}",
                )
    if (gif := st.session_state.get(GIF_MADE.format(record.video_id))) is not None and Path(gif[0]).exists():
        gif_col.download_button(
            f"Download GIF ({gif[1]})",
            data=Path(gif[0]).read_bytes,
            file_name=f"{record.video_id}.gif",
            mime="image/gif",
            icon=":material/download:",
            on_click="ignore",
            key=_key(record, "gif_download"),
        )
    poster_col.download_button(
        "Poster PNG",
        data=lambda: poster_frame(source, at),
        mime="image/png",
        file_name=f"{record.video_id}-poster.png",
        icon=":material/image:",
        on_click="ignore",
        key=_key(record, "poster"),
    )
