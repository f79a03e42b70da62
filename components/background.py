"""The one background worker of this server process: started by the first page view, fed the server's providers.

Streamlit has no start-up hook, so after a restart the worker starts with the first page any browser opens.
"""

from __future__ import annotations

import atexit

import streamlit as st

from components.context import StudioContext
from studio.library import Library
from studio.worker import Worker

SESSION_ONLY = "this session"  # a config source (see context._config): keys a user typed for their session alone
STOP_AT_EXIT_SECONDS = 10.0


@st.cache_resource(show_spinner=False)
def _worker(_library: Library, data_dir: str) -> Worker:
    worker = Worker(_library).start()
    atexit.register(worker.stop, STOP_AT_EXIT_SECONDS)  # a download in flight finishes; no .part is left
    return worker


def keep_jobs_running(context: StudioContext) -> Worker:
    """The process's worker, serving every provider configured for the whole server. A session that typed its own
    keys or URLs in Settings feeds it nothing: those are that session's, and its own tab polls its jobs."""
    worker = _worker(context.library, str(context.library.data_dir))
    if SESSION_ONLY not in context.config_sources.values():
        for provider in context.providers.values():
            if provider.configured and provider.base_url:
                worker.serve(provider, deadline_seconds=context.jobs.deadline_seconds)
    return worker


def polled_in_background(context: StudioContext) -> bool:
    """True when the worker polls this session's provider, so its pages only read the library."""
    return keep_jobs_running(context).serves(context.provider)
