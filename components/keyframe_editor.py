"""Keyframes for Image to video: an optional end frame and more pictures, each on a frame slider, and a strip that
previews where each one lands. Offered where the provider places pictures at chosen frames."""

from __future__ import annotations

import streamlit as st

from components.feedback import show_error
from studio.errors import StudioError
from studio.keyframes import LAST_FRAME, MAX_KEYFRAMES, Keyframe, frame_count
from studio.media.images import FittedImage, fit
from studio.media.upload_limits import REFERENCE_IMAGE

MORE_KEYFRAMES = MAX_KEYFRAMES - 2  # the reference takes frame 0 and the end frame the last


def _fitted(upload: st.runtime.uploaded_file_manager.UploadedFile, size: str) -> FittedImage | None:
    try:
        return fit(upload.getvalue(), size, "cover")
    except StudioError as error:
        show_error(error)
        return None


def keyframe_editor(key: str, size: str, seconds: str, fps: int | None,
                    start: FittedImage | None) -> tuple[Keyframe, ...] | None:
    """The keyframes chosen (each fitted to `size`, like the reference); None when one cannot be used (the error
    is shown), so the page does not submit without it."""
    frames = frame_count(seconds, fps)
    # A toggle, not an expander: a closed expander still builds its uploaders; off, the page has none of them.
    if not st.toggle("End frame and keyframes", key=f"{key}_keyframes",
                     help="Place pictures at chosen frames: where the video should arrive, and on the way."):
        return ()
    with st.container(border=True):
        st.caption(f"The video has {frames} frames. The reference image is frame 0; the model moves through each "
                   "picture at its frame.")
        end = st.file_uploader("End frame (optional)", type=list(REFERENCE_IMAGE.extensions), key=f"{key}_end",
                               max_upload_size=REFERENCE_IMAGE.max_mb, help="Where the video should arrive.")
        more = st.file_uploader(f"More keyframes (up to {MORE_KEYFRAMES})", type=list(REFERENCE_IMAGE.extensions),
                                key=f"{key}_more", accept_multiple_files=True, max_upload_size=REFERENCE_IMAGE.max_mb)
        if len(more) > MORE_KEYFRAMES:
            st.error(f"Place at most {MORE_KEYFRAMES} more keyframes; {len(more)} are uploaded.",
                     icon=":material/error:")
            return None
        keyframes: list[Keyframe] = []
        shown: list[tuple[int, FittedImage]] = [(0, start)] if start is not None else []
        for number, upload in enumerate(more, start=1):
            fitted = _fitted(upload, size)
            if fitted is None:
                return None
            if frames < 3:
                st.error("The video is too short for keyframes between its ends.", icon=":material/error:")
                return None
            spread = round(number * (frames - 1) / (len(more) + 1))
            frame = st.slider(f"Frame for {upload.name}", 1, frames - 2, min(max(spread, 1), frames - 2),
                              key=f"{key}_frame_{number}")
            keyframes.append(Keyframe(frame, f"keyframe-{number}.png", fitted.data, fitted.mime))
            shown.append((frame, fitted))
        if end is not None:
            fitted = _fitted(end, size)
            if fitted is None:
                return None
            keyframes.append(Keyframe(LAST_FRAME, "end.png", fitted.data, fitted.mime))
            shown.append((frames - 1, fitted))
        if keyframes:
            strip(sorted(shown, key=lambda placed: placed[0]))
    return tuple(keyframes)


def strip(placed: list[tuple[int, FittedImage]]) -> None:
    """Each picture in frame order, captioned with its frame."""
    for column, (frame, image) in zip(st.columns(len(placed)), placed, strict=True):
        column.image(image.data, caption=f"frame {frame}", width="stretch")
