"""The "Prompt" text area with an optional builder that writes a clear prompt and reads it back."""

from __future__ import annotations

import streamlit as st

from studio.prompts import DEFAULT_MAX_CHARS, FIELDS, PromptParts, compose, parse, prompt_too_long


def _prompt_key(key: str) -> str:
    return f"{key}_prompt"


def _field_key(key: str, name: str) -> str:
    return f"{key}_builder_{name}"


def _write_prompt(key: str) -> None:
    parts = PromptParts(**{f.name: st.session_state.get(_field_key(key, f.name), "") for f in FIELDS})
    if not parts.is_empty():
        st.session_state[_prompt_key(key)] = compose(parts)


def _read_prompt(key: str) -> None:
    # A builder-shaped prompt fills the builder again (as it is typed, or as the builder opens), so it stays
    # editable field by field.
    parts = parse(st.session_state.get(_prompt_key(key), ""))
    if parts is not None:
        for spec in FIELDS:
            st.session_state[_field_key(key, spec.name)] = getattr(parts, spec.name)


def _use_example(key: str, example: str) -> None:
    st.session_state[_prompt_key(key)] = example


def prompt_input(key: str, *, label: str = "Prompt",
                 example: str = "A wide shot of a red fox trotting through fresh snow at dawn, slow dolly in.",
                 builder: bool = True) -> str:
    """The prompt box. The empty box shows `example` as "e.g. …", with one click to use it."""
    # No max_chars: the browser would silently drop a paste longer than the limit. Keep it and say so.
    prompt = st.text_area(
        label, key=_prompt_key(key), height=130, placeholder=f"e.g. {example}",
        on_change=_read_prompt, args=(key,),
        help="Say what we see and hear: subject, action, setting, light, camera move, style.",
    )
    too_long = prompt_too_long(prompt or "")
    if too_long:
        st.error(too_long, icon=":material/error:")
    elif prompt:
        st.caption(f"{len(prompt):,} / {DEFAULT_MAX_CHARS:,} characters")
    else:
        with st.container(horizontal=True, vertical_alignment="center", horizontal_alignment="distribute"):
            st.caption(f"0 / {DEFAULT_MAX_CHARS:,} characters. The grey text is only an example.", width="content")
            st.button("Use the example", key=f"{key}_use_example", on_click=_use_example, args=(key, example),
                      icon=":material/content_paste_go:", type="tertiary",
                      help="Put the example into the box, to send as it is or to edit.")
    if builder:
        # Built only while open: its eight fields would otherwise cost every rerun of the page.
        drawer = st.expander("Prompt builder", icon=":material/construction:", key=f"{key}_builder",
                             on_change=_read_prompt, args=(key,))
        if drawer.open:
            with drawer:
                st.caption("Fill in what you know; leave the rest empty. The prompt above stays yours to edit.")
                columns = st.columns(2)
                for index, spec in enumerate(FIELDS):
                    columns[index % 2].text_input(spec.label, key=_field_key(key, spec.name),
                                                  placeholder=spec.placeholder, help=spec.help)
                st.button("Write prompt", key=f"{key}_compose", on_click=_write_prompt, args=(key,),
                          icon=":material/edit_note:")
    return prompt or ""
