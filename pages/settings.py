"""Settings: the provider profile, what each one needs, session-only keys, localsora and the library."""

import streamlit as st

from components.context import SESSION_JOBS, SESSION_OVERRIDES, SESSION_PROVIDER, studio_context
from components.settings_panels import library_panel, profile_table, provider_status, session_keys_form

context = studio_context()
st.title("Settings")

st.subheader("Provider")
configured = [kind for kind, p in context.providers.items() if p.configured]
labels = {kind: p.label for kind, p in context.providers.items()}
choice = st.radio("Use this provider", configured, index=configured.index(context.provider.kind),
                  format_func=labels.get, horizontal=True, key="settings_provider")
if choice != context.provider.kind:
    st.session_state[SESSION_PROVIDER] = choice
    st.session_state.pop(SESSION_JOBS, None)  # follow the new provider's active jobs
    st.rerun()
provider_status(context)
profile_table(context)

st.subheader("Keys for this session only")
session_keys_form(st.session_state.setdefault(SESSION_OVERRIDES, {}))

st.subheader("Local renderer and library")
library_panel(context)
