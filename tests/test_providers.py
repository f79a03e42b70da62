"""Provider profiles from a mapping, real requests to a recording server, health checks, and secrets kept secret."""

from __future__ import annotations

import json
import logging
import pickle
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from azure.core.credentials import AccessToken
from openai.types import Model

from localsora.process import free_port
from studio.errors import StudioError
from studio.provider.discovery import capabilities_from_models, discover
from studio.provider.profiles import azure_base_url, check_health, default_kind, load_providers
from studio.provider.secret import Secret
from tests.conftest import TINY_WAN
from tests.waiting import wait_until

KEY = "fake-key-test-0123456789abcdefghijklmnop"


class RecordingServer:
    """A plain HTTP server that records each request's path and Authorization header and answers an empty list."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        recorded = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                recorded.append((self.path, self.headers.get("Authorization", "")))
                body = json.dumps({"object": "list", "data": [], "first_id": None, "last_id": None,
                                   "has_more": False}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def recorder() -> Iterator[RecordingServer]:
    server = RecordingServer()
    yield server
    server.server.shutdown()


class FixedTokenCredential:
    """An Entra ID credential that hands out one known token, so the token-provider path runs for real."""

    calls = 0

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        FixedTokenCredential.calls += 1
        assert scopes == ("https://cognitiveservices.azure.com/.default",)
        return AccessToken("entra-fixed-token", 4_102_444_800)


def test_nothing_configured_means_local() -> None:
    providers = load_providers({})
    assert default_kind({}, providers) == "local"
    assert providers["local"].configured
    assert providers["openai"].missing == ("OPENAI_API_KEY",)
    assert providers["azure"].missing == ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY")


def test_profiles_say_what_they_offer() -> None:
    providers = load_providers({"AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com",
                                "AZURE_OPENAI_API_KEY": KEY, "AZURE_OPENAI_DEPLOYMENT": "my-sora"})
    local = providers["local"].capabilities
    assert local.models == ("sora-2", "sora-2-pro") and "1792x1024" in local.sizes_for("sora-2-pro")
    assert local.actions() == ("Remix", "Edit", "Extend") and local.extension_durations[-1] == "20"
    azure = providers["azure"].capabilities
    assert azure.models == ("my-sora",) and azure.jobs_per_minute == 2 and azure.actions() == ("Remix",)
    gateway = load_providers({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": "https://gw.example/v1",
                              "SORA_STUDIO_MODELS": "veo-x, sora-2"})["openai"]
    assert gateway.label == "OpenAI-compatible gateway"
    assert gateway.capabilities.models == ("veo-x", "sora-2") and gateway.capabilities.free_text_models


@pytest.mark.parametrize("endpoint", ["https://res.openai.azure.com", "https://res.openai.azure.com/",
                                      "https://res.openai.azure.com/openai/v1", "https://res.openai.azure.com/openai"])
def test_azure_endpoint_gets_openai_v1(endpoint: str) -> None:
    assert azure_base_url(endpoint) == "https://res.openai.azure.com/openai/v1/"


def test_azure_key_requests_reach_openai_v1_with_the_key(recorder: RecordingServer) -> None:
    provider = load_providers({"AZURE_OPENAI_ENDPOINT": recorder.url, "AZURE_OPENAI_API_KEY": KEY})["azure"]
    assert provider.base_url == recorder.url + "/openai/v1/"
    provider.client().videos.list(limit=1)
    assert recorder.requests == [("/openai/v1/videos?limit=1", f"Bearer {KEY}")]


def test_azure_entra_id_sends_the_credential_token(recorder: RecordingServer) -> None:
    FixedTokenCredential.calls = 0
    providers = load_providers({"AZURE_OPENAI_ENDPOINT": recorder.url}, credential_factory=FixedTokenCredential)
    assert default_kind({"AZURE_OPENAI_ENDPOINT": recorder.url}, providers) == "azure_entra"
    provider = providers["azure_entra"]
    assert provider.configured and provider.api_key is None
    provider.client().videos.list(limit=1)
    provider.client().videos.list(limit=1)
    assert [auth for _, auth in recorder.requests] == ["Bearer entra-fixed-token"] * 2
    assert FixedTokenCredential.calls == 1, "the token is cached until it expires"
    assert check_health(provider).summary == "Azure OpenAI (Entra ID): connected"


def test_creating_clients_never_retry() -> None:
    provider = load_providers({"OPENAI_API_KEY": KEY})["openai"]
    assert provider.client(creating=True).max_retries == 0
    assert provider.client().max_retries > 0


def test_secrets_never_show(caplog: pytest.LogCaptureFixture) -> None:
    providers = load_providers({"OPENAI_API_KEY": KEY, "AZURE_OPENAI_ENDPOINT": "https://r.example",
                                "AZURE_OPENAI_API_KEY": KEY})
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("providers: %s %r", providers, providers)
    shown = repr(providers) + str(providers) + f"{providers['openai'].api_key}" + caplog.text
    assert KEY not in shown and "********" in shown
    assert providers["openai"].api_key == Secret(KEY) and providers["openai"].api_key.reveal() == KEY
    with pytest.raises(TypeError):
        pickle.dumps(providers["openai"].api_key)
    with pytest.raises(ValueError) as caught:
        load_providers({})["openai"].client()
    assert "OPENAI_API_KEY" in str(caught.value)


def test_health_explains_what_is_wrong(localsora, start_localsora) -> None:
    local = load_providers({"LOCALSORA_URL": localsora.root_url})["local"]
    assert check_health(local).ok and check_health(local).summary.startswith("Local preview renderer")
    missing = check_health(load_providers({})["openai"])
    assert not missing.ok and "It needs an API key" in missing.detail, "in words, not a variable name"
    closed = load_providers({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1"})
    refused = check_health(closed["openai"])
    assert not refused.ok and "unreachable" in refused.summary
    dns = check_health(load_providers({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": "http://no-such-host.invalid/v1"})
                       ["openai"])
    assert not dns.ok and "does not resolve" in dns.detail
    keyed = start_localsora(api_key="right-key")
    wrong = check_health(load_providers({"OPENAI_API_KEY": "wrong-key", "OPENAI_BASE_URL": keyed.base_url})["openai"])
    assert not wrong.ok and "401" in wrong.detail and "wrong-key" not in wrong.detail


def test_the_embedded_localsora_starts_once_and_is_reused(tmp_path) -> None:
    from studio.provider import local_backend

    first = local_backend.ensure_localsora(tmp_path)
    started = dict(local_backend._started)
    try:
        assert first.startswith("http://127.0.0.1:") and first.endswith("/v1")
        assert (tmp_path / "localsora" / "localsora.sqlite3").exists(), "its files live in the studio's data dir"
        assert local_backend.ensure_localsora(tmp_path) == first
        local_backend._started.clear()  # as after an app restart: the server is still up, found by its marker
        assert local_backend.ensure_localsora(tmp_path) == first
        assert check_health(load_providers({"LOCALSORA_URL": first.removesuffix("/v1")})["local"]).ok
    finally:
        for server in started.values():
            server.stop()
        local_backend._started.clear()


def test_the_embedded_localsora_waits_longer_for_a_model_engine() -> None:
    from studio.provider.local_backend import MODEL_START_SECONDS, PREVIZ_START_SECONDS, start_timeout

    assert start_timeout({}) == PREVIZ_START_SECONDS == 30
    assert start_timeout({"LOCALSORA_ENGINE": "previz"}) == PREVIZ_START_SECONDS
    assert start_timeout({"LOCALSORA_ENGINE": "diffusers"}) == MODEL_START_SECONDS >= 600


def test_discovery_on_the_previz_engine(localsora) -> None:
    local = load_providers({"LOCALSORA_URL": localsora.root_url})["local"]
    caps = discover(local.client(), local.capabilities)
    assert caps is not None
    assert caps.models == ("sora-2", "sora-2-pro") and caps.sizes_for("sora-2-pro")[-1] == "1792x1024"
    assert caps.sizes_for("sora-2") == ("720x1280", "1280x720")
    assert caps.durations == ("4", "8", "12") and caps.extension_durations[-1] == "20"
    assert (caps.image, caps.remix, caps.edit, caps.extend, caps.audio) == (True, True, True, True, True)
    assert caps.engine == "previz" and caps.serving == "Local preview renderer: offline, no AI model"
    assert list(caps.parameters) == ["seed", "sound", "audio_prompt"]
    assert caps.parameters["sound"].type == "boolean"  # a switch in Advanced
    seed = caps.parameters["seed"]
    assert (seed.type, seed.minimum, seed.maximum) == ("integer", 0, 2**32 - 1)
    found = local.with_capabilities(caps)
    assert found.label == "Local preview renderer" and check_health(found).summary.startswith("Local preview")


def test_discovery_on_the_diffusers_engine(tiny_wan) -> None:
    local = load_providers({"LOCALSORA_URL": tiny_wan.root_url})["local"]
    caps = discover(local.client(), local.capabilities)
    assert caps is not None
    assert caps.models == (TINY_WAN,) and caps.sizes_for(TINY_WAN) == ("64x64", "96x64")
    assert caps.durations == ("1", "2")
    # Wan text-to-video: remix and edit are video-to-video; no reference image, no extension, no sound.
    assert (caps.image, caps.remix, caps.edit, caps.extend, caps.audio) == (False, True, True, False, False)
    assert caps.actions() == ("Remix", "Edit")
    assert set(caps.parameters) == {"seed", "negative_prompt", "num_inference_steps", "guidance_scale", "fps",
                                    "num_frames", "strength"}
    steps, guidance = caps.parameters["num_inference_steps"], caps.parameters["guidance_scale"]
    assert (steps.type, steps.minimum, steps.maximum) == ("integer", 1, 200)
    assert (guidance.type, guidance.minimum, guidance.maximum) == ("number", 0, 30)
    assert caps.parameters["negative_prompt"].type == "string"
    assert caps.engine == "diffusers" and caps.serving.endswith(" on cpu")
    found = local.with_capabilities(caps)
    health = check_health(found)
    assert found.label == f"Local model ({caps.serving})"
    assert health.ok and health.summary == f"Local model: {caps.serving} · no sound"


def test_discovery_keeps_the_static_profile_where_the_server_does_not_say(recorder: RecordingServer) -> None:
    # The recording server answers every GET with an empty list: no model carries capabilities.
    gateway = load_providers({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": recorder.url + "/v1"})["openai"]
    assert discover(gateway.client(), gateway.capabilities) is None
    assert recorder.requests[-1][0] == "/v1/models"
    bare = [Model(id="veo-x", object="model", created=0, owned_by="gw"),
            Model.model_validate({"id": "odd", "object": "model", "created": 0, "owned_by": "gw",
                                  "capabilities": {"sizes": "not a list", "modes": 3}})]
    assert capabilities_from_models(bare, gateway.capabilities) is None


def test_discovery_of_a_server_that_is_down_raises_rather_than_answers() -> None:
    closed = load_providers({"LOCALSORA_URL": f"http://127.0.0.1:{free_port()}"})["local"]
    with pytest.raises(StudioError):
        discover(closed.client().with_options(max_retries=0), closed.capabilities)


def test_the_embedded_localsora_keeps_its_address_across_restarts(tmp_path, monkeypatch) -> None:
    """The URL in the code snippet still works after the studio restarts: the port is stable, not random."""
    import socket

    from localsora.process import free_port
    from studio.provider import local_backend

    port = free_port()
    monkeypatch.setenv("LOCALSORA_PORT", str(port))
    try:
        first = local_backend.ensure_localsora(tmp_path / "a")
        assert first == f"http://127.0.0.1:{port}/v1"
        for server in local_backend._started.values():
            server.stop()  # the app stops; its localsora with it
        local_backend._started.clear()
        assert local_backend.ensure_localsora(tmp_path / "a") == first, "a restart comes back on the same address"
        with socket.create_connection(("127.0.0.1", port)):  # the port is now taken by that server
            other = local_backend.ensure_localsora(tmp_path / "b")
        assert other != first and other.startswith("http://127.0.0.1:"), "a taken port falls back to a free one"
    finally:
        for server in local_backend._started.values():
            server.stop()
        local_backend._started.clear()


def test_stopping_the_studio_while_its_localsora_starts_leaves_no_server_behind(tmp_path, monkeypatch) -> None:
    """Ctrl+C right after `make run`: the renderer still starting must not live on, unseen, to be started again
    beside it on the same data dir by the next run."""
    import psutil

    from studio.provider import local_backend

    drawn = threading.Event()
    drawn.set()  # a page is drawn: the renderer is on its way up, not waiting for one
    monkeypatch.setattr(local_backend, "_page_drawn", drawn)

    def servers_of_this_data_dir() -> list[psutil.Process]:
        return [p for p in psutil.process_iter(["cmdline"])
                if "localsora" in (p.info["cmdline"] or []) and str(tmp_path) in " ".join(p.info["cmdline"])]

    assert local_backend.embedded_localsora(tmp_path).starting
    try:
        local_backend.stop_started()  # the studio stops while its renderer is still on its way up
        start = local_backend._background[(tmp_path / "localsora").resolve()]
        assert start.done.wait(timeout=60)
        assert "stop" in start.error, "the start was abandoned, not finished behind the studio's back"
        wait_until(lambda: not servers_of_this_data_dir(), what="no localsora left on this data dir", deadline=15)
    finally:
        for process in servers_of_this_data_dir():
            process.kill()
        local_backend._stopping.clear()  # this test's studio stopped; the next test's has not
        local_backend._background.clear()
        local_backend._started.clear()


def test_the_embedded_localsora_starts_once_the_first_page_is_drawn(tmp_path, monkeypatch) -> None:
    """Cold start: the first page is drawn before the renderer, a second Python process importing its stack, takes
    the cores. It then starts at once."""
    import time

    from studio.provider import local_backend

    monkeypatch.setattr(local_backend, "_page_drawn", threading.Event())
    monkeypatch.setattr(local_backend, "FIRST_PAGE_WAIT_SECONDS", 600.0)
    server_dir = (tmp_path / "localsora").resolve()
    try:
        assert local_backend.embedded_localsora(tmp_path).starting
        time.sleep(0.5)  # ample for a start that did not wait to register its process
        assert server_dir not in local_backend._started, "the renderer started before any page was drawn"
        assert local_backend.embedded_localsora(tmp_path).starting, "the page still says it is starting"
        local_backend.page_drawn()
        wait_until(lambda: not local_backend.embedded_localsora(tmp_path).starting, what="the renderer answers",
                   deadline=60)
        assert check_health(load_providers({"LOCALSORA_URL": local_backend._started[server_dir].root_url})["local"]).ok
    finally:
        for server in local_backend._started.values():
            server.stop()
        local_backend._background.clear()
        local_backend._started.clear()


def test_a_port_taken_while_the_renderer_waits_for_the_first_page_is_not_its_end(tmp_path, monkeypatch) -> None:
    """The port was free when the page asked for the renderer, and another program took it before the page was
    drawn: the renderer starts on a free port instead of failing to bind (or taking the other one for itself)."""
    import socket

    from studio.provider import local_backend

    port = free_port()
    monkeypatch.setenv("LOCALSORA_PORT", str(port))
    monkeypatch.setattr(local_backend, "_page_drawn", threading.Event())
    try:
        assert local_backend.embedded_localsora(tmp_path).base_url == f"http://127.0.0.1:{port}/v1"
        with socket.create_server(("127.0.0.1", port)):  # another program takes it meanwhile
            local_backend.page_drawn()
            wait_until(lambda: not local_backend.embedded_localsora(tmp_path).starting, what="the renderer answers",
                       deadline=60)
            url = local_backend.embedded_localsora(tmp_path).base_url
        assert url != f"http://127.0.0.1:{port}/v1"
        assert check_health(load_providers({"LOCALSORA_URL": url.removesuffix("/v1")})["local"]).ok
    finally:
        for server in local_backend._started.values():
            server.stop()
        local_backend._background.clear()
        local_backend._started.clear()


def test_a_localsora_started_on_a_port_another_holds_fails_rather_than_passes_for_it(tmp_path) -> None:
    """Two starts that chose the same free port at once: the second does not take the first's answer for its own."""
    from localsora.process import LocalsoraProcess

    with LocalsoraProcess(tmp_path / "first") as first:
        second = LocalsoraProcess(tmp_path / "second", port=first.port)
        try:
            with pytest.raises(RuntimeError, match="exited"):
                second.start(timeout=60)
        finally:
            second.stop()  # where it wrongly passed, its process would bind the port once the first is gone


def test_the_app_loads_no_sdk_numpy_or_pyav_before_its_first_page() -> None:
    """Cold start: what app.py imports must not load the openai SDK, numpy or PyAV (about 0.4 s of CPU together);
    the first job or health check loads what it needs."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys; import components.background, components.context, components.feedback, components.sidebar; "
            "print(sorted(m for m in ('openai', 'numpy', 'av') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"


def test_the_sdk_loaded_on_first_use_is_the_sdk() -> None:
    import openai

    from studio.provider.sdk import openai as on_first_use

    assert on_first_use.APIStatusError is openai.APIStatusError and on_first_use.omit is openai.omit
    with pytest.raises(AttributeError):
        on_first_use.NoSuchThing  # noqa: B018


def test_a_bad_localsora_port_is_named() -> None:
    from studio.provider.local_backend import DEFAULT_PORT, preferred_port

    assert preferred_port({}) == DEFAULT_PORT == 8000
    assert preferred_port({"LOCALSORA_PORT": "9100"}) == 9100
    with pytest.raises(ValueError, match="LOCALSORA_PORT"):
        preferred_port({"LOCALSORA_PORT": "eighty"})
