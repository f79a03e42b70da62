"""A provider connected in Settings outlives a reload: kept in the library without its key, which is asked again."""

from __future__ import annotations

import streamlit as st

from components.context import SESSION_KEY_AGAIN, SESSION_OVERRIDES, StudioContext
from components.plain_text import escape_markdown
from studio.library import SavedConnection
from studio.provider.profiles import SECRET_KEYS

KEY_AGAIN_INPUT = "connection_key_again_input"


def keep_connection(context: StudioContext, kind: str, settings: dict[str, str]) -> None:
    """Remember `kind` with its settings for this person; a key among them is left out, only its name kept."""
    keys = [name for name, value in settings.items() if name in SECRET_KEYS and value]
    kept = {name: value for name, value in settings.items() if name not in SECRET_KEYS and value}
    context.library.save_connection(context.jobs.owner, SavedConnection(kind, kept, keys[0] if keys else None))
    st.session_state.pop(SESSION_KEY_AGAIN, None)


def drop_connection(context: StudioContext) -> None:
    """Another provider was chosen: a reload keeps that choice, not the connection."""
    context.library.forget_connection(context.jobs.owner)
    st.session_state.pop(SESSION_KEY_AGAIN, None)


def _take_key(name: str) -> None:
    typed = str(st.session_state.get(KEY_AGAIN_INPUT, "")).strip()
    st.session_state[KEY_AGAIN_INPUT] = ""  # the field empties: the key lives in the session's memory only
    if typed:
        st.session_state.setdefault(SESSION_OVERRIDES, {})[name] = typed
        st.session_state.pop(SESSION_KEY_AGAIN, None)


def ask_key_again(context: StudioContext) -> None:
    """After a reload, the connected provider is still the one in use; its key, never saved, is typed again."""
    name = st.session_state.get(SESSION_KEY_AGAIN)
    if not name or st.session_state.get(SESSION_OVERRIDES, {}).get(name):
        return
    provider = context.provider
    st.warning(f"**{escape_markdown(provider.label)}** at {escape_markdown(provider.host)} is still the provider "
               "in use. Its key is never saved: type it again to go on.", icon=":material/key:")
    with st.form("key_again_form", border=False):
        st.text_input("Key", key=KEY_AGAIN_INPUT, type="password", placeholder="Kept in this browser session only")
        st.form_submit_button("Use this key", on_click=_take_key, args=(name,), icon=":material/key:")
    st.page_link("app_pages/settings.py", label="Use another provider", icon=":material/settings:")
