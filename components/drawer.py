"""An expander whose contents are built only while it is open: most reruns never show them."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator


def drawer(label: str, *, icon: str, key: str) -> DeltaGenerator | None:
    """The open expander to build into, or None while it is closed (opening it reruns the page)."""
    expander = st.expander(label, icon=icon, key=key, on_change="rerun")
    return expander if expander.open else None
