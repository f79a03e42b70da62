"""OpenAI-compatible servers: the profile, dialect hints, Test connection, learning from 404s, free sizes, and the
fields a server sends beyond OpenAI's. Over real HTTP, against the shared localsora process or a server of the test's
own (`--dialect vllm-omni` among them) served on a loopback port from a thread (`start_threaded`)."""

from __future__ import annotations

from pathlib import Path

import httpx
import openai
import pytest
from openai.types import Model, Video

from localsora.process import LocalsoraProcess, free_port
from studio import errors
from studio.jobs import Jobs, VideoRequest, _record_from_video
from studio.library import Library
from studio.media.sizes import check_free_size
from studio.provider.connection_check import KEY_PLACEHOLDER, check_connection, secrets_snippet
from studio.provider.dialects import from_models, from_video_fields, route_missing
from studio.provider.discovery import discover_server
from studio.provider.error_mapping import from_job_failure, from_sdk
from studio.provider.profiles import CONFIG_KEYS, OPENAI_SHUTDOWN_NOTE, default_kind, load_providers
from tests.waiting import wait_until

CANARY = "canary-key-0f9e8d7c6b5a-must-never-show"


def compatible(url: str, **config: str):  # noqa: ANN201 (a Provider)
    return load_providers({"SORA_STUDIO_COMPATIBLE_URL": url, **config})["compatible"]


def status_error(status: int, body: object) -> openai.APIStatusError:
    """What the SDK raises for this answer, made from a real httpx response."""
    request = httpx.Request("POST", "http://server.test/v1/videos/video_x/remix")
    response = httpx.Response(status, json=body, request=request) if not isinstance(body, str) \
        else httpx.Response(status, text=body, request=request)
    client = openai.OpenAI(base_url="http://server.test/v1", api_key="k")
    return client._make_status_error_from_response(response)


def wait_archived(jobs: Jobs, video_id: str, deadline: float = 90) -> None:
    wait_until(lambda: jobs.refresh(video_id), lambda record: record.is_archived,
               what=f"{video_id} to finish and be archived", deadline=deadline, interval=0.1)


# The profile.

def test_the_compatible_profile_from_settings() -> None:
    providers = load_providers({})
    assert providers["compatible"].missing == ("SORA_STUDIO_COMPATIBLE_URL",)
    server = compatible("http://gpu-box:8000", SORA_STUDIO_COMPATIBLE_API_KEY=CANARY,
                        SORA_STUDIO_MODELS="Wan2.2-T2V-A14B")
    assert server.base_url == "http://gpu-box:8000/v1" and server.configured
    assert server.capabilities.models == ("Wan2.2-T2V-A14B",) and server.capabilities.free_text_models
    assert not server.capabilities.free_sizes and server.capabilities.actions() == ("Remix", "Edit", "Extend")
    assert CANARY not in repr(server)
    config = {"SORA_STUDIO_COMPATIBLE_URL": "http://gpu-box:8000/v1", "OPENAI_API_KEY": "k"}
    assert default_kind(config, load_providers(config)) == "compatible", "the studio's own setting wins"
    assert "2026-09-24" in OPENAI_SHUTDOWN_NOTE and load_providers({})["openai"].note == OPENAI_SHUTDOWN_NOTE


def test_a_dialect_hint_sets_free_sizes_and_known_gaps() -> None:
    vllm = compatible("http://gpu-box:8000/v1", SORA_STUDIO_DIALECT="vllm-omni")
    assert vllm.dialect == "vllm-omni" and vllm.label == "OpenAI-compatible server (vLLM-Omni)"
    assert vllm.capabilities.free_sizes and vllm.capabilities.actions() == ()
    assert vllm.capabilities.parameters["num_inference_steps"].maximum == 200, "from vLLM-Omni's source"
    sglang = compatible("http://gpu-box:30000/v1", SORA_STUDIO_DIALECT="sglang").capabilities
    assert sglang.free_sizes and sglang.actions() == (), "from SGLang's source (docs/providers.md)"
    for hint in ("auto", "", "something-else"):
        assert compatible("http://h/v1", SORA_STUDIO_DIALECT=hint).dialect == ""


def test_dialects_are_read_only_from_what_servers_really_send() -> None:
    listed = [Model(id="Wan-AI/Wan2.2-T2V-A14B-Diffusers", object="model", created=0, owned_by="vllm")]
    assert from_models(listed).dialect.name == "vllm-omni"
    assert from_models([Model(id="m", object="model", created=0, owned_by="sglang")]).dialect.name == "sglang"
    assert from_models([Model(id="m", object="model", created=0, owned_by="openai")]) is None
    assert from_video_fields({"inference_time_s": 41.2, "peak_memory_mb": 18000.0}).dialect.name == "vllm-omni"
    assert from_video_fields({"seed": 3}) is None


@pytest.mark.parametrize(("status", "body", "missing"), [
    (404, {"detail": "Not Found"}, True),  # FastAPI's own: no such route
    (405, {"detail": "Method Not Allowed"}, True),
    (404, "<html>404 page not found</html>", True),
    (404, {"error": {"message": "Invalid URL (POST /v1/videos/x/remix)", "type": "invalid_request_error"}}, True),
    (404, {"error": {"message": "No video found with id 'x'.", "code": "not_found"}}, False),  # the route exists
    (404, {"detail": "Video x not found"}, False),
    (400, {"detail": "Not Found"}, False),
])
def test_route_missing_tells_a_missing_route_from_a_missing_video(status: int, body: object, missing: bool) -> None:
    assert route_missing(status_error(status, body)) is missing


def test_an_integer_error_code_is_kept_as_text_and_explained() -> None:
    provider = compatible("http://server.test/v1")
    error = from_sdk(status_error(400, {"error": {"message": "bad size", "type": "invalid", "code": 400}}), provider)
    assert isinstance(error, errors.InvalidInput) and "bad size" in str(error) and error.code is None
    video = Video.construct(id="video_gen_1", object="video", status="failed", progress=0, prompt="p",
                            model="Wan", size="832x480", seconds="4", created_at=1_700_000_000,
                            error={"code": 500, "message": "CUDA out of memory"})
    record = _record_from_video(video, provider, 600)
    assert record.error_code == "500"
    assert "CUDA out of memory" in str(from_job_failure(record.error_code, record.error_message))


# Free sizes.

@pytest.mark.parametrize(("typed", "size"), [("832x480", "832x480"), (" 1280 x 720 ", "1280x720"),
                                             ("480X832", "480x832")])
def test_a_free_size_is_read(typed: str, size: str) -> None:
    assert check_free_size(typed) == size


@pytest.mark.parametrize(("typed", "says"), [("832", "write it as WIDTHxHEIGHT"), ("wide", "not a video size"),
                                             ("8x8", "each side must be 16 to 4096"),
                                             ("833x480", "use even numbers, for example 834x480")])
def test_a_wrong_free_size_says_what_to_type(typed: str, says: str) -> None:
    with pytest.raises(errors.InvalidInput) as caught:
        check_free_size(typed)
    assert says in str(caught.value)


def test_a_free_size_server_takes_a_size_off_the_list_and_checks_it(tmp_path: Path) -> None:
    jobs = Jobs(compatible("http://127.0.0.1:9/v1", SORA_STUDIO_DIALECT="vllm-omni"), Library(tmp_path))
    with pytest.raises(errors.InvalidInput, match="odd side"):
        jobs.submit(VideoRequest(prompt="p", size="833x480"))
    fixed = Jobs(compatible("http://127.0.0.1:9/v1"), Library(tmp_path))
    with pytest.raises(errors.UnsupportedParameter, match="not 832x480"):
        fixed.submit(VideoRequest(prompt="p", size="832x480"))


# Test connection.

def test_connection_to_a_running_localsora_says_what_it_offers(localsora: LocalsoraProcess) -> None:
    report = check_connection(compatible(localsora.root_url))
    assert report.ok and report.headline == f"Connected to 127.0.0.1:{localsora.port}", report
    assert report.problem == "" and report.videos_seen is not None and "sora-2" in report.models
    assert report.present == ("remix", "edit", "extend") and report.absent == {}
    assert report.capabilities.actions() == ("Remix", "Edit", "Extend") and report.capabilities.parameters
    assert report.dialect == ""
    assert [v.id for v in openai.OpenAI(base_url=localsora.base_url, api_key="x").videos.list(limit=100)
            if "connection" in (v.prompt or "")] == [], "the probes made no job"


def test_connection_refused_on_a_closed_port() -> None:
    report = check_connection(compatible(f"http://127.0.0.1:{free_port()}"))
    assert not report.ok and report.problem == "refused" and report.headline == "Connection refused"
    assert "Nothing is listening at 127.0.0.1:" in report.reason


def test_connection_with_a_wrong_key_or_none(start_threaded) -> None:
    keyed = start_threaded(api_key="right")
    wrong = check_connection(compatible(keyed.root_url, SORA_STUDIO_COMPATIBLE_API_KEY="wrong"))
    assert not wrong.ok and wrong.problem == "key" and "did not accept the key (401)" in wrong.reason
    assert "wrong" not in wrong.reason + wrong.headline
    none = check_connection(compatible(keyed.root_url))
    assert none.problem == "key" and "wants a key (401), and none was given" in none.reason
    right = check_connection(compatible(keyed.root_url, SORA_STUDIO_COMPATIBLE_API_KEY="right"))
    assert right.ok


def test_connection_dns_tls_and_not_a_video_server(localsora: LocalsoraProcess) -> None:
    dns = check_connection(compatible("http://no-such-host.invalid/v1"))
    assert dns.problem == "dns" and "does not resolve" in dns.reason
    tls = check_connection(compatible(f"https://127.0.0.1:{localsora.port}/v1"))  # it speaks plain HTTP
    assert tls.problem == "tls" and "should start with http://" in tls.reason
    wrong_path = check_connection(compatible(localsora.root_url + "/api"))
    assert wrong_path.problem == "not_video_server" and wrong_path.headline == "Not a video server"
    assert f"{localsora.root_url}/api/videos answered 404" in wrong_path.reason


def test_connection_to_a_vllm_omni_server_finds_its_missing_routes(start_threaded) -> None:
    server = start_threaded("--dialect", "vllm-omni")
    report = check_connection(compatible(server.root_url))
    assert report.ok and set(report.absent) == {"remix", "edit", "extend"} and report.present == ()
    assert set(report.absent.values()) <= {404, 405}, "FastAPI answers 405 where another route has the path"
    assert report.capabilities.actions() == () and report.capabilities.text
    assert report.dialect == "vllm-omni" or "FastAPI" in report.dialect_evidence, report
    hinted = check_connection(compatible(server.root_url, SORA_STUDIO_DIALECT="vllm-omni"))
    assert hinted.dialect == "vllm-omni" and hinted.dialect_evidence == "set by hand"
    assert hinted.capabilities.free_sizes


def test_the_secrets_snippet_has_a_placeholder_never_the_key() -> None:
    snippet = secrets_snippet("compatible", {"SORA_STUDIO_COMPATIBLE_URL": "http://gpu-box:8000/v1",
                                             "SORA_STUDIO_COMPATIBLE_API_KEY": CANARY,
                                             "SORA_STUDIO_MODELS": "", "SORA_STUDIO_DIALECT": "vllm-omni"})
    assert CANARY not in snippet
    assert 'SORA_STUDIO_PROVIDER = "compatible"' in snippet and 'SORA_STUDIO_DIALECT = "vllm-omni"' in snippet
    assert f'SORA_STUDIO_COMPATIBLE_API_KEY = "{KEY_PLACEHOLDER}"' in snippet
    assert "SORA_STUDIO_MODELS" not in snippet, "empty settings are left out"


# Learning from answers, and keeping what servers send.

def test_a_404_on_remix_marks_it_absent_for_that_server_and_a_restart_remembers(start_threaded,
                                                                                tmp_path: Path) -> None:
    server = start_threaded("--dialect", "vllm-omni", "--models", "sora-2=1280x720")  # the request's model
    library = Library(tmp_path / "data")
    provider = compatible(server.root_url)
    jobs = Jobs(provider, library)
    [source] = jobs.submit(VideoRequest(prompt="A lighthouse at dusk", size="1280x720"))
    wait_archived(jobs, source.video_id)
    with pytest.raises(errors.ModeNotOffered) as caught:
        jobs.submit(VideoRequest(prompt="at night", kind="remix", source_video_id=source.video_id))
    assert str(caught.value).startswith("This server does not offer remix")
    assert library.absent_modes(provider.base_url) == {"remix"}
    assert library.absent_modes(provider.base_url + "/") == {"remix"}, "one server, however the URL is typed"
    again = Library(tmp_path / "data")  # an app restart
    learned = provider.with_absent_modes(again.absent_modes(provider.base_url))
    assert learned.capabilities.actions() == ("Edit", "Extend") and learned.learned_absent == ("remix",)
    with pytest.raises(errors.UnsupportedParameter, match="does not offer remix"):
        Jobs(learned, again).submit(VideoRequest(prompt="x", kind="remix", source_video_id=source.video_id))
    assert again.absent_modes(f"http://127.0.0.1:{free_port()}/v1") == set(), "other servers are untouched"
    again.mark_mode_present(provider.base_url, "remix")
    assert again.absent_modes(provider.base_url) == set()


def test_a_job_made_on_another_server_is_kept_not_failed_after_the_profile_moves(start_threaded,
                                                                                tmp_path: Path) -> None:
    """Settings pointed the compatible profile at a new server while a job ran on the old one: the new server has
    never heard of its id, so asking there would fail it. It waits, saying why, until the profile points back."""
    first, second = start_threaded("--render-delay", "2"), start_threaded()
    library = Library(tmp_path / "data")
    [made] = Jobs(compatible(first.root_url), library).submit(VideoRequest(prompt="A lighthouse at dusk"))
    assert made.base_url == compatible(first.root_url).base_url
    moved = Jobs(compatible(second.root_url), library)
    moved.refresh_active()
    kept = library.get(made.video_id)
    assert kept is not None and kept.is_active and kept.error_code is None, "not failed as unknown"
    assert kept.last_poll_error and f"Made on 127.0.0.1:{first.port}" in kept.last_poll_error
    assert "point the profile back" in kept.last_poll_error
    assert moved.archive(made.video_id).video_path is None  # nor downloaded from the wrong server
    back = Jobs(compatible(first.root_url), library)
    wait_archived(back, made.video_id)
    done = library.get(made.video_id)
    assert done is not None and done.status == "completed" and done.last_poll_error is None


def test_fields_beyond_openais_are_kept_in_the_library(localsora: LocalsoraProcess, tmp_path: Path) -> None:
    library = Library(tmp_path / "data")
    jobs = Jobs(discover_server(compatible(localsora.root_url), keep_models=False), library)
    [record] = jobs.submit(VideoRequest(prompt="A kept seed", size="1280x720", params={"seed": 77}))
    wait_archived(jobs, record.video_id)
    kept = Library(tmp_path / "data").get(record.video_id)
    assert kept.extra["seed"] == 77 and kept.seed == 77
    # vLLM-Omni's own fields, as its VideoResponse sends them, whatever they are.
    video = Video.construct(id="video_gen_abc", object="video", status="completed", progress=100, prompt="p",
                            model="Wan", size="832x480", seconds="4", created_at=1_700_000_000,
                            inference_time_s=41.25, peak_memory_mb=18234.5, stage_durations={"denoise": 39.0},
                            quality="default", media_type="video/mp4", file_name="video_gen_abc.mp4")
    library.add(_record_from_video(video, jobs.provider, 600))
    extra = Library(tmp_path / "data").get("video_gen_abc").extra
    assert extra == {"inference_time_s": 41.25, "peak_memory_mb": 18234.5, "stage_durations": {"denoise": 39.0},
                     "quality": "default", "media_type": "video/mp4", "file_name": "video_gen_abc.mp4"}


def test_every_setting_is_in_the_secrets_example() -> None:
    example = (Path(__file__).resolve().parent.parent / ".streamlit" / "secrets.toml.example").read_text()
    assert [key for key in CONFIG_KEYS if f"# {key} = " not in example] == []


def test_every_setting_is_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert [key for key in CONFIG_KEYS if f"`{key}`" not in readme] == []
