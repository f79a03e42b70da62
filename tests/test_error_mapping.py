"""Provider answers localsora never gives, sent over real HTTP to the real SDK, and what the studio makes of them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import openai
import pytest

from studio import errors
from studio.jobs import Jobs, VideoRequest
from studio.library import Library
from studio.provider.error_mapping import from_sdk
from studio.provider.profiles import Provider, load_providers


def error_body(message: str, code: str | None, kind: str = "invalid_request_error") -> dict[str, object]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def video_body(video_id: str = "video_scripted01") -> dict[str, object]:
    return {"id": video_id, "object": "video", "model": "sora-2", "status": "queued", "progress": 0,
            "created_at": int(time.time()), "completed_at": None, "expires_at": None, "size": "720x1280",
            "seconds": "4", "prompt": "A kite", "remixed_from_video_id": None, "error": None}


class ScriptedServer:
    """Answers each request with the next scripted (status, headers, body); `hold` keeps the next one back until
    `release()`, as a server that never answers in time does."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str], object]] = []
        self.hold = False
        self.released = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                if owner.hold:
                    owner.released.wait(30)
                status, headers, body = owner.script.pop(0) if owner.script else (500, {}, error_body("unscripted",
                                                                                                     None))
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = answer  # noqa: N815 (http.server's naming)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.root_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def release(self) -> None:
        self.released.set()


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    yield server
    server.release()
    server.server.shutdown()


def provider_at(server: ScriptedServer) -> Provider:
    return load_providers({"LOCALSORA_URL": server.root_url})["local"]


def test_a_plain_retry_after_header_sets_the_wait(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.script = [(429, {"Retry-After": "7"}, error_body("Too many requests.", "rate_limit_exceeded")),
                       (200, {}, video_body())]
    slept: list[float] = []
    told: list[str] = []
    jobs = Jobs(provider_at(scripted), Library(tmp_path), sleep=slept.append)
    [record] = jobs.submit(VideoRequest(prompt="A kite"), on_wait=lambda seconds, error: told.append(str(error)))
    assert slept == [7.0] and record.video_id == "video_scripted01"
    assert told == ["Rate limited: retrying in 7 s. (Too many requests.)"]


def test_a_server_that_does_not_answer_in_time_is_named(scripted: ScriptedServer) -> None:
    scripted.hold = True
    provider = provider_at(scripted)
    with pytest.raises(openai.APITimeoutError) as caught:
        provider.client(timeout=0.3).with_options(max_retries=0).videos.retrieve("video_scripted01")
    error = from_sdk(caught.value, provider)
    assert isinstance(error, errors.BackendUnreachable)
    assert str(error) == (f"Backend unreachable: {provider.label} ({provider.host}) did not answer in time. "
                          "Active jobs resume when it is back.")


def test_a_403_says_the_key_works_but_lacks_access(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.script = [(403, {}, error_body("This key cannot use sora-2-pro.", "model_not_allowed"))]
    jobs = Jobs(provider_at(scripted), Library(tmp_path))
    with pytest.raises(errors.AccessDenied) as caught:
        jobs.submit(VideoRequest(prompt="A kite", model="sora-2-pro"))
    assert str(caught.value) == ("No access (403): the key works but cannot use this model or video. "
                                 "This key cannot use sora-2-pro.")
    assert caught.value.code == "model_not_allowed" and jobs.library.count() == 0


@pytest.mark.parametrize("code", ["video_expired", None])
def test_an_expired_video_is_told_apart_from_a_missing_one(scripted: ScriptedServer, code: str | None) -> None:
    scripted.script = [(404, {}, error_body("The content of video 'video_old' has expired.", code)),
                       (404, {}, error_body("No video found with id 'video_nope'.", "not_found"))]
    provider = provider_at(scripted)
    client = provider.client().with_options(max_retries=0)
    with pytest.raises(openai.NotFoundError) as expired:
        client.videos.download_content("video_old")
    with pytest.raises(openai.NotFoundError) as missing:
        client.videos.download_content("video_nope")
    said = from_sdk(expired.value, provider)
    assert isinstance(said, errors.NotFound) and str(said).startswith("Expired on the provider:")
    assert "The library copy, if any, is kept." in str(said)
    assert str(from_sdk(missing.value, provider)) == "Not found on the provider: No video found with id 'video_nope'."


def test_a_moderation_400_asks_for_a_new_prompt(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.script = [(400, {}, error_body("Your request was blocked by our moderation system.",
                                            "moderation_blocked"))]
    jobs = Jobs(provider_at(scripted), Library(tmp_path))
    with pytest.raises(errors.ModerationBlocked) as caught:
        jobs.submit(VideoRequest(prompt="Something it will not make"))
    assert str(caught.value).startswith("Blocked by moderation: rephrase the prompt")
    assert "Your request was blocked by our moderation system." in str(caught.value)
    assert caught.value.code == "moderation_blocked" and jobs.library.count() == 0
