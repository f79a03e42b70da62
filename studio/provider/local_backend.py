"""The embedded localsora: started once per data dir, or reused if already running.

It listens on a stable loopback port, 127.0.0.1:8000 unless `LOCALSORA_PORT` names another, so the URL in
the code snippet still works after a restart. When that port is taken it falls back to a free one.

`embedded_localsora` starts it in a background thread, so the studio's first page draws at once. The thread waits
until a page has been drawn (`page_drawn`, from app.py), so the renderer's own start does not take the cores that
first page is drawn on. Until it answers, requests to its URL are refused like any unreachable backend's.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from localsora.process import LocalsoraProcess, free_port, is_healthy

log = logging.getLogger(__name__)
_started: dict[Path, LocalsoraProcess] = {}  # from before they answer, so stop_started() also stops a start
_started_lock = threading.Lock()
_stopping = threading.Event()  # the studio is shutting down: no more starts
_lock = threading.Lock()  # one start at a time
_background_lock = threading.Lock()
PREVIZ_START_SECONDS = 30.0
MODEL_START_SECONDS = 600.0  # the diffusers engine loads a real model (gigabytes) before it answers
RETRY_START_SECONDS = 30.0  # after a failed start, how long before a page's run tries again
DEFAULT_PORT = 8000  # what `python -m localsora` and the README use
FIRST_PAGE_WAIT_SECONDS = 5.0  # a server no browser has visited yet (it has jobs to resume) starts it anyway
_page_drawn = threading.Event()  # also set by stop_started(): no start waits for a page that will not come


def preferred_port(environ: Mapping[str, str] = os.environ) -> int:
    """The port to try first: `LOCALSORA_PORT`, else 8000."""
    value = (environ.get("LOCALSORA_PORT") or "").strip()
    try:
        return int(value) if value else DEFAULT_PORT
    except ValueError:
        raise ValueError(f"LOCALSORA_PORT must be a port number; it is {value!r}.") from None


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds it
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def choose_port(environ: Mapping[str, str] = os.environ) -> int:
    """The stable port when it is free, else any free one."""
    port = preferred_port(environ)
    return port if port_is_free(port) else free_port()


def start_timeout(environ: Mapping[str, str] = os.environ) -> float:
    """How long to wait for the embedded localsora to answer: a model engine takes minutes to load."""
    engine = (environ.get("LOCALSORA_ENGINE") or "previz").strip().lower()
    return PREVIZ_START_SECONDS if engine == "previz" else MODEL_START_SECONDS


def _running_url(server_dir: Path) -> str | None:
    """The base URL of a healthy localsora already serving `server_dir`: ours, or one from an earlier run."""
    running = _started.get(server_dir)
    if running is not None and running.running() and is_healthy(running.root_url):
        return running.base_url
    # A server from an earlier run of the app may still be up: reuse it rather than start a second.
    marker = server_dir / "server.json"
    if marker.exists():
        try:
            root_url = json.loads(marker.read_text())["root_url"]
        except (ValueError, KeyError, TypeError):
            root_url = ""
        if root_url and is_healthy(root_url):
            return f"{root_url}/v1"
    return None


def ensure_localsora(data_dir: Path | str, port: int | None = None) -> str:
    """The base URL (`.../v1`) of a healthy localsora keeping its files in `data_dir/localsora`; started on
    `port` (else `choose_port()`) when none is running."""
    server_dir = Path(data_dir).resolve() / "localsora"
    marker = server_dir / "server.json"
    with _lock:
        if (url := _running_url(server_dir)) is not None:
            return url
        server = LocalsoraProcess(server_dir, port=port or choose_port())
        with _started_lock:  # before it answers: a model can take minutes, and the studio may stop meanwhile
            if _stopping.is_set():
                raise RuntimeError("The studio is stopping: the local renderer is not started.")
            _started[server_dir] = server
        atexit.register(server.stop)
        try:
            server.start(timeout=start_timeout())
        except Exception:
            with _started_lock:
                if _started.get(server_dir) is server:
                    del _started[server_dir]
            raise
        marker.write_text(json.dumps({"root_url": server.root_url}))
        return server.base_url


@dataclass
class LocalStart:
    """The embedded localsora as the studio sees it now: its URL, and whether it is still starting."""

    base_url: str
    starting: bool = False


class _BackgroundStart:
    """One start of the embedded localsora, run in a thread so no page waits for it."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.base_url = f"http://127.0.0.1:{port}/v1"
        self.error = ""
        self.ended_at = 0.0
        self.done = threading.Event()
        threading.Thread(target=self._run, args=(data_dir, port), name="localsora-start", daemon=True).start()

    def _run(self, data_dir: Path, port: int) -> None:
        # A second Python process importing its stack would take the cores the first page is drawn on.
        _page_drawn.wait(FIRST_PAGE_WAIT_SECONDS)
        if not port_is_free(port):  # taken while it waited: then a free one, not a start that fails to bind
            port = free_port()
        try:
            self.base_url = ensure_localsora(data_dir, port=port)
        except Exception as exc:  # the health check then says it is unreachable; the log says why
            self.error = str(exc) or type(exc).__name__
            log.warning("The local renderer did not start: %s", self.error)
        finally:
            self.ended_at = time.monotonic()
            self.done.set()


_background: dict[Path, _BackgroundStart | str] = {}  # the start under way, or the URL of one that answered


def embedded_localsora(data_dir: Path | str) -> LocalStart:
    """The embedded localsora for `data_dir`: one already running is used at once; otherwise it is started in
    the background and reported as starting, on the URL it will answer on, until it answers."""
    server_dir = Path(data_dir).resolve() / "localsora"
    with _background_lock:
        start = _background.get(server_dir)
        if isinstance(start, str):
            return LocalStart(start)
        if start is None and (url := _running_url(server_dir)) is not None:
            _background[server_dir] = url
            return LocalStart(url)
        if start is not None and not start.done.is_set():
            return LocalStart(start.base_url, starting=True)
        if start is not None and not start.error:
            _background[server_dir] = start.base_url
            return LocalStart(start.base_url)
        if start is not None and time.monotonic() - start.ended_at < RETRY_START_SECONDS:
            return LocalStart(start.base_url)  # failed just now: it shows as unreachable, and why, in the log
        start = _background[server_dir] = _BackgroundStart(server_dir.parent, choose_port())
        return LocalStart(start.base_url, starting=True)


def page_drawn() -> None:
    """app.py's word, after each run, that a page is drawn: an embedded localsora waiting for it may now start."""
    _page_drawn.set()


def is_starting(base_url: str | None) -> bool:
    """Whether `base_url` is an embedded localsora that has not answered yet."""
    return any(isinstance(start, _BackgroundStart) and start.base_url == base_url and not start.done.is_set()
               for start in list(_background.values()))


def stop_started() -> None:
    """Stop every localsora this process started. serve.py calls it at server shutdown: uvicorn, which serves an
    st.App, re-raises SIGTERM once it has shut down, so the atexit handlers that stop them otherwise never run."""
    with _started_lock:  # not _lock, which a start holds until its server answers
        _stopping.set()
        servers = list(_started.values())
        _started.clear()
    _page_drawn.set()
    for server in servers:
        server.stop()
