"""The reference image: upload, checks, fit mode, and a live preview of exactly what will be sent."""

from __future__ import annotations

import hashlib

import streamlit as st

from components.feedback import show_error
from studio.errors import ImageRejected
from studio.media.images import FittedImage, ImageInfo, fit, inspect_image, suggest_orientation
from studio.media.upload_limits import REFERENCE_IMAGE
from studio.provider.code_export import fitted_file_name

FIT_MODES = {"cover": "Crop to fill", "contain": "Letterbox", "stretch": "Stretch"}


@st.cache_data(max_entries=32, show_spinner=False)
def _fitted(data: bytes, size: str, mode: str, focal: tuple[float, float], background: str) -> FittedImage:
    return fit(data, size, mode, focal=focal, background=background)  # type: ignore[arg-type]


def reference_upload(key: str, sizes: tuple[str, ...], size_key: str) -> tuple[bytes, ImageInfo] | None:
    """The uploader. A new image preselects the size that matches its orientation."""
    upload = st.file_uploader("Reference image", type=list(REFERENCE_IMAGE.extensions), key=f"{key}_upload",
                              max_upload_size=REFERENCE_IMAGE.max_mb,
                              help=f"{REFERENCE_IMAGE.summary}. It is fitted to the exact video size.")
    if upload is None:
        st.info("Upload a picture to animate: a product shot, a poster, a storyboard frame.",
                icon=":material/add_photo_alternate:")
        return None
    data = upload.getvalue()
    try:
        info = inspect_image(data)
    except ImageRejected as error:
        show_error(error)
        return None
    digest = hashlib.sha256(data).hexdigest()
    if st.session_state.get(f"{key}_digest") != digest:
        st.session_state[f"{key}_digest"] = digest
        st.session_state[size_key] = suggest_orientation(info.width, info.height, sizes)
    return data, info


def fit_controls(key: str, data: bytes, info: ImageInfo, size: str) -> FittedImage | None:
    mode = st.segmented_control("Fit", list(FIT_MODES), format_func=FIT_MODES.get, default="cover",
                                key=f"{key}_mode", required=True) or "cover"
    focal = (0.5, 0.5)
    background = "blur"
    if mode == "cover":
        left, right = st.columns(2)
        focal = (left.slider("Focus across", 0.0, 1.0, 0.5, 0.05, key=f"{key}_fx",
                             help="Which part stays in frame when the sides are cropped."),
                 right.slider("Focus down", 0.0, 1.0, 0.5, 0.05, key=f"{key}_fy",
                              help="Which part stays in frame when the top or bottom is cropped."))
    elif mode == "contain":
        left, right = st.columns(2)
        fill = left.radio("Bars", ["Blurred picture", "Solid colour"], key=f"{key}_bars", horizontal=True)
        if fill == "Solid colour":
            background = right.color_picker("Colour", "#000000", key=f"{key}_colour")
    try:
        fitted = _fitted(data, size, mode, focal, background)
    except ImageRejected as error:
        show_error(error)
        return None
    note = f"{info.width}x{info.height} {info.format} → {fitted.width}x{fitted.height} {fitted.mime}"
    # Outlined (CSS in app.py), so a white or pale edge still shows where the frame ends.
    with st.container(key=f"{key}_fitted_preview"):
        st.image(fitted.data, caption=f"What will be sent: {note}", width="stretch")
    if fitted.transparency_filled:
        st.info("Transparent areas were filled with white: a video has no see-through parts. For another "
                "colour, save the image on that background first.",
                icon=":material/format_color_fill:")
    upload = st.session_state.get(f"{key}_upload")
    st.download_button("Download the fitted image", fitted.data, mime=fitted.mime, icon=":material/download:",
                       file_name=fitted_file_name(getattr(upload, "name", None), fitted), on_click="ignore",
                       key=f"{key}_download_fitted", help="The exact picture that is sent, for the Python code below.")
    return fitted
