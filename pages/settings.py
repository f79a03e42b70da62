"""Settings: the provider profile, what each one needs, session-only keys, localsora and the library."""

import streamlit as st

from components.context import SESSION_OVERRIDES, studio_context
from components.settings_panels import (
    connect_provider,
    library_panel,
    profile_table,
    provider_choice,
    provider_status,
    session_keys_form,
)

context = studio_context()
st.title("Settings")

st.subheader("Provider")
provider_choice(context)
provider_status(context)
profile_table(context)

st.subheader("Connect a provider")
connect_provider(context, st.session_state.setdefault(SESSION_OVERRIDES, {}))

st.subheader("Keys for this session only")
session_keys_form(context, st.session_state.setdefault(SESSION_OVERRIDES, {}))

st.subheader("Local renderer and library")
library_panel(context)
