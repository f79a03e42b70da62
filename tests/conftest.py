"""Shared fixtures: localsora servers in real child processes, and real SDK clients pointed at them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# The shared helpers assert; rewritten like test modules, their failures say why. Registered before any import.
pytest.register_assert_rewrite("tests.e2e_support", "tests.waiting", "tests.media")

from openai import OpenAI
from openai.types import Video

from localsora.process import LocalsoraProcess
from studio.jobs import Jobs
from studio.library import Library, VideoRecord
from studio.provider.profiles import load_providers
from tests.waiting import wait_until


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--device", default="cpu",
                     help="where tests/test_diffusers_engine.py renders: cpu (default), cuda, cuda:N or mps")


def sdk_client(server: LocalsoraProcess, api_key: str = "local", **options: object) -> OpenAI:
    """The real SDK, validating every response against its own models."""
    options.setdefault("max_retries", 0)
    return OpenAI(base_url=server.base_url, api_key=api_key, _strict_response_validation=True, **options)


def wait_for_video(client: OpenAI, video_id: str, *, deadline: float = 120.0) -> Video:
    """Poll until the job leaves queued/in_progress; the deadline only guards against a hang."""
    return wait_until(lambda: client.videos.retrieve(video_id), lambda v: v.status in ("completed", "failed"),
                      what=f"{video_id} to finish on the provider", deadline=deadline)


def local_jobs(server: LocalsoraProcess, data_dir: Path | Library, **options: object) -> Jobs:
    """`Jobs` on the local profile pointed at `server`, with a library in `data_dir` (or the one given)."""
    provider = load_providers({"LOCALSORA_URL": server.root_url})["local"]
    library = data_dir if isinstance(data_dir, Library) else Library(data_dir)
    return Jobs(provider, library, **options)  # type: ignore[arg-type]


def run_until_settled(jobs: Jobs, video_id: str, deadline: float = 120) -> VideoRecord:
    """Refresh like the job panel does, until the job ends (and, if it completed, is archived)."""
    return wait_until(lambda: jobs.refresh(video_id),
                      lambda r: not r.is_active and (r.status != "completed" or r.is_archived),
                      what=f"{video_id} to settle in the library", deadline=deadline)


@pytest.fixture(scope="session")
def localsora(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalsoraProcess]:
    """One shared server for tests that don't change its settings."""
    with LocalsoraProcess(tmp_path_factory.mktemp("localsora"), args=["--poll-after-ms", "200"]) as server:
        yield server


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


# What `faults` puts back after each test: no injected errors, delays, cuts, blocked words or rate limit.
NO_FAULTS = {"clear": True, "error_rate": 0, "render_delay": 0, "blocked_words": [], "rate_limit": 0,
             "rate_window": 60}


@pytest.fixture(scope="session")
def faulty_localsora(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalsoraProcess]:
    """One shared server whose faults and limits tests change at run time; use it through `faults`."""
    with LocalsoraProcess(tmp_path_factory.mktemp("localsora-faulty"),
                          args=["--poll-after-ms", "200", "--enable-faults"]) as server:
        yield server


@pytest.fixture
def faults(faulty_localsora: LocalsoraProcess) -> Iterator[LocalsoraProcess]:
    """The shared fault-injecting server, with no faults before the test and none left after it."""
    faulty_localsora.faults(**NO_FAULTS)
    yield faulty_localsora
    faulty_localsora.faults(**NO_FAULTS)


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
