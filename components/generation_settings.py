"""Model, size, seconds and variants, offered from the provider profile; the Advanced parameters the provider
declares; plus the cost and the code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from components.drawer import drawer
from studio.errors import InvalidInput
from studio.jobs import DEFAULT_STRENGTH, STRENGTH, VideoRequest, strength_for
from studio.media.sizes import check_free_size
from studio.provider.code_export import python_snippet
from studio.provider.profiles import ParameterSpec, Provider, ProviderOffer

OTHER_MODEL = "Other model…"
# The widgets for vLLM-Omni's extra fields, in the order shown; a field the provider does not declare is not shown.
PARAMETER_LABELS = {
    "seed": "Seed",
    "num_inference_steps": "Steps",
    "guidance_scale": "Guidance",
    "fps": "Frames per second",
    "num_frames": "Frames",
    "negative_prompt": "Negative prompt",
    "sound": "Sound",
    "audio_prompt": "Sound description",
}
# In the studio's words where the server's describe the wire ("false: ...").
PARAMETER_HELP = {"sound": "Off: the video comes with no audio track at all."}
PLACEHOLDERS = {"negative_prompt": "e.g. blurry, distorted, text",
                "audio_prompt": "e.g. rain on a tin roof, distant thunder"}
# A switch starts at what the model does when the field is left out, and is sent only when moved off it.
SWITCH_DEFAULTS = {"sound": True}


@dataclass(frozen=True)
class GenerationChoice:
    model: str
    size: str
    seconds: str
    variants: int
    params: dict[str, Any] = field(default_factory=dict)
    size_problem: str | None = None  # a free size typed wrong, in words; the size is then not usable


def size_label(size: str) -> str:
    try:
        width, height = (int(v) for v in size.split("x"))
    except ValueError:
        return size  # a size a server or a file gave that is no WIDTHxHEIGHT: shown as it is
    shape = "portrait" if height > width else "landscape" if width > height else "square"
    return f"{size} · {shape}"


def generation_settings(provider: Provider, key: str, *, compact: bool = False) -> GenerationChoice:
    """`compact` puts the four choices on two rows, for a narrow column."""
    caps = provider.capabilities
    if compact:
        model_col, size_col = st.columns(2)
        seconds_col, variants_col = st.columns(2)
    else:
        model_col, size_col, seconds_col, variants_col = st.columns([1.3, 1.3, 1, 1])
    options = [*caps.models, OTHER_MODEL] if caps.free_text_models else list(caps.models)
    model = model_col.selectbox("Model", options, key=f"{key}_model",
                                help="What the provider serves. A gateway may offer other names.")
    if model == OTHER_MODEL:
        model = model_col.text_input("Model name", key=f"{key}_model_name", placeholder="e.g. a gateway model") \
            or caps.models[0]
    sizes = caps.sizes_for(model)
    size_problem = None
    if caps.free_sizes:
        size, size_problem = free_size_input(size_col, sizes, key)
    else:
        if st.session_state.get(f"{key}_size") not in sizes:
            st.session_state.pop(f"{key}_size", None)  # the model changed and its sizes differ
        size = size_col.selectbox("Size", sizes, key=f"{key}_size", format_func=size_label)
    seconds = seconds_col.selectbox("Seconds", caps.durations, key=f"{key}_seconds",
                                    format_func=lambda s: f"{s} s")
    count = variants_col.number_input("Variants", min_value=1, max_value=4, value=1, step=1,
                                      key=f"{key}_variants", help="Make up to 4 takes to compare side by side.")
    return GenerationChoice(model, size, seconds, int(count), advanced_settings(caps, key), size_problem)


def free_size_input(place: DeltaGenerator, suggestions: tuple[str, ...], key: str) -> tuple[str, str | None]:
    """A "WIDTHxHEIGHT" field for a server that takes any size. Returns the size and, if it is wrong, why."""
    if not st.session_state.get(f"{key}_size"):
        st.session_state[f"{key}_size"] = suggestions[0] if suggestions else "1280x720"
    typed = place.text_input("Size (width x height)", key=f"{key}_size", max_chars=11,
                             help="This server takes any size. For example: " + ", ".join(suggestions[:4]) + ".")
    try:
        return check_free_size(typed), None
    except InvalidInput as error:
        place.error(str(error), icon=":material/aspect_ratio:")
        return typed.strip(), str(error)


def advanced_settings(caps: ProviderOffer, key: str, only: tuple[str, ...] | None = None) -> dict[str, Any]:
    """An "Advanced" expander with the extra parameters the provider declares (`only` narrows them).
    A field left blank is not sent, so the model's own default applies. Returns the fields to send."""
    names = [n for n in PARAMETER_LABELS if n in caps.parameters and (only is None or n in only)]
    if not names:
        return {}
    params: dict[str, Any] = {}
    with st.expander("Advanced", icon=":material/tune:"):
        seed_note = " A blank seed is random; the same seed and settings make the same video." \
            if "seed" in names else ""
        st.caption(f"Leave a field blank for the model's default.{seed_note}")
        # Numbers three to a row, in a fixed order; switches (sound) and text fields full width below them.
        numbers = [n for n in names if caps.parameters[n].type in ("integer", "number")]
        others = [n for n in names if n not in numbers]
        places = [column for start in range(0, len(numbers), 3) for column in st.columns(3)[:len(numbers) - start]]
        for name, place in [*zip(numbers, places, strict=True), *((n, st.container()) for n in others)]:
            with place:
                value = _parameter_input(caps.parameters[name], key)
            if value is not None and value != "":
                params[name] = int(value) if caps.parameters[name].type == "integer" else value
    return params


def follow_source(caps: ProviderOffer, key: str) -> dict[str, float]:
    """For remix and edits: a "Follow the source" slider where the provider takes `strength` (diffusers' name:
    how far to move from the source, the slider's opposite). Returns the field to send, or nothing."""
    spec = caps.parameters.get(STRENGTH)
    if spec is None:
        return {}
    follow = st.slider("Follow the source", 0.0, 1.0, 1 - DEFAULT_STRENGTH, step=0.05, key=f"{key}_follow_source",
                       help="How much of the source's layout and motion the result keeps: 1 keeps the source as "
                            "it is, 0 makes a new video from the prompt alone.")
    return {STRENGTH: strength_for(follow)}


def _parameter_input(spec: ParameterSpec, key: str) -> Any:
    label = PARAMETER_LABELS[spec.name]
    widget_key = f"{key}_param_{spec.name}"
    help_text = PARAMETER_HELP.get(spec.name) or spec.description or None
    if spec.type == "boolean":
        default = SWITCH_DEFAULTS.get(spec.name, False)
        on = st.toggle(label, value=default, key=widget_key, help=help_text)
        return None if on == default else on
    if spec.type == "string":
        limit = int(spec.maximum) if spec.maximum else None
        return st.text_input(label, key=widget_key, max_chars=limit, help=help_text,
                             placeholder=PLACEHOLDERS.get(spec.name, "")).strip()
    placeholder = "Random" if spec.name == "seed" else "Model default"
    if spec.type == "integer":
        return st.number_input(label, value=None, step=1, key=widget_key, help=help_text, placeholder=placeholder,
                               min_value=int(spec.minimum) if spec.minimum is not None else None,
                               max_value=int(spec.maximum) if spec.maximum is not None else None)
    return st.number_input(label, value=None, step=0.5, format="%.2f", key=widget_key, help=help_text,
                           placeholder=placeholder, min_value=spec.minimum, max_value=spec.maximum)


def cost_badge(provider: Provider, request: VideoRequest) -> None:
    estimate = request.cost(provider.kind)
    if estimate.usd is None:
        st.badge(estimate.label, icon=":material/help:", color="gray")
    elif estimate.usd == 0:
        st.badge(estimate.label, icon=":material/savings:", color="green")
    else:
        st.badge(f"Estimated {estimate.label}", icon=":material/payments:", color="orange")


def code_snippet(provider: Provider, request: VideoRequest, key: str = "request", *,
                 image_name: str | None = None) -> None:
    """The request as a script that runs as copied; `image_name` is the file chosen for the reference image."""
    if (code := drawer("Python code for this request", icon=":material/code:", key=f"{key}_code")) is not None:
        with code:
            st.caption("The same request with the official openai SDK, as a script that runs as copied. "
                       "Keys come from the environment.")
            st.code(python_snippet(provider, request, image_name=image_name), language="python")
