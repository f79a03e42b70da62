"""Money spent: everyone's and this person's (the sidebar), and each person's (Settings)."""

from __future__ import annotations

import streamlit as st

from components.plain_text import escape_markdown
from studio.library import Library
from studio.pricing import PRICES_READ_ON, format_usd

NOBODY = "(no name given)"


def spend_line(library: Library, owner: str) -> str:
    """Everyone's spend, and this person's beside it once they have a name (markdown, for the sidebar)."""
    total = f"**{format_usd(library.total_spent())}**"
    spent = f"yours **{format_usd(library.total_spent(owner))}** · everyone {total}" if owner else total
    return f"Spent so far: {spent} (estimate, list prices of {PRICES_READ_ON})"


def spend_by_person(library: Library) -> None:
    """Each person's spend, largest first, and the total: for Settings and anyone who asks who spent what."""
    by_owner = library.spend_by_owner()
    if not by_owner:
        st.caption(f"Nothing spent yet (estimates at list prices of {PRICES_READ_ON}).")
        return
    lines = [f"{escape_markdown(owner) if owner else NOBODY}: {format_usd(usd)}" for owner, usd in by_owner.items()]
    st.caption("  \n".join([*lines, f"**Total: {format_usd(library.total_spent())}** "
                                     f"(estimates at list prices of {PRICES_READ_ON})"]))
