"""The studio for this browser session: configuration, the chosen provider, the library and jobs.

Configuration comes from `.streamlit/secrets.toml` and the environment (the environment wins), plus
what the user typed in Settings for this session only.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import streamlit as st

from components.identity import current_actor
from studio.errors import StudioError
from studio.jobs import DEFAULT_DEADLINE, Jobs
from studio.library import Filters, Library, VideoRecord
from studio.provider.dialects import DIALECTS
from studio.provider.discovery import discover, discover_server
from studio.provider.local_backend import embedded_localsora, is_starting
from studio.provider.profiles import (
    CONFIG_KEYS,
    Health,
    Provider,
    ProviderKind,
    ProviderOffer,
    check_health,
    default_kind,
    load_providers,
)

SESSION_OVERRIDES = "provider_overrides"  # {config key: value} typed in Settings, kept in this session only
SESSION_PROVIDER = "provider_kind"
SESSION_JOBS = "session_job_ids"
SESSION_CONTEXT = "studio_context"  # this session's, kept between runs while still current
SESSION_CONTEXT_CHECKED = "studio_context_checked"  # app.py checked it on this run: the page takes it as it is
SESSION_RESTORED = "connection_restored"  # this session has looked for a connection kept from before a reload
SESSION_KEY_AGAIN = "connection_key_again"  # the key a connection restored after a reload needs typed again
ANNOUNCED = "announced_job_ids"  # jobs whose end this session has toasted already
RECENT_RESULT_SECONDS = 3600.0  # a reload keeps showing the results finished this long ago or less
RECENT_RESULTS = 6
HEALTH_SECONDS = 20.0  # a provider's health is asked again after this long
MAX_CONTEXT_AGE_SECONDS = 20.0  # then built again: discovery of a server that did not answer is not cached


@dataclass
class StudioContext:
    providers: dict[ProviderKind, Provider]
    provider: Provider
    library: Library
    jobs: Jobs
    data_dir: Path
    config_sources: dict[str, str]  # config key -> where it came from ("environment", "secrets.toml", "this session")
    built_from: tuple[object, ...] = ()  # what it was built from (see `_built_from`)
    local_starting: bool = False  # the embedded localsora had not answered yet when this was built
    built_at: float = field(default_factory=time.monotonic)

    def still_current(self, built_from: tuple[object, ...]) -> bool:
        """Built from the same choices, configuration and owner, less than MAX_CONTEXT_AGE_SECONDS ago, knowing
        every mode the library has learned since, and not waiting on a local renderer that has answered since."""
        if self.built_from != built_from or time.monotonic() - self.built_at > MAX_CONTEXT_AGE_SECONDS:
            return False
        if self.local_starting and not is_starting(self.provider.base_url):
            return False
        return self.library.absent_modes(self.provider.base_url) == set(self.provider.learned_absent)


def _built_from(config: Mapping[str, str], sources: Mapping[str, str]) -> tuple[object, ...]:
    """Everything a context is built from: the provider chosen in this session, the configuration with where each
    key came from (Settings' keys and connections, the environment, secrets.toml), and who is working."""
    return (st.session_state.get(SESSION_PROVIDER), frozenset(config.items()), frozenset(sources.items()),
            current_actor())


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
def _discovered(_provider: Provider, base_url: str) -> ProviderOffer | None:
    # Keyed by URL: a restarted localsora on a new port is asked again. An unreachable one raises, so is not cached.
    return discover(_provider.client(timeout=10.0).with_options(max_retries=0), _provider.capabilities)


@st.cache_data(ttl=300, show_spinner=False, max_entries=16)
def _discovered_server(_provider: Provider, base_url: str, dialect: str,
                       keep_models: bool) -> tuple[ProviderOffer, str, str]:
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
    """The provider's health, asked at most every HEALTH_SECONDS; "starting" while the embedded localsora starts."""
    if kind == "local" and is_starting(base_url):
        return Health(False, "Starting the local renderer…",
                      "It answers in a few seconds (loading a model can take minutes); this page updates by itself.",
                      starting=True)
    # Keyed by a digest of the key too: a key typed in Settings is checked at once, not after the answer expires.
    key = provider.api_key.reveal() if provider.api_key else ""
    asked_as = (kind, base_url, hashlib.sha256(key.encode()).hexdigest())
    now = time.monotonic()
    asked = _health_asked.get(asked_as)
    if asked is None or now - asked[0] > HEALTH_SECONDS:
        for stale in [k for k, (at, _) in _health_asked.items() if now - at > HEALTH_SECONDS]:
            _health_asked.pop(stale, None)
        asked = _health_asked[asked_as] = (now, check_health(provider))
    return asked[1]


# Every session's answers, shared as st.cache_data would, without its hashing and copying on every rerun.
_health_asked: dict[tuple[str, str | None, str], tuple[float, Health]] = {}


@st.fragment(run_every=0.5)
def _rerun_when_local_answers(base_url: str | None) -> None:
    if not is_starting(base_url):
        st.rerun(scope="app")  # the whole app: the sidebar and the page learn what it serves
    st.caption(":material/hourglass_top: Starting the local renderer… The page is ready to use; rendering starts "
               "once it answers.")


def studio_context(*, for_app: bool = False) -> StudioContext:
    """This run's context: the session's while still current, else built again. app.py asks first on every run
    (`for_app=True`); the page it then runs takes that one without checking again, and a page run alone (as
    AppTest runs them) checks it itself."""
    if SESSION_RESTORED not in st.session_state:
        _restore_connection()
    checked_by_app = st.session_state.pop(SESSION_CONTEXT_CHECKED, False) and not for_app
    context = st.session_state.get(SESSION_CONTEXT)
    if context is None or not checked_by_app:
        config, sources = _config()
        built_from = _built_from(config, sources)
        if context is None or not context.still_current(built_from):
            context = st.session_state[SESSION_CONTEXT] = _build_context(config, sources, built_from)
    if for_app:
        st.session_state[SESSION_CONTEXT_CHECKED] = True
    elif context.local_starting:  # a page's call: say so, and redraw everything once it answers
        _rerun_when_local_answers(context.provider.base_url)
    return context


def _restore_connection() -> None:
    """Once a session: the provider this person connected in Settings before a reload, without its key (the
    sidebar asks for it again), rather than the default one behind their back."""
    st.session_state[SESSION_RESTORED] = True
    if SESSION_PROVIDER in st.session_state:
        return
    saved = _library(str(data_dir_of(server_config()[0]))).saved_connection(current_actor().name)
    if saved is None:
        return
    st.session_state.setdefault(SESSION_OVERRIDES, {}).update(saved.settings)
    st.session_state[SESSION_PROVIDER] = saved.kind
    if saved.key_name:
        st.session_state[SESSION_KEY_AGAIN] = saved.key_name


def _build_context(config: dict[str, str], sources: dict[str, str], built_from: tuple[object, ...]) -> StudioContext:
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
    actor = current_actor()  # every delete, rename, pause and cancel through this context is checked against it
    jobs = Jobs(provider, library, deadline_seconds=deadline_seconds_of(config), owner=actor.name, actor=actor)
    return StudioContext(providers, provider, library, jobs, data_dir, sources, built_from, local_starting=starting)


def session_job_ids(context: StudioContext) -> list[str]:
    """Jobs this session follows. A new session (a refresh, a restart) picks up this person's active jobs again,
    and the results they finished in the last RECENT_RESULT_SECONDS, shown as before and not toasted twice."""
    if SESSION_JOBS not in st.session_state:
        owner, kind = context.jobs.owner, context.provider.kind
        since = time.time() - RECENT_RESULT_SECONDS
        recent = [r for r in context.library.page(Filters(provider=kind, owner=owner), limit=RECENT_RESULTS).records
                  if not r.is_active and (r.completed_at or r.updated_at) >= since][::-1]
        st.session_state.setdefault(ANNOUNCED, set()).update(r.video_id for r in recent)
        st.session_state[SESSION_JOBS] = [r.video_id for r in recent] + [
            r.video_id for r in context.library.active(provider=kind) if r.owner == owner]  # this person's
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
