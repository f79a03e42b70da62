"""The studio's core flows against every dialect localsora speaks: create (text, and with an image), poll,
download, list, delete, a job that fails, and a mode the server lacks. Through studio.jobs and the real SDK over
real HTTP, as the pages use them, to servers on loopback ports served from a thread (`start_threaded`);
docs/providers.md's table names these tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from localsora.process import LocalsoraProcess
from studio import errors
from studio.jobs import Jobs, VideoRequest
from studio.library import Library, VideoRecord
from studio.media.images import fit
from studio.provider.discovery import discover_server
from studio.provider.profiles import load_providers
from tests.media import decode_mp4, png_bytes
from tests.waiting import wait_until

DIALECTS = ("openai", "vllm-omni", "sglang")


def studio_on(start_threaded: Callable[..., LocalsoraProcess], tmp_path: Path, dialect: str,
              *flags: str) -> tuple[Jobs, Library]:
    server = start_threaded("--dialect", dialect, "--poll-after-ms", "100", *flags)
    provider = load_providers({"SORA_STUDIO_COMPATIBLE_URL": server.base_url, "SORA_STUDIO_DIALECT": dialect})
    library = Library(tmp_path / "library")
    return Jobs(discover_server(provider["compatible"], keep_models=False), library), library


def served(jobs: Jobs) -> str:
    """The model the server lists, which the studio took from /v1/models (vLLM-Omni refuses any other name)."""
    return jobs.provider.capabilities.models[0]


def made_elsewhere(jobs: Jobs, prompt: str) -> str:
    """A video another client made on the same server, which only the list can tell the studio about."""
    return jobs.provider.client(creating=True).videos.create(prompt=prompt, seconds="4").id


def until_done(jobs: Jobs, video_id: str, deadline: float = 90) -> VideoRecord:
    return wait_until(lambda: jobs.refresh(video_id),
                      lambda record: record.is_archived or record.status in ("failed", "timed_out"),
                      what=f"{video_id} to be archived or to fail", deadline=deadline, interval=0.1)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_create_poll_download_list_and_delete(start_threaded, tmp_path: Path, dialect: str) -> None:
    jobs, library = studio_on(start_threaded, tmp_path, dialect)
    [record] = jobs.submit(VideoRequest(prompt="A lighthouse at dusk, slow pan right", model=served(jobs),
                                        size="1280x720", seconds="4"))
    done = until_done(jobs, record.video_id)
    assert done.status == "completed" and done.is_archived
    clip = decode_mp4(library.path(done.video_path).read_bytes())  # type: ignore[arg-type]
    assert (clip.width, clip.height) == (1280, 720) and abs(clip.duration - 4) <= 1 / 24 + 1e-6

    elsewhere = made_elsewhere(jobs, "A harbour at night")
    report = jobs.sync()  # the list, in each server's shape
    assert elsewhere in report.added and not report.failed
    assert {record.video_id, elsewhere} <= {r.video_id for r in library.page(limit=50).records}

    jobs.delete(record.video_id, "both")  # gone from the server; the library copy waits in the trash
    trashed = library.get(record.video_id)
    assert trashed is not None and trashed.remote_deleted and trashed.trashed_at is not None
    assert record.video_id not in {r.video_id for r in library.page(limit=50).records}


@pytest.mark.parametrize("dialect", DIALECTS)
def test_an_image_reference_becomes_a_video(start_threaded, tmp_path: Path, dialect: str) -> None:
    jobs, library = studio_on(start_threaded, tmp_path, dialect)
    reference = fit(png_bytes(900, 600), "1280x720")
    [record] = jobs.submit(VideoRequest(prompt="The photo comes alive", model=served(jobs), size="1280x720",
                                        kind="image", reference=reference))
    assert until_done(jobs, record.video_id).status == "completed"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_failed_job_says_why_and_is_not_polled_forever(start_threaded, tmp_path: Path, dialect: str) -> None:
    jobs, library = studio_on(start_threaded, tmp_path, dialect, "--blocked-words", "gore")
    [record] = jobs.submit(VideoRequest(prompt="gore everywhere", model=served(jobs), size="1280x720"))
    failed = until_done(jobs, record.video_id)
    assert failed.status == "failed"
    problem = jobs.failure(failed)
    assert problem is not None and "moderation" in str(problem).lower()


@pytest.mark.parametrize("dialect", ["vllm-omni", "sglang"])
def test_a_mode_the_server_lacks_is_refused_plainly_and_then_hidden(start_threaded, tmp_path: Path,
                                                                    dialect: str) -> None:
    jobs, library = studio_on(start_threaded, tmp_path, dialect)
    [record] = jobs.submit(VideoRequest(prompt="A kite", model=served(jobs), size="1280x720"))
    until_done(jobs, record.video_id)
    with pytest.raises(errors.StudioError, match="does not offer remix"):
        jobs.submit(VideoRequest(prompt="A kite at night", kind="remix", source_video_id=record.video_id,
                                 model=served(jobs), size="1280x720"))
    # Known from the dialect (vLLM-Omni) or learned from the 404 (SGLang): either way no longer offered.
    known = "remix" not in jobs.provider.capabilities.actions()
    assert known or "remix" in library.absent_modes(jobs.provider.base_url)


@pytest.mark.parametrize("dialect", ["vllm-omni", "sglang"])
def test_fields_beyond_openais_reach_the_library(start_threaded, tmp_path: Path, dialect: str) -> None:
    jobs, library = studio_on(start_threaded, tmp_path, dialect)
    [record] = jobs.submit(VideoRequest(prompt="A kite", model=served(jobs), size="832x480", seconds="4"))
    kept = until_done(jobs, record.video_id)
    assert isinstance(kept.extra.get("inference_time_s"), float) and kept.extra.get("peak_memory_mb")
    assert Library(tmp_path / "library").get(record.video_id).extra == kept.extra  # kept, not dropped


def test_the_compatible_profile_takes_the_model_the_server_lists(start_threaded, tmp_path: Path) -> None:
    """vLLM-Omni refuses any model name but the one it serves ("Model mismatch"). With no SORA_STUDIO_MODELS and
    no dialect set, the studio reads that name from /v1/models and its video completes under it."""
    server = start_threaded("--dialect", "vllm-omni", "--poll-after-ms", "100")
    config = {"SORA_STUDIO_COMPATIBLE_URL": server.base_url}
    provider = discover_server(load_providers(config)["compatible"], keep_models="SORA_STUDIO_MODELS" in config)
    assert provider.capabilities.models == ("Wan-AI/Wan2.1-T2V-1.3B-Diffusers",)
    jobs = Jobs(provider, Library(tmp_path / "library"))
    [record] = jobs.submit(VideoRequest(prompt="A kite", model=provider.capabilities.models[0], size="832x480",
                                        seconds="4"))
    done = until_done(jobs, record.video_id)
    assert done.status == "completed" and done.model == "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"
