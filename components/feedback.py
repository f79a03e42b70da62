"""How the studio talks back: typed errors in a box, and toasts that survive a rerun."""

from __future__ import annotations

import streamlit as st

from components.plain_text import escape_markdown
from studio.errors import StudioError

PENDING_TOASTS = "pending_toasts"


def show_error(error: StudioError, *, where: st.delta_generator.DeltaGenerator | None = None) -> None:
    """The typed message, led by its title in bold unless it already says it; never a traceback."""
    message = escape_markdown(str(error))  # it may quote a server, a file name or a prompt
    if not str(error).lower().startswith(error.title.lower()):
        message = f"**{error.title}.** {message}"
    (where or st).error(message, icon=":material/error:")


def queue_toast(message: str, icon: str = ":material/check_circle:") -> None:
    """A toast shown at the start of the next full run (a toast made right before st.rerun() is lost)."""
    st.session_state.setdefault(PENDING_TOASTS, []).append((message, icon))


def flush_toasts() -> None:
    for message, icon in st.session_state.pop(PENDING_TOASTS, []):
        st.toast(message, icon=icon)
