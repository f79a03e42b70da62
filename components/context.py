"""The studio for this browser session: configuration, the chosen provider, the library and jobs.

Configuration comes from `.streamlit/secrets.toml` and the environment (the environment wins), plus
what the user typed in Settings for this session only.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import streamlit as st

from components.identity import current_owner
from studio.dialects import DIALECTS
from studio.discovery import discover, discover_server
from studio.errors import StudioError
from studio.jobs import DEFAULT_DEADLINE, Jobs
from studio.library import Library, VideoRecord
from studio.local_backend import embedded_localsora, is_starting
from studio.providers import (
    CONFIG_KEYS,
    Capabilities,
    Health,
    Provider,
    ProviderKind,
    check_health,
    default_kind,
    load_providers,
)

SESSION_OVERRIDES = "provider_overrides"  # {config key: value} typed in Settings, kept in this session only
SESSION_PROVIDER = "provider_kind"
SESSION_JOBS = "session_job_ids"
SESSION_CONTEXT = "studio_context"  # built once per script run by app.py, read by the page it runs


@dataclass
class StudioContext:
    providers: dict[ProviderKind, Provider]
    provider: Provider
    library: Library
    jobs: Jobs
    data_dir: Path
    config_sources: dict[str, str]  # config key -> where it came from ("environment", "secrets.toml", "this session")
    built_from: tuple[object, ...] = ()  # the session's choices it was built from (see `_session_choices`)
    local_starting: bool = False  # the embedded localsora had not answered yet when this was built

    def still_current(self) -> bool:
        """Built from this session's current choices, knowing every mode the library has learned since, and
        not waiting on a local renderer that has answered since."""
        if self.local_starting and not is_starting(self.provider.base_url):
            return False
        learned = self.library.absent_modes(self.provider.base_url)
        return self.built_from == _session_choices() and learned == set(self.provider.learned_absent)


def _session_choices() -> tuple[object, ...]:
    overrides = st.session_state.get(SESSION_OVERRIDES, {})
    return st.session_state.get(SESSION_PROVIDER), tuple(sorted((k, v) for k, v in overrides.items() if v))


def _secrets() -> dict[str, str]:
    try:
        return {k: str(v) for k, v in st.secrets.to_dict().items() if isinstance(v, str | int | float)}
    except Exception:  # no secrets.toml at all is the normal local case
        return {}


def _config() -> tuple[dict[str, str], dict[str, str]]:
    return server_config({k: v for k, v in st.session_state.get(SESSION_OVERRIDES, {}).items() if v})


def server_config(overrides: Mapping[str, str] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """The configuration ({key: value}) and where each key came from: `overrides` (a session's, typed in
    Settings), else the environment, else `.streamlit/secrets.toml`. With no overrides, the whole server's."""
    secrets = _secrets()
    overrides = overrides or {}
    config: dict[str, str] = {}
    sources: dict[str, str] = {}
    for key in CONFIG_KEYS:
        for source, values in (("this session", overrides), ("environment", os.environ),
                               ("secrets.toml", secrets)):
            if values.get(key):
                config[key], sources[key] = values[key], source
                break
    return config, sources


def data_dir_of(config: Mapping[str, str]) -> Path:
    return Path(config.get("SORA_STUDIO_DATA_DIR") or "data").resolve()


def deadline_seconds_of(config: Mapping[str, str]) -> float:
    return float(config.get("SORA_STUDIO_JOB_DEADLINE_MINUTES") or DEFAULT_DEADLINE / 60) * 60


@st.cache_resource(show_spinner=False)
def _library(data_dir: str) -> Library:
    return Library(data_dir)


@st.cache_resource(show_spinner=False, max_entries=16)
def _providers(config_items: frozenset[tuple[str, str]]) -> dict[ProviderKind, Provider]:
    # Cached so an Entra ID credential keeps its token between reruns.
    return load_providers(dict(config_items))


@st.cache_data(ttl=300, show_spinner=False, max_entries=16)
def _discovered(_provider: Provider, base_url: str) -> Capabilities | None:
    # Keyed by URL: a restarted localsora on a new port is asked again. An unreachable one raises, so is not cached.
    return discover(_provider.client(timeout=10.0).with_options(max_retries=0), _provider.capabilities)


@st.cache_data(ttl=300, show_spinner=False, max_entries=16)
def _discovered_server(_provider: Provider, base_url: str, dialect: str,
                       keep_models: bool) -> tuple[Capabilities, str, str]:
    # The parts, not the Provider: a cached value is pickled, and a key never is.
    found = discover_server(_provider, keep_models=keep_models)
    return found.capabilities, found.dialect, found.dialect_evidence


def with_discovery(provider: Provider, *, keep_models: bool = False) -> Provider:
    """The local or compatible profile with what its server says it serves; the static profile if it does not say
    (or cannot be reached now: the sidebar's health check says why)."""
    if provider.base_url is None or provider.kind not in ("local", "compatible"):
        return provider
    try:
        if provider.kind == "compatible":
            capabilities, dialect, evidence = _discovered_server(provider, provider.base_url, provider.dialect,
                                                                 keep_models)
            found = replace(provider.with_capabilities(capabilities), dialect=dialect, dialect_evidence=evidence)
            if dialect in DIALECTS and dialect != "openai" and not provider.dialect:  # detected: say what it is
                found = replace(found, label=f"OpenAI-compatible server ({DIALECTS[dialect].label})")
            return found
        capabilities = _discovered(provider, provider.base_url)
    except StudioError:
        capabilities = None
    return provider if capabilities is None else provider.with_capabilities(capabilities)


def with_what_was_learned(provider: Provider, library: Library) -> Provider:
    """Less the modes this server answered 404 or 405 for, here or in an earlier run."""
    return provider.with_absent_modes(library.absent_modes(provider.base_url))


def health_of(provider: Provider, kind: str, base_url: str | None) -> Health:
    """The provider's health, asked at most every 20 s; "starting" while the embedded localsora starts."""
    if kind == "local" and is_starting(base_url):
        return Health(False, "Starting the local renderer…",
                      "It answers in a few seconds (loading a model can take minutes); this page updates by itself.",
                      starting=True)
    # Keyed by a digest of the key too: a key typed in Settings is checked at once, not after the cache expires.
    key = provider.api_key.reveal() if provider.api_key else ""
    return _asked_health(provider, kind, base_url, hashlib.sha256(key.encode()).hexdigest())


@st.cache_data(ttl=20, show_spinner=False)
def _asked_health(_provider: Provider, kind: str, base_url: str | None, key_digest: str) -> Health:
    return check_health(_provider)


@st.fragment(run_every=0.5)
def _rerun_when_local_answers(base_url: str | None) -> None:
    if not is_starting(base_url):
        st.rerun(scope="app")  # the whole app: the sidebar and the page learn what it serves
    st.caption(":material/hourglass_top: Starting the local renderer… The page is ready to use; rendering starts "
               "once it answers.")


def studio_context(*, fresh: bool = False) -> StudioContext:
    """This run's context. app.py builds it (`fresh=True`) before the page runs; pages reuse it, unless a page
    runs alone (as AppTest runs them) after a choice changed or a mode was learned."""
    cached = st.session_state.get(SESSION_CONTEXT)
    if not fresh and cached is not None and cached.still_current():
        context = cached
    else:
        context = _build_context()
        st.session_state[SESSION_CONTEXT] = context
    if not fresh and context.local_starting:  # a page's call: say so, and redraw everything once it answers
        _rerun_when_local_answers(context.provider.base_url)
    return context


def _build_context() -> StudioContext:
    config, sources = _config()
    data_dir = data_dir_of(config)
    providers = dict(_providers(frozenset(config.items())))
    kind: ProviderKind = st.session_state.get(SESSION_PROVIDER) or default_kind(config, providers)
    provider = providers[kind]
    starting = False
    if provider.kind == "local" and provider.base_url is None:
        # Started in the background: the first page draws now, not once the server is up.
        local = embedded_localsora(data_dir)
        provider, starting = provider.with_base_url(local.base_url), local.starting
    library = _library(str(data_dir))
    if not starting:  # nothing to discover from a server that is not answering yet
        provider = with_discovery(provider, keep_models="SORA_STUDIO_MODELS" in config)
    provider = with_what_was_learned(provider, library)
    providers[kind] = provider
    jobs = Jobs(provider, library, deadline_seconds=deadline_seconds_of(config), owner=current_owner())
    return StudioContext(providers, provider, library, jobs, data_dir, sources, _session_choices(),
                         local_starting=starting)


def session_job_ids(context: StudioContext) -> list[str]:
    """Jobs this session follows. A new session (a refresh, a restart) picks up this person's active jobs again."""
    if SESSION_JOBS not in st.session_state:
        st.session_state[SESSION_JOBS] = [r.video_id for r in context.library.active(provider=context.provider.kind)
                                          if r.owner == context.jobs.owner]  # this person's, not the team's
    return st.session_state[SESSION_JOBS]


def session_jobs(context: StudioContext) -> list[VideoRecord]:
    """The records behind `session_job_ids`, oldest first, skipping any deleted since."""
    return [r for r in (context.library.get(i) for i in session_job_ids(context)) if r is not None]


def latest_result(context: StudioContext, source_id: str | None, kinds: tuple[str, ...]) -> VideoRecord | None:
    """This session's newest finished job of `kinds` made from `source_id` (None: from an uploaded file)."""
    return next((r for r in reversed(session_jobs(context))
                 if r.kind in kinds and r.status == "completed" and r.parent_video_id == source_id), None)


def follow(context: StudioContext, video_ids: list[str]) -> None:
    ids = session_job_ids(context)
    ids.extend(v for v in video_ids if v not in ids)
