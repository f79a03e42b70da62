"""Settings panels. They say which settings are set and where, and never show a secret's value."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import streamlit as st
from PIL import Image

from components.context import SESSION_JOBS, SESSION_PROVIDER, StudioContext, health_of
from components.drawer import drawer
from components.feedback import show_error
from components.finish_panel import thumbnail_frame
from components.kept_connection import drop_connection, keep_connection
from components.plain_text import escape_markdown
from components.spend import spend_by_person
from studio.brand_kit import (
    CORNER_LABELS,
    CORNERS,
    HEADLINE_LIMIT,
    MAX_END_CARD_SECONDS,
    available_fonts,
    brand_preview,
    kit_values,
    load_brand_kit,
    may_change_brand_kit,
    picture,
    save_brand_kit,
)
from studio.catalog import DEFAULT_MODEL
from studio.errors import StudioError
from studio.library import Filters
from studio.media.upload_limits import END_CARD_IMAGE, LOGO_IMAGE, megabytes_text
from studio.provider.connection_check import ConnectionReport, check_connection, dialect_label, secrets_snippet
from studio.provider.dialects import DIALECTS
from studio.provider.profiles import CONFIG_KEYS, OPENAI_SHUTDOWN_NOTE, SECRET_KEYS, load_providers
from studio.provider.url_redaction import redacted_url

SESSION_FIELDS = {
    "OPENAI_API_KEY": ("OpenAI or gateway API key", True),
    "OPENAI_BASE_URL": ("Gateway base URL", False),
    "AZURE_OPENAI_ENDPOINT": ("Azure OpenAI endpoint", False),
    "AZURE_OPENAI_API_KEY": ("Azure OpenAI API key", True),
    "AZURE_OPENAI_DEPLOYMENT": ("Azure deployment name", False),
}


def _choose_provider(context: StudioContext) -> None:
    st.session_state[SESSION_PROVIDER] = st.session_state["settings_provider"]
    drop_connection(context)
    st.session_state.pop(SESSION_JOBS, None)  # follow the new provider's active jobs


def provider_choice(context: StudioContext) -> None:
    """The configured profiles; the one in use is always the one shown, however it was chosen."""
    configured = [kind for kind, p in context.providers.items() if p.configured]
    labels = {kind: p.label for kind, p in context.providers.items()}
    st.session_state["settings_provider"] = context.provider.kind
    st.radio("Use this provider", configured, format_func=labels.get, horizontal=True, key="settings_provider",
             on_change=_choose_provider, args=(context,))


def provider_status(context: StudioContext) -> None:
    health = health_of(context.provider, context.provider.kind, context.provider.base_url)
    (st.success if health.ok else st.error)(f"**{escape_markdown(health.summary)}.** {escape_markdown(health.detail)}",
                                            icon=":material/cloud_done:" if health.ok else ":material/cloud_off:")
    if context.provider.note:
        st.caption(context.provider.note)
    caps = context.provider.capabilities
    limits = f"{caps.jobs_per_minute} job requests a minute" if caps.jobs_per_minute else "no published limit"
    # What a server lists (its model names above all) is its own text: shown as text.
    models, durations, parameters = (escape_markdown(", ".join(names)) for names in (caps.models, caps.durations,
                                                                                      caps.parameters))
    st.caption(f"Models: {models}{' (other names allowed)' if caps.free_text_models else ''} · "
               f"Durations: {durations} s · Text to video: {'yes' if caps.text else 'no'} · "
               f"Image to video: {'yes' if caps.image else 'no'} · "
               f"Actions: {', '.join(caps.actions()) or 'none'} · "
               f"Extra parameters: {parameters or 'none'} · "
               f"Sizes: {'any WIDTHxHEIGHT' if caps.free_sizes else 'as listed'} · "
               f"Sound: {'yes' if caps.audio else 'no'} · Rate limit: {limits}")
    provider = context.provider
    if provider.dialect:
        how = f" ({provider.dialect_evidence})" if provider.dialect_evidence else " (set by SORA_STUDIO_DIALECT)"
        st.caption(f"Server: {dialect_label(provider.dialect)}{escape_markdown(how)}.")
    if provider.learned_absent:
        st.caption(f"Learned from its answers: this server does not offer {' or '.join(provider.learned_absent)}.")


def profile_table(context: StudioContext) -> None:
    # A markdown table, not a dataframe: a handful of rows, drawn on every rerun of Settings.
    rows = [f"| {escape_markdown(p.label)} | {'yes' if p.configured else 'no'} | "
            f"{escape_markdown(p.needs[:1].upper() + p.needs[1:]) or '—'} |" for p in context.providers.values()]
    st.markdown("\n".join(["| Profile | Ready | Still needs |", "|---|---|---|", *rows]))
    for provider in context.providers.values():
        if provider.note and provider.kind != context.provider.kind:  # the one in use says it above
            st.caption(f"**{provider.label}:** {provider.note}")
    if (every := drawer("Every setting, and where it came from", icon=":material/tune:",
                        key="settings_every")) is not None:
        with every:
            st.caption("Set these as environment variables or in .streamlit/secrets.toml (see "
                       "secrets.toml.example). Values of keys are never shown.")
            st.dataframe(
                [{"Setting": key, "What it is": purpose,
                  "Status": f"set ({context.config_sources[key]})" if key in context.config_sources else "not set"}
                 for key, purpose in CONFIG_KEYS.items()],
                hide_index=True, width="stretch",
            )


SESSION_PLACEHOLDERS = {
    "OPENAI_BASE_URL": "Not set: e.g. https://gateway.example.com/v1",
    "AZURE_OPENAI_ENDPOINT": "Not set: e.g. https://RESOURCE.openai.azure.com",
    "AZURE_OPENAI_DEPLOYMENT": f"Not set: {DEFAULT_MODEL} unless you type another",
}


def _save_session_keys(overrides: dict[str, str]) -> None:
    for key in SESSION_FIELDS:
        typed = st.session_state.get(f"session_{key}", "").strip()
        if typed:
            overrides[key] = typed
        st.session_state[f"session_{key}"] = ""  # the field empties; the value lives in the session only


def _forget_session_keys(overrides: dict[str, str]) -> None:
    overrides.clear()


def session_keys_form(context: StudioContext, overrides: dict[str, str]) -> None:
    st.caption("Typed keys stay in this browser session's memory: never written to disk, never shown again.")
    with st.form("session_keys", border=True):
        columns = st.columns(2)
        for index, (key, (label, secret)) in enumerate(SESSION_FIELDS.items()):
            set_note = " (set for this session)" if key in overrides else ""
            # "Keep the current value" only where there is one to keep; else say what to type.
            where = context.config_sources.get(key) or ("this session" if key in overrides else None)
            placeholder = (f"Set ({where}): leave empty to keep the current value" if where
                           else SESSION_PLACEHOLDERS.get(key, "Not set"))
            columns[index % 2].text_input(label + set_note, key=f"session_{key}",
                                          type="password" if secret else "default", placeholder=placeholder)
        st.form_submit_button("Use for this session", on_click=_save_session_keys, args=(overrides,),
                              icon=":material/key:")
    if overrides:
        names = ", ".join(sorted(overrides))
        st.caption(f"Set for this session: {names}.")
        st.button("Forget session keys", on_click=_forget_session_keys, args=(overrides,),
                  icon=":material/key_off:")


def library_panel(context: StudioContext) -> None:
    # Few elements: each line is a line of one caption, not a caption of its own.
    local = context.providers["local"]
    left, right = st.columns(2)
    with left:
        caps = local.capabilities
        model_engine = caps.engine not in ("", "previz") and caps.serving
        st.markdown(f"**localsora** ({escape_markdown(caps.serving) if model_engine else 'the local previz renderer'})")
        if local.base_url:
            health = health_of(local, "local", local.base_url)
            state = f"{'Running' if health.ok else 'Not answering'} at {redacted_url(local.base_url)}"
        else:
            state = "Not started: it starts when the Local profile is used."
        what = (f"It runs a real video model through {escape_markdown(caps.engine)} on this machine"
                f"{'' if caps.audio else '; its videos have no sound'}." if model_engine else
                "It renders real MP4s with a caption and camera move from your prompt. It is not an AI model.")
        st.caption("  \n".join([escape_markdown(state), escape_markdown(f"Data: {context.data_dir / 'localsora'}"),
                                 what]))
    with right:
        st.markdown("**Library**")
        count = context.library.count()
        ready = context.library.count(Filters(status="completed"))
        st.caption(f"{count} videos ({ready} ready) · {megabytes_text(context.library.disk_usage())} on disk  \n"
                   f"Location: {escape_markdown(str(context.data_dir))}")
        st.markdown("**Spent so far**, by person")
        spend_by_person(context.library)


# Connect a provider: kind, URL, key, model; Test connection; the secrets.toml lines to keep it.
CONNECT_KINDS = {
    "compatible": "OpenAI-compatible server",
    "openai": "OpenAI or a gateway",
    "azure": "Azure OpenAI (key)",
    "azure_entra": "Azure OpenAI (Entra ID)",
}
# Each kind's fields: (config key, label, placeholder). Keys (SECRET_KEYS) are password fields.
CONNECT_FIELDS: dict[str, list[tuple[str, str, str]]] = {
    "compatible": [("SORA_STUDIO_COMPATIBLE_URL", "Base URL", "http://gpu-box:8000/v1"),
                   ("SORA_STUDIO_COMPATIBLE_API_KEY", "API key (if it wants one)", ""),
                   ("SORA_STUDIO_MODELS", "Model names (optional)", "Wan2.2-T2V-A14B, or leave empty to ask it")],
    "openai": [("OPENAI_BASE_URL", "Base URL", "https://gateway.example.com/v1"),
               ("OPENAI_API_KEY", "API key", ""),
               ("SORA_STUDIO_MODELS", "Model names (optional)", "veo-3, runway-gen4")],
    "azure": [("AZURE_OPENAI_ENDPOINT", "Endpoint", "https://RESOURCE.openai.azure.com"),
              ("AZURE_OPENAI_API_KEY", "API key", ""),
              ("AZURE_OPENAI_DEPLOYMENT", "Deployment name", DEFAULT_MODEL)],
    "azure_entra": [("AZURE_OPENAI_ENDPOINT", "Endpoint", "https://RESOURCE.openai.azure.com"),
                    ("AZURE_OPENAI_DEPLOYMENT", "Deployment name", DEFAULT_MODEL)],
}
DIALECT_LABELS = {"auto": "Detect it", **{name: d.label for name, d in DIALECTS.items()}}
CONNECT_DRAFT = "connect_draft"  # {config key: value} typed in the Connect form, this session only
CONNECT_REPORT = "connect_report"  # (kind, ConnectionReport) of the last test
CONNECT_PENDING = "connect_pending"
MODE_NAMES = {"text": "Text to video", "image": "Image to video", "remix": "Remix", "edit": "Edit",
              "extend": "Extend"}


def _connect_kind() -> str:
    return st.session_state.get("connect_kind") or "compatible"


def _take_draft() -> None:
    """Keep what was typed for this session; empty the key field at once, so the key never goes back out."""
    draft = st.session_state.setdefault(CONNECT_DRAFT, {})
    for name, _, _ in CONNECT_FIELDS[_connect_kind()]:
        typed = str(st.session_state.get(f"connect_{name}", "")).strip()
        if name in SECRET_KEYS:
            if typed:
                draft[name] = typed
            st.session_state[f"connect_{name}"] = ""
        else:
            draft[name] = typed
    if _connect_kind() == "compatible":
        draft["SORA_STUDIO_DIALECT"] = st.session_state.get("connect_SORA_STUDIO_DIALECT") or "auto"
    st.session_state[CONNECT_PENDING] = True


def _draft_config(kind: str) -> dict[str, str]:
    draft = st.session_state.get(CONNECT_DRAFT, {})
    names = [name for name, _, _ in CONNECT_FIELDS[kind]] + (["SORA_STUDIO_DIALECT"] if kind == "compatible" else [])
    return {name: draft.get(name, "") for name in names}


def _use_connection(context: StudioContext, kind: str, overrides: dict[str, str]) -> None:
    overrides.update({k: v for k, v in _draft_config(kind).items() if v})
    keep_connection(context, kind, _draft_config(kind))  # a reload keeps it, and asks for the key again
    st.session_state[SESSION_PROVIDER] = kind
    st.session_state.pop(SESSION_JOBS, None)  # follow the new provider's active jobs


def connect_provider(context: StudioContext, overrides: dict[str, str]) -> None:
    """Pick a kind, type its URL, key and model, test it, then use it for this session or keep its secrets lines."""
    kind = st.segmented_control("Kind of provider", list(CONNECT_KINDS), format_func=CONNECT_KINDS.get,
                                key="connect_kind", default="compatible", required=True) or "compatible"
    notes = {"compatible": "vLLM-Omni, SGLang Diffusion, a LiteLLM proxy, or any gateway that serves /v1/videos.",
             "openai": OPENAI_SHUTDOWN_NOTE,
             "azure": "Azure OpenAI's v1 API, with a key.",
             "azure_entra": "Azure OpenAI's v1 API, signed in with Entra ID (DefaultAzureCredential) on this machine."}
    st.caption(notes[kind])
    draft = st.session_state.get(CONNECT_DRAFT, {})
    with st.form("connect_form", border=True):
        columns = st.columns(2)
        for index, (name, label, placeholder) in enumerate(CONNECT_FIELDS[kind]):
            place = columns[index % 2]
            if name in SECRET_KEYS:
                kept = " (kept for this session; empty keeps it)" if draft.get(name) else ""
                place.text_input(label + kept, key=f"connect_{name}", type="password",
                                 placeholder="Kept in this browser session only, never shown or saved")
            else:
                if f"connect_{name}" not in st.session_state and draft.get(name):
                    st.session_state[f"connect_{name}"] = draft[name]
                place.text_input(label, key=f"connect_{name}", placeholder=placeholder)
        if kind == "compatible":
            columns[1].selectbox("Server", list(DIALECT_LABELS), format_func=DIALECT_LABELS.get,
                                 key="connect_SORA_STUDIO_DIALECT",
                                 help="Detect it, or say what it is: vLLM-Omni and SGLang take any size.")
        st.form_submit_button("Test connection", on_click=_take_draft, icon=":material/network_check:",
                              type="primary")
    if st.session_state.pop(CONNECT_PENDING, False):
        config = _draft_config(kind)
        provider = load_providers(config)[kind]  # type: ignore[index]
        with st.spinner(f"Asking {provider.host}…"):
            report = check_connection(provider, keep_models=bool(config.get("SORA_STUDIO_MODELS")))
        if report.ok and provider.base_url:  # what its routes answered, remembered for this server
            for mode, status in (report.absent or {}).items():
                context.library.mark_mode_absent(provider.base_url, mode, status)
            for mode in report.present:
                context.library.mark_mode_present(provider.base_url, mode)
        st.session_state[CONNECT_REPORT] = (kind, report)
    tested = st.session_state.get(CONNECT_REPORT)
    if tested is None or tested[0] != kind:
        return
    report = tested[1]
    if not report.ok:
        st.error(f"**{escape_markdown(report.headline)}.** {escape_markdown(report.reason)}",
                 icon=":material/cloud_off:")
        return
    st.success(f"**{escape_markdown(report.headline)}.** {escape_markdown(report.reason)}",
               icon=":material/cloud_done:")
    if report.capabilities is not None:
        offers_table(report)
    st.button("Use it for this session", on_click=_use_connection, args=(context, kind, overrides),
              icon=":material/power:", type="primary")
    st.markdown("**To keep it:** put these lines in `.streamlit/secrets.toml`, with your key in place of the "
                "placeholder.")
    st.code(secrets_snippet(kind, _draft_config(kind)), language="toml")


def offers_table(report: ConnectionReport) -> None:
    """What the server offers, one row per thing, with how the studio knows."""
    caps = report.capabilities
    assert caps is not None
    absent = report.absent or {}
    rows = []
    for mode, name in MODE_NAMES.items():
        if mode in absent:
            rows.append({"What": name, "Offered": "no", "How the studio knows": f"its route answered {absent[mode]}"})
        else:
            known = "its route answered" if mode in report.present else "its profile or models list"
            rows.append({"What": name, "Offered": "yes" if getattr(caps, mode) else "no",
                         "How the studio knows": known})
    sizes = dict.fromkeys(s for found in caps.sizes.values() for s in found)
    rows += [
        {"What": "Models", "Offered": ", ".join(report.models or caps.models),
         "How the studio knows": "its models list" if report.models else "this profile"},
        {"What": "Sizes", "Offered": ("any WIDTHxHEIGHT, e.g. " if caps.free_sizes else "") + ", ".join(
            list(sizes)[:6]),
         "How the studio knows": "its dialect" if caps.free_sizes else "its models list or profile"},
        {"What": "Durations", "Offered": ", ".join(f"{d} s" for d in caps.durations),
         "How the studio knows": "its models list or profile"},
        {"What": "Extra parameters", "Offered": ", ".join(caps.parameters) or "none declared",
         "How the studio knows": "its models list" if caps.parameters else ""},
        {"What": "Server", "Offered": dialect_label(report.dialect),
         "How the studio knows": report.dialect_evidence or "nothing it answered names another"},
    ]
    st.dataframe(rows, hide_index=True, width="stretch")


# Brand kit: one logo, colours, font and end card for everyone on this server (studio/brand_kit.py).
KIT_FIELD = "brand_{}"  # the kit's editor keys, one per BrandKit field
KIT_PERCENTS = ("logo_width", "logo_margin", "logo_opacity")  # fractions in the kit, whole percents on screen


def brand_kit_panel(context: StudioContext) -> None:
    """The shared brand kit, its live preview (a frame with the logo, and the end card), and Save; admins only
    under sign-in (studio/brand_kit.py checks it again on save)."""
    kit = load_brand_kit(context.library)
    may_change = may_change_brand_kit(context.jobs.actor)
    if kit.saved_at:
        who = f" by {escape_markdown(kit.saved_by)}" if kit.saved_by else ""
        st.caption(f"Saved{who} on {datetime.fromtimestamp(kit.saved_at):%Y-%m-%d %H:%M}; shared by everyone on "
                   "this server.")
    if not may_change:
        st.info("Only an admin can change the brand kit. Anyone can apply it in a video's Finish panel.",
                icon=":material/lock:")
    for name, value in kit_values(kit).items():  # the editor starts from the saved kit; fractions shown as %
        st.session_state.setdefault(KIT_FIELD.format(name), round(value * 100) if name in KIT_PERCENTS else value)
    edit, preview = st.columns([3, 2], gap="large")
    with edit:
        logo_upload = st.file_uploader(f"Logo ({LOGO_IMAGE.summary}; transparency kept)",
                                       type=list(LOGO_IMAGE.extensions), key="brand_logo_upload",
                                       disabled=not may_change)
        corner_col, width_col, margin_col, opacity_col = st.columns(4)
        corner_col.selectbox("Corner", CORNERS, key=KIT_FIELD.format("logo_corner"), disabled=not may_change,
                             format_func=CORNER_LABELS.get)
        width_col.slider("Width", 5, 50, format="%d%%", key=KIT_FIELD.format("logo_width"), disabled=not may_change,
                         help="Of the frame's width")
        margin_col.slider("Margin", 0, 20, format="%d%%", key=KIT_FIELD.format("logo_margin"),
                          disabled=not may_change, help="Of the frame's shorter side")
        opacity_col.slider("Opacity", 10, 100, step=5, format="%d%%", key=KIT_FIELD.format("logo_opacity"),
                           disabled=not may_change)
        background_col, text_col, font_col = st.columns([1, 1, 2])
        background_col.color_picker("Background", key=KIT_FIELD.format("background"), disabled=not may_change)
        text_col.color_picker("Text", key=KIT_FIELD.format("text_colour"), disabled=not may_change)
        fonts = list(available_fonts())
        if fonts:
            font_col.selectbox("Font", ["", *fonts], key=KIT_FIELD.format("font"), disabled=not may_change,
                               format_func=lambda name: name.removesuffix(".ttf") if name else "The default",
                               help="For the end card and burned-in subtitles")
        else:
            font_col.caption("No TrueType fonts are installed on this server: the finisher's default is used.")
        st.markdown("**End card**")
        headline_col, cta_col, seconds_col = st.columns([2, 2, 1])
        headline_col.text_input("Headline", max_chars=HEADLINE_LIMIT, key=KIT_FIELD.format("headline"),
                                disabled=not may_change)
        cta_col.text_input("Call to action", max_chars=HEADLINE_LIMIT, key=KIT_FIELD.format("call_to_action"),
                           disabled=not may_change)
        seconds_col.number_input("Seconds", 0.0, MAX_END_CARD_SECONDS, step=0.5,
                                 key=KIT_FIELD.format("end_card_seconds"), disabled=not may_change,
                                 help="0: no end card")
        card_upload = st.file_uploader(f"End card picture (optional; {END_CARD_IMAGE.summary})",
                                       type=list(END_CARD_IMAGE.extensions), key="brand_card_upload",
                                       disabled=not may_change)
        # Keyed by the file: a box ticked for one picture is never found ticked for the next one saved.
        drop_logo = bool(kit.logo_file) and st.checkbox(
            "Remove the saved logo", key=f"brand_drop_{kit.logo_file}", disabled=not may_change or bool(logo_upload))
        drop_card = bool(kit.end_card_image_file) and st.checkbox(
            "Remove the saved end card picture", key=f"brand_drop_{kit.end_card_image_file}",
            disabled=not may_change or bool(card_upload))
    typed = {name: st.session_state[KIT_FIELD.format(name)] for name in kit_values(kit)
             if name not in ("logo_file", "end_card_image_file")}
    edited = replace(kit, **{name: value / 100 if name in KIT_PERCENTS else value for name, value in typed.items()})
    if drop_logo and logo_upload is None:
        edited = replace(edited, logo_file=None)
    if drop_card and card_upload is None:
        edited = replace(edited, end_card_image_file=None)
    logo = logo_upload.getvalue() if logo_upload is not None else picture(context.library, edited.logo_file)
    card_image = card_upload.getvalue() if card_upload is not None else picture(context.library,
                                                                                edited.end_card_image_file)
    with preview:
        shot, card = brand_preview(edited, logo=logo, end_card_image=card_image, frame=_latest_frame(context))
        st.image(shot, caption="A frame with the logo", width="stretch")
        if card is not None:
            st.image(card, caption=f"The end card, {edited.end_card_seconds:g} s", width="stretch")
    if st.button("Save the brand kit", icon=":material/save:", type="primary", disabled=not may_change,
                 key="brand_save"):
        try:
            save_brand_kit(context.library, edited, actor=context.jobs.actor,
                           logo=logo_upload.getvalue() if logo_upload is not None else None,
                           end_card_image=card_upload.getvalue() if card_upload is not None else None)
        except StudioError as error:
            show_error(error)
        else:
            st.success("Brand kit saved. It is applied with one click in a video's Finish panel.",
                       icon=":material/check_circle:")


def _latest_frame(context: StudioContext) -> Image.Image | None:
    """The newest finished video's thumbnail, so the preview shows the logo on the team's own pictures."""
    newest = context.library.finished(limit=1)
    return thumbnail_frame(context.library, newest[0]) if newest else None
