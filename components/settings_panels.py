"""Settings panels. They say which settings are set and where, and never show a secret's value."""

from __future__ import annotations

import streamlit as st

from components.context import StudioContext, health_of
from studio.library import Filters
from studio.pricing import PRICES_READ_ON, format_usd
from studio.providers import CONFIG_KEYS

SESSION_FIELDS = {
    "OPENAI_API_KEY": ("OpenAI or gateway API key", True),
    "OPENAI_BASE_URL": ("Gateway base URL", False),
    "AZURE_OPENAI_ENDPOINT": ("Azure OpenAI endpoint", False),
    "AZURE_OPENAI_API_KEY": ("Azure OpenAI API key", True),
}


def provider_status(context: StudioContext) -> None:
    health = health_of(context.provider, context.provider.kind, context.provider.base_url)
    (st.success if health.ok else st.error)(f"**{health.summary}.** {health.detail}",
                                            icon=":material/cloud_done:" if health.ok else ":material/cloud_off:")
    caps = context.provider.capabilities
    limits = f"{caps.jobs_per_minute} job requests a minute" if caps.jobs_per_minute else "no published limit"
    st.caption(f"Models: {', '.join(caps.models)}{' (other names allowed)' if caps.free_text_models else ''} · "
               f"Durations: {', '.join(caps.durations)} s · Text to video: {'yes' if caps.text else 'no'} · "
               f"Image to video: {'yes' if caps.image else 'no'} · "
               f"Actions: {', '.join(caps.actions()) or 'none'} · "
               f"Extra parameters: {', '.join(caps.parameters) or 'none'} · "
               f"Sound: {'yes' if caps.audio else 'no'} · Rate limit: {limits}")


def profile_table(context: StudioContext) -> None:
    rows = []
    for provider in context.providers.values():
        rows.append({"Profile": provider.label,
                     "Ready": "yes" if provider.configured else "no",
                     "Still needs": ", ".join(provider.missing) or "—"})
    st.dataframe(rows, hide_index=True, width="stretch")
    with st.expander("Every setting, and where it came from", icon=":material/tune:"):
        st.caption("Set these as environment variables or in .streamlit/secrets.toml (see secrets.toml.example). "
                   "Values of keys are never shown.")
        st.dataframe(
            [{"Setting": key, "What it is": purpose,
              "Status": f"set ({context.config_sources[key]})" if key in context.config_sources else "not set"}
             for key, purpose in CONFIG_KEYS.items()],
            hide_index=True, width="stretch",
        )


def _save_session_keys(overrides: dict[str, str]) -> None:
    for key in SESSION_FIELDS:
        typed = st.session_state.get(f"session_{key}", "").strip()
        if typed:
            overrides[key] = typed
        st.session_state[f"session_{key}"] = ""  # the field empties; the value lives in the session only


def _forget_session_keys(overrides: dict[str, str]) -> None:
    overrides.clear()


def session_keys_form(overrides: dict[str, str]) -> None:
    st.caption("Typed keys stay in this browser session's memory: never written to disk, never shown again.")
    with st.form("session_keys", border=True):
        columns = st.columns(2)
        for index, (key, (label, secret)) in enumerate(SESSION_FIELDS.items()):
            set_note = " (set for this session)" if key in overrides else ""
            columns[index % 2].text_input(label + set_note, key=f"session_{key}",
                                          type="password" if secret else "default",
                                          placeholder="Leave empty to keep the current value")
        st.form_submit_button("Use for this session", on_click=_save_session_keys, args=(overrides,),
                              icon=":material/key:")
    if overrides:
        names = ", ".join(sorted(overrides))
        st.caption(f"Set for this session: {names}.")
        st.button("Forget session keys", on_click=_forget_session_keys, args=(overrides,),
                  icon=":material/key_off:")


def library_panel(context: StudioContext) -> None:
    local = context.providers["local"]
    left, right = st.columns(2)
    with left:
        caps = local.capabilities
        model_engine = caps.engine not in ("", "previz") and caps.serving
        st.markdown(f"**localsora** ({caps.serving if model_engine else 'the local previz renderer'})")
        if local.base_url:
            health = health_of(local, "local", local.base_url)
            st.caption(f"{'Running' if health.ok else 'Not answering'} at {local.base_url}")
        else:
            st.caption("Not started: it starts when the Local profile is used.")
        st.caption(f"Data: {context.data_dir / 'localsora'}")
        if model_engine:
            st.caption(f"It runs a real video model through {caps.engine} on this machine"
                       f"{'' if caps.audio else '; its videos have no sound'}.")
        else:
            st.caption("It renders real MP4s with a caption and camera move from your prompt. It is not an AI model.")
    with right:
        st.markdown("**Library**")
        count = context.library.count()
        ready = context.library.count(Filters(status="completed"))
        st.caption(f"{count} videos ({ready} ready) · {context.library.disk_usage() / 1e6:.1f} MB on disk")
        st.caption(f"Location: {context.data_dir}")
        st.caption(f"Spent so far: {format_usd(context.library.total_spent())} "
                   f"(estimated from list prices read {PRICES_READ_ON})")
