"""Shared fixtures: localsora servers in real child processes, and real SDK clients pointed at them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from openai import OpenAI
from openai.types import Video

from localsora.process import LocalsoraProcess


def sdk_client(server: LocalsoraProcess, api_key: str = "local", **options: object) -> OpenAI:
    """The real SDK, validating every response against its own models."""
    options.setdefault("max_retries", 0)
    return OpenAI(base_url=server.base_url, api_key=api_key, _strict_response_validation=True, **options)


def wait_for_video(client: OpenAI, video_id: str, *, deadline: float = 120.0) -> Video:
    """Poll until the job leaves queued/in_progress; the deadline only guards against a hang."""
    end = time.monotonic() + deadline
    while True:
        video = client.videos.retrieve(video_id)
        if video.status in ("completed", "failed"):
            return video
        if time.monotonic() > end:
            raise AssertionError(f"{video_id} still {video.status} at {video.progress}% after {deadline:g} s")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def localsora(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalsoraProcess]:
    """One shared server for tests that don't change its settings."""
    server = LocalsoraProcess(tmp_path_factory.mktemp("localsora"), args=["--poll-after-ms", "200"])
    server.start()
    yield server
    server.stop()


TINY_WAN = "tiny-wan"
TINY_WAN_ARGS = ["--models", f"{TINY_WAN}=64x64,96x64", "--durations", "1,2", "--poll-after-ms", "200"]


@pytest.fixture(scope="session")
def tiny_wan_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Wan text-to-video pipeline saved to a folder, made once (needs torch and diffusers)."""
    from tests.tiny_pipelines import save_tiny_wan

    return save_tiny_wan(tmp_path_factory.mktemp("models") / TINY_WAN)  # its folder names what serves


def start_tiny_wan(data_dir: Path, model: Path) -> LocalsoraProcess:
    """localsora on the diffusers engine with the tiny Wan model: 1-2 s clips at 64x64 or 96x64, no sound."""
    server = LocalsoraProcess(data_dir, args=["--engine", "diffusers", "--model", str(model), *TINY_WAN_ARGS])
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HF_HUB_OFFLINE", "1")  # the child inherits it: never reach for a hub
        return server.start(timeout=180)


@pytest.fixture(scope="session")
def tiny_wan(tmp_path_factory: pytest.TempPathFactory, tiny_wan_model: Path) -> Iterator[LocalsoraProcess]:
    """One shared diffusers-engine server on the tiny Wan model."""
    server = start_tiny_wan(tmp_path_factory.mktemp("localsora-wan"), tiny_wan_model)
    yield server
    server.stop()


@pytest.fixture
def client(localsora: LocalsoraProcess) -> OpenAI:
    return sdk_client(localsora)


@pytest.fixture
def start_localsora(tmp_path: Path) -> Iterator[Callable[..., LocalsoraProcess]]:
    """Start a server of the test's own, with its own flags and data dir; all are stopped afterwards."""
    started: list[LocalsoraProcess] = []

    def start(*args: str, data_dir: Path | None = None, api_key: str | None = None,
              port: int | None = None) -> LocalsoraProcess:
        server = LocalsoraProcess(data_dir or tmp_path / f"localsora-{len(started)}", args=list(args),
                                  api_key=api_key, port=port)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def completed_video(localsora: LocalsoraProcess) -> Video:
    """A finished 4 s landscape clip on the shared server, made once."""
    client = sdk_client(localsora)
    video = client.videos.create(prompt="A red lighthouse on a cliff at sunset, slow pan right",
                                 size="1280x720", seconds="4")
    done = wait_for_video(client, video.id)
    assert done.status == "completed", done.error
    return done
