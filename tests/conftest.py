"""Shared fixtures: localsora in process (behind a TestClient, or served on a loopback port from a thread) and in
real child processes, and real SDK clients pointed at them. Tests run in parallel (pytest-xdist): each worker has
its own session fixtures, ports from `free_port()` and folders from `tmp_path_factory`."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# The shared helpers assert; rewritten like test modules, their failures say why. Registered before any import.
pytest.register_assert_rewrite("tests.e2e_support", "tests.waiting", "tests.media", "tests.in_process")

from openai import OpenAI
from openai.types import Video

from localsora.process import LocalsoraProcess
from studio.jobs import Jobs
from studio.library import Library, VideoRecord
from studio.provider.profiles import load_providers
from tests.in_process import InProcessLocalsora, ThreadedLocalsora, settings_for
from tests.waiting import wait_until

# The browser suite's fixtures (server, studio, page, shots, watch, playwright), one place for every e2e module.
pytest_plugins = ["tests.e2e_support"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--device", default="cpu",
                     help="where tests/test_diffusers_engine.py renders: cpu (default), cuda, cuda:N or mps")


# Tests on the diffusers engine share tiny models and are heavy on memory, so each group of them runs on one worker.
# Two groups that share no model: the engine's tests on every family's tiny model (`tiny_models`), and the rest on
# the tiny Wan model (acceleration, sound, the studio's tests on `tiny_wan`); one group made the longest chain.
DIFFUSERS_MODULES = {"test_diffusers_engine.py", "test_diffusers_acceleration.py", "test_diffusers_sound.py"}
DIFFUSERS_FIXTURES = {"tiny_models", "tiny_wan_model", "tiny_wan"}
ENGINE_MODULE, ENGINE_FIXTURE = "test_diffusers_engine.py", "tiny_models"
# What a browser module's tests share (tests/e2e_support.py): a browser test that uses none of them, but a tiny model,
# runs with the diffusers tests, where torch and the model are loaded already, and starts its own studio there.
E2E_MODULE_FIXTURES = {"server", "studio", "page"}


# A browser test that fails is run once more (pytest-rerunfailures); one that fails twice fails the suite.
BROWSER_RERUNS = 1

# A browser module with more tests than this is split over two workers (each starts its own server and studio).
E2E_TESTS_PER_GROUP = 8


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups (`-n auto --dist loadgroup`, pyproject.toml)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Groups that one xdist worker runs together: the diffusers tests (in two groups), and each browser test module
    (a studio and a Chromium of its own, shared by its tests), so the modules spread over the workers and none starts
    twice; a module's browser test on a tiny model of its own goes with the diffusers tests that load that model.
    The longest browser modules come in two halves, so no one module is the whole run's critical path."""
    e2e_items: dict[Path, list[pytest.Item]] = {}
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue  # the test's own group
        fixtures = set(getattr(item, "fixturenames", ()))
        on_models = item.path.name in DIFFUSERS_MODULES or bool(DIFFUSERS_FIXTURES & fixtures)
        with_its_module = not (on_models and not E2E_MODULE_FIXTURES & fixtures)
        if item.get_closest_marker("e2e") and with_its_module:
            e2e_items.setdefault(item.path, []).append(item)
        elif on_models:
            on_every_family = item.path.name == ENGINE_MODULE or ENGINE_FIXTURE in fixtures
            item.add_marker(pytest.mark.xdist_group("diffusers-engine" if on_every_family else "diffusers"))
    for item in items:
        if item.get_closest_marker("e2e") and not item.get_closest_marker("flaky"):
            # A real Chromium on a loaded 2-core machine misses a beat now and then (a rerun's stale element, a
            # media file dropped mid-request); one rerun, as Streamlit's own e2e suite has, and the summary says so.
            item.add_marker(pytest.mark.flaky(reruns=BROWSER_RERUNS))
    for path, module_items in e2e_items.items():
        halves = 2 if len(module_items) > E2E_TESTS_PER_GROUP else 1
        for index, item in enumerate(module_items):
            item.add_marker(pytest.mark.xdist_group(f"e2e-{path.stem}-{index * halves // len(module_items)}"))
    if config.getoption("loadgroup", default=False):  # set on each xdist worker by `--dist loadgroup`
        name_groups_in_ids(items)


@pytest.hookimpl(optionalhook=True)  # an xdist hook: without xdist (`-p no:xdist`) it is never called
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """xdist's controller, with `--dist loadgroup`: a diffusers test whose id names no group means the groups were
    lost on the way (the scheduler reads them from the ids), so the run stops and says so rather than spread every
    group over every worker in silence, as it had since xdist came in (a browser module started a studio per worker)."""
    if node.config.getvalue("dist") != "loadgroup":
        return
    lost = [i for i in ids if Path(i.partition("::")[0]).name in DIFFUSERS_MODULES and "@" not in i.rpartition("]")[2]]
    if lost:
        pytest.exit(f"pytest-xdist sees no group in {len(lost)} test ids, e.g. {lost[0]}: see name_groups_in_ids in "
                    "tests/conftest.py", returncode=pytest.ExitCode.USAGE_ERROR)


def name_groups_in_ids(items: list[pytest.Item]) -> None:
    """End each grouped test's id in `@group`, which is how xdist's scheduler learns the groups. pytest-xdist 3.8
    writes the suffix into `item._nodeid`, which pytest 9.2's structured ids no longer read, so without this every
    group was silently ignored and its tests spread over all workers (pytest-dev/pytest-xdist#1386)."""
    try:
        from _pytest.nodeid import NodeId
    except ImportError:  # an older pytest: xdist's own suffix works
        return
    for item in items:
        names = sorted({str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                        for mark in item.iter_markers("xdist_group")})
        if names and isinstance(getattr(item, "_id", None), NodeId) and "@" not in item.nodeid.rpartition("]")[2]:
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(names)}")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: a worker more than the cores. Much of a test is waiting (on a render, a poll, a browser), so a
    third worker on two cores fills the gaps; past 8, each browser module's studio and Chromium cost memory."""
    return min(8, (os.cpu_count() or 1) + 1)


def sdk_client(server: LocalsoraProcess | InProcessLocalsora, api_key: str = "local", **options: object) -> OpenAI:
    """The real SDK, validating every response against its own models; to an in-process app, with no socket."""
    options.setdefault("max_retries", 0)
    if isinstance(server, InProcessLocalsora):
        options.setdefault("http_client", server.http_client())
    return OpenAI(base_url=server.base_url, api_key=api_key, _strict_response_validation=True, **options)


def create_with_keyframes(client: OpenAI, items: list[dict[str, Any]] | str, files: list[tuple[str, bytes, str]],
                          **body: Any) -> Video:
    """POST /v1/videos with placed frames, as the README shows it: `inpaint_items` as JSON text (or text as given),
    each file a `files` part named by its file name; `body` the other fields."""
    body["inpaint_items"] = items if isinstance(items, str) else json.dumps(items)
    return client.post("/videos", cast_to=Video, body=body, files=[("files", file) for file in files],
                       options={"headers": {"Content-Type": "multipart/form-data"}})


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
    """localsora on the diffusers engine with the tiny Wan model: 1-2 s clips at 64x64 or 96x64, no sound. Served on
    a loopback port from a thread: the model loads in this process, where torch is already imported by the
    diffusers tests (test_diffusers_engine.py starts the command as a real process, end to end)."""
    server = ThreadedLocalsora(data_dir, args=["--engine", "diffusers", "--model", str(model), *TINY_WAN_ARGS])
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HF_HUB_OFFLINE", "1")  # never reach for a hub
        return server.start(timeout=180)


@pytest.fixture(scope="session")
def tiny_wan(tmp_path_factory: pytest.TempPathFactory, tiny_wan_model: Path) -> Iterator[LocalsoraProcess]:
    """One shared diffusers-engine server on the tiny Wan model (one per xdist worker)."""
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
    """Start a real `python -m localsora` child process of the test's own, with its own flags and data dir, for what
    needs a process (a SIGKILL, a data dir that outlives one); all are stopped afterwards. A server needed only for
    its flags is `start_app` (no socket) or `start_threaded` (a loopback port)."""
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


@pytest.fixture
def start_app(tmp_path: Path) -> Iterator[Callable[..., InProcessLocalsora]]:
    """The app of `python -m localsora FLAGS` in this process, behind a TestClient (its lifespan runs: the job queue
    and the expiry sweeper start): a fraction of a second, where a child process takes 1-7 s. `.http` for raw HTTP,
    `.client()` (or `sdk_client(app)`) for the real SDK, `.faults(...)` as on a process. Stopped afterwards."""
    started: list[InProcessLocalsora] = []

    def start(*flags: str, api_key: str | None = None, data_dir: Path | None = None) -> InProcessLocalsora:
        folder = data_dir or tmp_path / f"localsora-app-{len(started)}"
        app = InProcessLocalsora(settings_for(folder, flags, api_key))
        started.append(app)
        return app.start()

    yield start
    for app in reversed(started):
        app.stop()


@pytest.fixture
def start_threaded(tmp_path: Path) -> Iterator[Callable[..., ThreadedLocalsora]]:
    """The app of `python -m localsora FLAGS` served on a loopback port from a thread of this process: a URL for
    the studio's own SDK clients (`Jobs`, providers made from a URL), without a child process. Stopped afterwards."""
    started: list[ThreadedLocalsora] = []

    def start(*flags: str, data_dir: Path | None = None, api_key: str | None = None,
              port: int | None = None) -> ThreadedLocalsora:
        server = ThreadedLocalsora(data_dir or tmp_path / f"localsora-thread-{len(started)}", args=list(flags),
                                   api_key=api_key, port=port)
        started.append(server)
        return server.start()

    yield start
    for server in reversed(started):
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


@pytest.fixture
def data_dir(tmp_path: Path, localsora: LocalsoraProcess, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The studio's settings for an AppTest session on the shared `localsora`, with a data dir of its own."""
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("LOCALSORA_URL", localsora.root_url)
    monkeypatch.setenv("SORA_STUDIO_PROVIDER", "local")
    monkeypatch.setenv("SORA_STUDIO_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"
