"""The studio's server: `streamlit run serve.py` (what `make run` does) serves app.py as an st.App whose lifespan
starts the background worker with the server, so after a restart active jobs resume with no tab open.

`streamlit run app.py` still works; its worker then starts with the first page a browser opens.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

if TYPE_CHECKING:
    from studio.worker import Worker


log = logging.getLogger("sora_studio.serve")


def _start_worker() -> Worker | None:
    # Imported here, not above: the pages' st.cache_data functions then meet the running runtime, as under app.py.
    from components.background import start_for_server

    try:  # it opens the library (and may start the embedded localsora, in the background)
        return start_for_server()
    except Exception:  # the first page then starts it, or shows the same error where the user sees it
        log.exception("The background worker did not start with the server")
        return None


def _refuse_unguarded_address() -> None:
    """`make run` asks first (studio.access preflight); this catches `streamlit run serve.py --server.address ...`
    too: serving beyond loopback with no sign-in configured stops the server, saying what to configure."""
    from studio.access import read_secrets, serving_problem, sign_in_from

    sign_in = sign_in_from(read_secrets(st.config.get_option("secrets.files")))
    if problem := serving_problem(st.config.get_option("server.address"), sign_in):
        log.error(problem)
        raise SystemExit(problem)


@asynccontextmanager
async def lifespan(_app: st.App) -> AsyncIterator[None]:
    # Runs once the Streamlit runtime has started and secrets.toml is loaded (st.App starts both first). Not
    # awaited: the studio's imports (the openai SDK, numpy, PyAV) then run while the first page's HTML is served.
    _refuse_unguarded_address()
    starting = asyncio.create_task(asyncio.to_thread(_start_worker))
    try:
        yield
    finally:
        from studio.provider.local_backend import stop_started
        from studio.worker import STOP_AT_EXIT_SECONDS

        if (worker := await starting) is not None:
            await asyncio.to_thread(worker.stop, STOP_AT_EXIT_SECONDS)  # a download in flight finishes first
        # Then the embedded localsora, if this process started it: uvicorn ends the process by re-raising the
        # stopping signal, so atexit handlers do not run.
        await asyncio.to_thread(stop_started)


app = st.App(Path(__file__).resolve().parent / "app.py", lifespan=lifespan)
