"""Run localsora in a child process on a loopback port: for the studio's embedded default and for tests."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_health_client: httpx.Client | None = None
_health_client_lock = threading.Lock()


def _client_for_health() -> httpx.Client:
    """One client, kept: a new one builds an SSL context, about 20 ms of CPU, and a starting server is asked ten
    times a second, while the studio's first page loads on the same cores."""
    global _health_client
    with _health_client_lock:
        if _health_client is None:
            _health_client = httpx.Client()
        return _health_client


def is_healthy(root_url: str, timeout: float = 1.0, instance: str | None = None) -> bool:
    """Whether a localsora answers at `root_url`; with `instance`, the one started with that token."""
    try:
        response = _client_for_health().get(f"{root_url}/health", timeout=timeout)
        answer = response.json()
        return (response.status_code == 200 and answer.get("service") == "localsora"
                and (instance is None or answer.get("instance") == instance))
    except (httpx.HTTPError, ValueError):
        return False


def end_process(process: subprocess.Popen[bytes], *, kill: bool = False) -> None:
    """Terminate (or kill) a child process and reap it; one that ignores SIGTERM for 15 s is killed."""
    if process.poll() is not None:
        return
    if kill:
        process.kill()
    else:
        process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class LocalsoraProcess:
    """`python -m localsora` as a child process. `args` are extra flags, e.g. ["--render-delay", "3"]."""

    def __init__(self, data_dir: Path, *, port: int | None = None, args: list[str] | None = None,
                 api_key: str | None = None, log_path: Path | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.args = list(args or [])
        self.api_key = api_key
        self.log_path = log_path or self.data_dir / "localsora.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()  # a stop() from another thread meets either no process or the whole of one
        self._spawned = False
        self._cancelled = False  # stop() came before the first start() spawned the process: it never will
        # Its /health says this token: another localsora already on the port (which this one then fails to
        # bind) is not taken for it.
        self.instance = secrets.token_hex(8)

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What `OpenAI(base_url=...)` takes."""
        return f"{self.root_url}/v1"

    def start(self, timeout: float = 90.0) -> LocalsoraProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "localsora", "--host", "127.0.0.1", "--port", str(self.port),
                   "--data-dir", str(self.data_dir), *self.args]
        env = dict(os.environ)
        if self.api_key:
            env["LOCALSORA_API_KEY"] = self.api_key  # through the environment, never on the command line
        repo_root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [repo_root, env.get("PYTHONPATH")]))
        env["LOCALSORA_INSTANCE"] = self.instance
        with self._lock:
            if self._cancelled:
                raise RuntimeError("localsora was stopped before it started")
            with open(self.log_path, "ab") as log:
                process = self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
            self._spawned = True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not process:
                raise RuntimeError("localsora was stopped before it answered")
            if process.poll() is not None:
                raise RuntimeError(f"localsora exited with {process.returncode}; see {self.log_path}")
            if is_healthy(self.root_url, timeout=0.5, instance=self.instance):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"localsora did not answer on {self.root_url} within {timeout:g} s; see {self.log_path}")

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self, kill: bool = False) -> None:
        """Stop the process; one still waiting to answer is stopped too, and start() then raises."""
        with self._lock:
            process, self._process = self._process, None
            self._cancelled = process is None and not self._spawned
        if process is not None:
            end_process(process, kill=kill)

    def faults(self, **change: object) -> dict[str, object]:
        """Change injected faults and limits at run time (see `/_localsora/faults`)."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        response = httpx.post(f"{self.root_url}/_localsora/faults", json=change, headers=headers, timeout=10)
        if response.status_code == 404:
            raise RuntimeError("This localsora serves no /_localsora/faults: start it with --enable-faults.")
        response.raise_for_status()
        return response.json()

    def __enter__(self) -> LocalsoraProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
