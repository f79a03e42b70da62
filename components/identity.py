"""Who is using the studio: a proven identity when sign-in is configured, else a label.

With sign-in (studio.access: Streamlit's OIDC `[auth]`, or a team passcode), the person is the OIDC user, or the
name in a session token the server signed at passcode sign-in, kept in a cookie. A cookie anyone writes by hand
is not signed and names nobody. Without sign-in (loopback only: `make run` refuses otherwise) a person types a
name once, kept in a cookie, and it is a label: the sidebar says so.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote, unquote

import streamlit as st

from components.plain_text import escape_markdown
from studio import access

OWNER_COOKIE = "sora_studio_owner"  # the label, without sign-in
SESSION_COOKIE = "sora_studio_session"  # the signed session token, with a passcode
SESSION_OWNER = "owner_name"  # the label this session uses, once typed or read from the cookie
SESSION_SIGNED_IN = "signed_in_name"  # the name a valid passcode session token proved ("" for nobody)
SESSION_COOKIE_WRITES = "identity_cookie_writes"  # {cookie: value} to store in the browser on the next run
SESSION_SIGN_IN = "sign_in_settings"
NAME_INPUT = "owner_name_input"
NAME_LIMIT = 60
COOKIE_DAYS = 365
_NOT_NAME = re.compile(r"[\x00-\x1f\x7f]+")


def clean_name(text: str) -> str:
    """One line of at most NAME_LIMIT characters; control characters and runs of spaces go."""
    return " ".join(_NOT_NAME.sub(" ", text).split())[:NAME_LIMIT]


def sign_in_settings() -> access.SignIn:
    """How this server signs people in (read once a session: signing in or out starts a new session's cookies)."""
    if SESSION_SIGN_IN not in st.session_state:
        try:
            secrets: dict[str, Any] = st.secrets.to_dict()
        except Exception:  # no secrets.toml at all is the normal local case
            secrets = {}
        st.session_state[SESSION_SIGN_IN] = access.sign_in_from(secrets)
    return st.session_state[SESSION_SIGN_IN]


def login_configured() -> bool:
    """True when Streamlit's OIDC login is set up (st.user then says whether someone is logged in)."""
    return sign_in_settings().oidc


def _cookie(name: str) -> str | None:
    kept = st.context.cookies.get(name)
    return unquote(kept) if isinstance(kept, str) else None  # AppTest has no cookies


def current_actor() -> access.Actor:
    """Who asks, as the studio's access checks see it."""
    settings = sign_in_settings()
    if settings.oidc:
        name = clean_name(str(st.user.get("email") or st.user.get("name") or st.user.get("sub") or "")) \
            if st.user.get("is_logged_in") else ""
        return settings.actor(name, signed_in=True)
    if settings.passcode_hash:
        if SESSION_SIGNED_IN not in st.session_state:
            token = _cookie(SESSION_COOKIE)
            st.session_state[SESSION_SIGNED_IN] = (
                access.session_name(token, settings.signing_secret) or "" if token else "")
        return settings.actor(st.session_state[SESSION_SIGNED_IN], signed_in=True)
    if SESSION_OWNER not in st.session_state:
        st.session_state[SESSION_OWNER] = clean_name(_cookie(OWNER_COOKIE) or "")
    return access.Actor(st.session_state[SESSION_OWNER])


def current_owner() -> str:
    """The name jobs are recorded under: the signed-in person, else the label typed here, else ""."""
    return current_actor().name


def _keep_cookie(name: str, value: str) -> None:
    st.session_state.setdefault(SESSION_COOKIE_WRITES, {})[name] = value


def _write_cookies() -> None:
    for name, value in st.session_state.pop(SESSION_COOKIE_WRITES, {}).items():
        # The value is the user's own text or a token: JSON-quoted and with "<" escaped, so it can never end the
        # script. SameSite=Strict: another site's page never sends it along.
        quoted = json.dumps(quote(value)).replace("<", "\\u003c")
        age = COOKIE_DAYS * 86400 if value else 0
        st.html(f"<script>document.cookie = '{name}=' + {quoted} + '; path=/; max-age={age}; SameSite=Strict';"
                "</script>", unsafe_allow_javascript=True, width="content")


# ---------------------------------------------------------------- signing in


def _sign_in_with_passcode() -> None:
    settings = sign_in_settings()
    name = clean_name(st.session_state.get("sign_in_name", ""))
    passcode = st.session_state.get("sign_in_passcode", "")
    st.session_state["sign_in_passcode"] = ""  # never kept in the session longer than the check
    if not name:
        st.session_state["sign_in_error"] = "Type your name."
    elif refusal := settings.passcode_refusal(name, passcode):
        st.session_state["sign_in_error"] = refusal
    else:
        st.session_state.pop("sign_in_error", None)
        st.session_state[SESSION_SIGNED_IN] = name
        _keep_cookie(SESSION_COOKIE, access.session_token(name, settings.signing_secret))


def sign_out() -> None:
    st.session_state[SESSION_SIGNED_IN] = ""
    _keep_cookie(SESSION_COOKIE, "")


def sign_in_gate() -> None:
    """With sign-in configured and nobody signed in, the sign-in page and nothing else (the run stops here)."""
    settings = sign_in_settings()
    if not settings.configured or current_actor().name:
        return
    _write_cookies()  # a sign-out's forgetting of the token
    st.title("Sign in to Sora Studio")
    if settings.oidc:
        st.write("This studio is shared: sign in so your work is yours to change.")
        st.button("Log in", icon=":material/login:", on_click=st.login, key="owner_login", type="primary")
        st.stop()
    with st.form("sign_in", enter_to_submit=True):
        st.text_input("Your name", key="sign_in_name", max_chars=NAME_LIMIT,
                      help="Your work is recorded under it, and only you (or an admin) can change it.")
        st.text_input("Team passcode", key="sign_in_passcode", type="password")
        st.form_submit_button("Sign in", icon=":material/login:", type="primary", on_click=_sign_in_with_passcode)
    if error := st.session_state.get("sign_in_error"):
        st.error(error, icon=":material/error:")
    st.stop()


# ---------------------------------------------------------------- the sidebar


def _save_name() -> None:
    name = clean_name(st.session_state.get(NAME_INPUT, ""))
    st.session_state[SESSION_OWNER] = name
    _keep_cookie(OWNER_COOKIE, name)


def _forget_name() -> None:
    st.session_state[SESSION_OWNER] = ""
    _keep_cookie(OWNER_COOKIE, "")
    st.session_state.pop(NAME_INPUT, None)


def identity_box() -> None:
    """In the sidebar: who is signed in (with Sign out), or, without sign-in, the label jobs are recorded under."""
    _write_cookies()
    settings = sign_in_settings()
    actor = current_actor()
    if settings.configured:
        role = " (admin)" if actor.admin else ""
        name, out = st.columns([3, 2], vertical_alignment="center")
        name.caption(f"Signed in as **{escape_markdown(actor.name)}**{role}")
        out.button("Sign out", icon=":material/logout:", key="owner_logout", type="tertiary",
                   on_click=st.logout if settings.oidc else sign_out)
        return
    if actor.name:
        name, change = st.columns([3, 1], vertical_alignment="center")
        name.caption(f"Working as **{escape_markdown(actor.name)}**")
        change.button("Change", key="owner_change", on_click=_forget_name, type="tertiary",
                      help="Jobs you start from now on are recorded under the new name.")
    else:
        st.text_input("Your name", key=NAME_INPUT, on_change=_save_name, max_chars=NAME_LIMIT,
                      placeholder="Who you are",
                      help="Kept in this browser. Your jobs, your gallery view and your spend go by it.")
    st.caption("No sign-in here: names are labels, and anyone using this studio can change anyone's work. "
               "To share it, set up sign-in (see the README).")
