"""Who is using the studio, so a shared server records who started each job.

With Streamlit's OIDC login configured (an `[auth]` block in secrets.toml), it is the signed-in user. Otherwise it
is a name the person types once, kept in a cookie in their browser, so a reload or a new tab still knows it. When
nobody says, the owner is "" and the studio works as it always did for one person.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote, unquote

import streamlit as st

from components.plain_text import escape_markdown

OWNER_COOKIE = "sora_studio_owner"
SESSION_OWNER = "owner_name"  # the name this session uses, once typed or read from the cookie
SESSION_COOKIE_WRITE = "owner_cookie_write"  # the name to store in the browser on this run ("" forgets it)
NAME_INPUT = "owner_name_input"
SESSION_LOGIN_CONFIGURED = "login_configured"
NAME_LIMIT = 60
COOKIE_DAYS = 365
_NOT_NAME = re.compile(r"[\x00-\x1f\x7f]+")


def clean_name(text: str) -> str:
    """One line of at most NAME_LIMIT characters; control characters and runs of spaces go."""
    return " ".join(_NOT_NAME.sub(" ", text).split())[:NAME_LIMIT]


def login_configured() -> bool:
    """True when the server has Streamlit's OIDC login set up (st.user then says whether someone is logged in).
    Asked once a session: it reads secrets.toml, and logging in or out starts a new session."""
    if SESSION_LOGIN_CONFIGURED not in st.session_state:
        st.session_state[SESSION_LOGIN_CONFIGURED] = "is_logged_in" in st.user
    return st.session_state[SESSION_LOGIN_CONFIGURED]


def current_owner() -> str:
    """The signed-in user's email (or name), else the name kept in this browser, else ""."""
    if login_configured():
        if not st.user.get("is_logged_in"):
            return ""
        return clean_name(str(st.user.get("email") or st.user.get("name") or st.user.get("sub") or ""))
    if SESSION_OWNER not in st.session_state:
        kept = st.context.cookies.get(OWNER_COOKIE)
        st.session_state[SESSION_OWNER] = clean_name(unquote(kept)) if isinstance(kept, str) else ""  # AppTest: none
    return st.session_state[SESSION_OWNER]


def _save_name() -> None:
    name = clean_name(st.session_state.get(NAME_INPUT, ""))
    st.session_state[SESSION_OWNER] = st.session_state[SESSION_COOKIE_WRITE] = name


def _forget_name() -> None:
    st.session_state[SESSION_OWNER] = st.session_state[SESSION_COOKIE_WRITE] = ""
    st.session_state.pop(NAME_INPUT, None)


def _write_cookie(name: str) -> None:
    # The name is the user's own text: JSON-quoted and with "<" escaped, so it can never end the script.
    value = json.dumps(quote(name)).replace("<", "\\u003c")
    age = COOKIE_DAYS * 86400 if name else 0
    st.html(f"<script>document.cookie = '{OWNER_COOKIE}=' + {value} + '; path=/; max-age={age}; SameSite=Lax';"
            "</script>", unsafe_allow_javascript=True, width="content")


def identity_box() -> None:
    """In the sidebar: who jobs are recorded for, and how to change it."""
    if login_configured():
        if st.user.get("is_logged_in"):
            st.caption(f"Signed in as **{escape_markdown(current_owner())}**")
            st.button("Log out", icon=":material/logout:", on_click=st.logout, key="owner_logout")
        else:
            st.caption("Log in so your jobs and spend are kept apart from the team's.")
            st.button("Log in", icon=":material/login:", on_click=st.login, key="owner_login")
        return
    if SESSION_COOKIE_WRITE in st.session_state:
        _write_cookie(st.session_state.pop(SESSION_COOKIE_WRITE))
    owner = current_owner()
    if owner:
        name, change = st.columns([3, 1], vertical_alignment="center")
        name.caption(f"Working as **{escape_markdown(owner)}**")
        change.button("Change", key="owner_change", on_click=_forget_name, type="tertiary",
                      help="Jobs you start from now on are recorded under the new name.")
    else:
        st.text_input("Your name", key=NAME_INPUT, on_change=_save_name, max_chars=NAME_LIMIT,
                      placeholder="On a shared server: who you are",
                      help="Kept in this browser. Your jobs, your gallery view and your spend go by it.")
