"""Storyboard: shots rendered as jobs and joined into one film."""

import streamlit as st

from components.context import studio_context
from components.storyboard_editor import storyboard_editor, storyboard_picker

context = studio_context()
st.title("Storyboard")
st.caption(f"Shots in order, each a prompt and a length, rendered on **{context.provider.label}** and joined into "
           "one film. Change one shot and only that shot renders again.")
board = storyboard_picker(context)
if board is not None:
    storyboard_editor(context, board)
