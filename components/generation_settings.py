"""Model, size, seconds and variants, offered from the provider profile; plus the cost and the code."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from studio.code_export import python_snippet
from studio.jobs import VideoRequest
from studio.providers import Provider

OTHER_MODEL = "Other model…"


@dataclass(frozen=True)
class GenerationChoice:
    model: str
    size: str
    seconds: str
    variants: int


def size_label(size: str) -> str:
    width, height = (int(v) for v in size.split("x"))
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
    if st.session_state.get(f"{key}_size") not in sizes:
        st.session_state.pop(f"{key}_size", None)  # the model changed and its sizes differ
    size = size_col.selectbox("Size", sizes, key=f"{key}_size", format_func=size_label)
    seconds = seconds_col.selectbox("Seconds", caps.durations, key=f"{key}_seconds",
                                    format_func=lambda s: f"{s} s")
    count = variants_col.number_input("Variants", min_value=1, max_value=4, value=1, step=1,
                                      key=f"{key}_variants", help="Make up to 4 takes to compare side by side.")
    return GenerationChoice(model, size, seconds, int(count))


def cost_badge(provider: Provider, request: VideoRequest) -> None:
    estimate = request.cost(provider.kind)
    if estimate.usd is None:
        st.badge(estimate.label, icon=":material/help:", color="gray")
    elif estimate.usd == 0:
        st.badge(estimate.label, icon=":material/savings:", color="green")
    else:
        st.badge(f"Estimated {estimate.label}", icon=":material/payments:", color="orange")


def code_snippet(provider: Provider, request: VideoRequest) -> None:
    with st.expander("Python code for this request", icon=":material/code:"):
        st.caption("The same request with the official openai SDK. Keys come from the environment.")
        st.code(python_snippet(provider, request), language="python")
