"""localsora's app in the test's own process, two ways, both without a child process's start-up (1-7 s):

- `InProcessLocalsora`: the app behind Starlette's TestClient (its lifespan runs: the job queue and the expiry
  sweeper start). No socket: raw HTTP goes through `.http`, and the real openai SDK through `.client()`, whose
  httpx2 transport hands each request to the TestClient and streams its response back.
- `ThreadedLocalsora`: the same app served by uvicorn on a loopback port, in a thread: a URL that the studio's own
  SDK clients (`Jobs`, providers built from a URL) reach over real HTTP.

What needs a real process (a SIGKILL, `python -m localsora`'s flags and exit codes) uses
`localsora.process.LocalsoraProcess`.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import httpx2
import uvicorn
from openai import OpenAI
from starlette.testclient import TestClient

from localsora.process import LocalsoraProcess, free_port
from tests.waiting import wait_until

# localsora.config and localsora.server are imported where an app is made: every test module imports this one
# through conftest.py, and most never start a server.
if TYPE_CHECKING:
    from localsora.config import Settings


# The Host that Starlette's TestClient sends by default, and schemathesis's ASGI calls with it.
TEST_CLIENT_HOST = "testserver"


def settings_for(data_dir: Path, flags: Sequence[str], api_key: str | None = None, port: int | None = None) -> Settings:
    """Settings as `python -m localsora --data-dir DIR --port PORT --allowed-hosts testserver FLAGS...` reads them,
    with the key from its variable; nothing else from this process's environment leaks in. The TestClient's Host
    is allowed by name here, so the server's default stays strict; a test's own --allowed-hosts replaces it."""
    from localsora.config import parse_args

    argv = ["--data-dir", str(data_dir), "--port", str(port or free_port()), "--allowed-hosts", TEST_CLIENT_HOST,
            *flags]
    return parse_args(argv, {"LOCALSORA_API_KEY": api_key} if api_key else {})


class AppTransport(httpx2.BaseTransport):
    """An httpx2 transport that forwards each request to a TestClient and returns its response, streamed as the
    app sends it: what lets the openai SDK (which speaks httpx2) talk to the app with no socket."""

    def __init__(self, http: TestClient) -> None:
        self.http = http

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        return self.http.send(request, stream=True, follow_redirects=False)


class InProcessLocalsora:
    """The app of `python -m localsora FLAGS` behind a TestClient. `root_url` and `base_url` name where a real
    server would be (the Host the app sees); nothing listens there, so only `.http` and `.client()` reach it."""

    def __init__(self, settings: Settings) -> None:
        from localsora.server import create_app

        self.settings = settings
        self.data_dir = Path(settings.data_dir)
        self.api_key = settings.api_key
        self.app = create_app(settings)
        self.root_url = f"http://127.0.0.1:{settings.port}"
        self.base_url = f"{self.root_url}/v1"
        self.http = TestClient(self.app, base_url=self.root_url)
        self._clients: list[httpx2.Client] = []

    def start(self) -> InProcessLocalsora:
        self.http.__enter__()  # runs the lifespan's start-up
        return self

    def stop(self) -> None:
        for client in self._clients:
            client.close()
        self.http.__exit__(None, None, None)

    def http_client(self) -> httpx2.Client:
        """An httpx2 client whose requests reach the app: what `OpenAI(http_client=...)` takes."""
        client = httpx2.Client(transport=AppTransport(self.http))
        self._clients.append(client)
        return client

    def client(self, api_key: str | None = None, **options: object) -> OpenAI:
        """The real SDK, validating every response against its own models, as `tests.conftest.sdk_client`."""
        options.setdefault("max_retries", 0)
        options.setdefault("_strict_response_validation", True)
        return OpenAI(base_url=self.base_url, api_key=api_key or self.api_key or "local",
                      http_client=self.http_client(), **options)  # type: ignore[arg-type]

    def faults(self, **change: object) -> dict[str, object]:
        """Change injected faults and limits at run time, as `LocalsoraProcess.faults` does."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        response = self.http.post("/_localsora/faults", json=change, headers=headers)
        if response.status_code == 404:
            raise RuntimeError("This localsora serves no /_localsora/faults: start it with --enable-faults.")
        response.raise_for_status()
        return response.json()

    def received(self, video_id: str) -> dict:
        """The request a job was made from, as the server read it (`/_localsora/videos/{id}/request`)."""
        return self.http.get(f"/_localsora/videos/{video_id}/request").raise_for_status().json()


class ThreadedLocalsora(LocalsoraProcess):
    """The app of `python -m localsora FLAGS` served by uvicorn on a loopback port in a thread of this process:
    the same URLs, `faults()` and `stop()` as `LocalsoraProcess`, without the child process. With no port given,
    the socket is bound to a port the system picks, so parallel workers never race for one."""

    def __init__(self, data_dir: Path, *, port: int | None = None, args: list[str] | None = None,
                 api_key: str | None = None) -> None:
        super().__init__(data_dir, port=port, args=args, api_key=api_key)
        self.port = port or 0  # 0: the system picks one when the socket is bound, in start()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 30.0) -> ThreadedLocalsora:
        from localsora.server import create_app

        self.data_dir.mkdir(parents=True, exist_ok=True)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart on the port just closed
        listener.bind(("127.0.0.1", self.port))
        self.port = listener.getsockname()[1]
        try:
            app = create_app(settings_for(self.data_dir, self.args, self.api_key, self.port))
        except BaseException:
            listener.close()
            raise
        server = self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        thread = self._thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]},
                                                 name=f"localsora-{self.port}", daemon=True)
        thread.start()
        wait_until(lambda: server.started or not thread.is_alive(), what=f"localsora to listen on {self.root_url}",
                   deadline=timeout)
        if not server.started:
            listener.close()
            raise RuntimeError(f"localsora did not start on {self.root_url}; see the log above")
        return self

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, kill: bool = False) -> None:
        """Stop serving: the lifespan's shut-down runs and the port closes. There is no process to SIGKILL."""
        assert not kill, "a thread cannot be killed: use LocalsoraProcess for a SIGKILL"
        server, thread, self._server, self._thread = self._server, self._thread, None, None
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout=30)
        assert not thread.is_alive(), f"localsora on {self.root_url} did not stop"
