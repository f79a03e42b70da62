"""The embedded localsora: started once per data dir, or reused if already running.

It listens on a stable loopback port, 127.0.0.1:8000 unless `LOCALSORA_PORT` names another, so the URL in
the code snippet still works after a restart. When that port is taken it falls back to a free one.
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import threading
from collections.abc import Mapping
from pathlib import Path

from localsora.process import LocalsoraProcess, free_port, is_healthy

_started: dict[Path, LocalsoraProcess] = {}
_lock = threading.Lock()
PREVIZ_START_SECONDS = 30.0
MODEL_START_SECONDS = 600.0  # the diffusers engine loads a real model (gigabytes) before it answers
DEFAULT_PORT = 8000  # what `python -m localsora` and the README use


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


def ensure_localsora(data_dir: Path | str) -> str:
    """The base URL (`.../v1`) of a healthy localsora keeping its files in `data_dir/localsora`."""
    server_dir = Path(data_dir).resolve() / "localsora"
    marker = server_dir / "server.json"
    with _lock:
        running = _started.get(server_dir)
        if running is not None and running.running() and is_healthy(running.root_url):
            return running.base_url
        # A server from an earlier run of the app may still be up: reuse it rather than start a second.
        if marker.exists():
            try:
                root_url = json.loads(marker.read_text())["root_url"]
            except (ValueError, KeyError):
                root_url = ""
            if root_url and is_healthy(root_url):
                return f"{root_url}/v1"
        server = LocalsoraProcess(server_dir, port=choose_port()).start(timeout=start_timeout())
        _started[server_dir] = server
        marker.write_text(json.dumps({"root_url": server.root_url}))
        atexit.register(server.stop)
        return server.base_url
