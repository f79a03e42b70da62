"""Batch: many videos from one CSV, or one prompt × N seeds, sent at the provider's pace."""

import streamlit as st

from components.batch_panel import batch_form, batch_list
from components.context import studio_context

context = studio_context()
st.title("Batch")
st.caption(f"Queue many videos at once on **{context.provider.label}**. Every row is checked before anything is "
           "sent; the queue keeps going with this tab closed, and survives a restart.")
batch_form(context)
st.subheader("Batches")
batch_list(context)
