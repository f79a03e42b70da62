"""Settings: the provider profile, what each one needs, session-only keys, localsora and the library."""

import streamlit as st

from components.context import SESSION_OVERRIDES, studio_context
from components.drawer import drawer
from components.settings_panels import (
    brand_kit_panel,
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

# The two forms are built only while open: most visits to Settings read it and change nothing.
if (connect := drawer("Connect a provider", icon=":material/cable:", key="settings_connect")) is not None:
    with connect:
        connect_provider(context, st.session_state.setdefault(SESSION_OVERRIDES, {}))
if (keys := drawer("Keys for this session only", icon=":material/key:", key="settings_keys")) is not None:
    with keys:
        session_keys_form(context, st.session_state.setdefault(SESSION_OVERRIDES, {}))

# The brand kit (issue 23): built only while open, as the forms above.
if (brand := drawer("Brand kit: logo, colours, font, end card", icon=":material/palette:",
                    key="settings_brand")) is not None:
    with brand:
        brand_kit_panel(context)

st.subheader("Local renderer and library")
library_panel(context)
