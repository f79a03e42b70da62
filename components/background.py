"""The one background worker of this server process, fed the server's providers.

`streamlit run serve.py` (what `make run` does) starts it with the server, through st.App's lifespan
(`start_for_server`), so after a restart active jobs resume with no tab open. Under `streamlit run app.py` it
starts with the first page any browser opens. Either way the pages find the same worker (`worker_for`).
"""

from __future__ import annotations

from collections.abc import Iterable

import streamlit as st

from components.context import StudioContext, data_dir_of, deadline_seconds_of, server_config
from studio.library import Library
from studio.provider.local_backend import embedded_localsora
from studio.provider.profiles import Provider, default_kind, load_providers
from studio.worker import Worker, worker_for

SESSION_ONLY = "this session"  # a config source (see context._config): keys a user typed for their session alone
SESSION_WORKER = "background_worker"  # (the context it was fed from, the worker, whether it polls its provider)


def _serve(worker: Worker, providers: Iterable[Provider], deadline_seconds: float) -> Worker:
    for provider in providers:
        if provider.configured and provider.base_url:
            worker.serve(provider, deadline_seconds=deadline_seconds)
    return worker


def keep_jobs_running(context: StudioContext) -> Worker:
    """The process's worker, serving every provider configured for the whole server. A session that typed its own
    keys or URLs in Settings feeds it nothing: those are that session's, and its own tab polls its jobs."""
    return _fed_from(context)[0]


def start_for_server() -> Worker:
    """At server start: the worker for the data dir the server's configuration (environment and secrets.toml, no
    session's) names, serving every provider configured there. When that configuration defaults to the embedded
    localsora, it is started too (in the background), so its jobs resume."""
    config, _ = server_config()
    data_dir = data_dir_of(config)
    providers = dict(load_providers(config))
    kind = default_kind(config, providers)
    if kind == "local" and providers[kind].base_url is None:
        providers[kind] = providers[kind].with_base_url(embedded_localsora(data_dir).base_url)
    return _serve(worker_for(Library(data_dir)), providers.values(), deadline_seconds_of(config))


def polled_in_background(context: StudioContext) -> bool:
    """True when the worker polls this session's provider, so its pages only read the library."""
    return _fed_from(context)[1]


def _fed_from(context: StudioContext) -> tuple[Worker, bool]:
    """The worker, fed `context`'s providers, and whether it polls its provider: looked up once per context (it is
    kept between runs while current), not on every run and tick."""
    fed = st.session_state.get(SESSION_WORKER)
    if fed is not None and fed[0] is context and fed[1].running:
        return fed[1], fed[2]
    worker = worker_for(context.library)
    if SESSION_ONLY not in context.config_sources.values():
        _serve(worker, context.providers.values(), context.jobs.deadline_seconds)
    polled = worker.serves(context.provider)
    st.session_state[SESSION_WORKER] = (context, worker, polled)
    return worker, polled
