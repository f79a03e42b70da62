"""The studio through the real LiteLLM proxy (litellm[proxy] 1.108.7, pip-installed into .venv-litellm) in front
of localsora workers: what the proxy routes, checked rather than read, and the studio's flows through it,
degrading where the gateway lacks an operation (no list, no delete, no thumbnail variant). docs/providers.md's
LiteLLM section and its "Team scale" point here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai import OpenAI
from openai.types import Video
from playwright.sync_api import Playwright, expect

from localsora.process import LocalsoraProcess
from studio.jobs import Jobs, VideoRequest
from studio.library import Library, VideoRecord
from studio.media.images import fit
from studio.provider.connection_check import check_connection
from studio.provider.discovery import discover_server
from studio.provider.profiles import load_providers
from tests.e2e_support import PageWatch, StudioApp, assert_no_exception_box, generate, go_to, open_studio, playing_video
from tests.in_process import ThreadedLocalsora
from tests.litellm_proxy import LiteLLMProxy
from tests.media import decode_mp4, image_format, png_bytes
from tests.waiting import wait_until

# The SDK warns on every videos call that OpenAI's hosted API is gone; these calls go to the proxy.
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.xdist_group("litellm")]  # one proxy and its two workers, started once


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[LocalsoraProcess]]:
    started = [ThreadedLocalsora(tmp_path_factory.mktemp(f"worker{n}"), args=["--poll-after-ms", "100"]).start()
               for n in range(2)]
    yield started
    for worker in started:
        worker.stop()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory, workers: list[LocalsoraProcess]) -> Iterator[LiteLLMProxy]:
    """One proxy, one model group spread over both workers, as a team shares two GPU boxes: follow-ups by id are
    pinned to the worker that made the job, so every test here runs through the load balancing."""
    with LiteLLMProxy(tmp_path_factory.mktemp("litellm"), [w.base_url for w in workers]) as started:
        yield started


def sdk(proxy: LiteLLMProxy) -> OpenAI:
    return OpenAI(base_url=proxy.base_url, api_key=proxy.api_key, max_retries=0)


def finished(client: OpenAI, video_id: str) -> Video:
    return wait_until(lambda: client.videos.retrieve(video_id), lambda v: v.status in ("completed", "failed"),
                      what=f"{video_id} to finish behind the proxy", deadline=90, interval=0.2)


def studio_through(proxy: LiteLLMProxy, tmp_path: Path) -> tuple[Jobs, Library]:
    provider = load_providers({"SORA_STUDIO_COMPATIBLE_URL": proxy.base_url,
                               "SORA_STUDIO_COMPATIBLE_API_KEY": proxy.api_key})["compatible"]
    library = Library(tmp_path / "library")
    return Jobs(discover_server(provider, keep_models=False), library), library


def settled(jobs: Jobs, video_id: str) -> VideoRecord:
    return wait_until(lambda: jobs.refresh(video_id),
                      lambda r: r.is_archived or r.status in ("failed", "timed_out"),
                      what=f"{video_id} to be archived", deadline=90, interval=0.2)


def test_what_the_real_proxy_routes_and_what_it_does_not(proxy: LiteLLMProxy) -> None:
    """The facts docs/providers.md states, each from the real proxy: if a LiteLLM release changes one, this fails
    and the docs and the dialect (studio/provider/dialects.py) are due a look."""
    client = sdk(proxy)
    video = finished(client, client.videos.create(model="sora-2", prompt="A red kite", seconds="4",
                                                  size="1280x720").id)
    assert video.status == "completed" and video.id.startswith("video_") and len(video.id) > 100  # its own ids
    mp4 = client.videos.download_content(video.id).content
    assert decode_mp4(mp4).width == 1280
    # `variant` is dropped: the thumbnail and the spritesheet come back as the MP4 itself.
    thumbnail = client.videos.with_raw_response.download_content(video.id, variant="thumbnail")
    assert thumbnail.headers["content-type"] == "video/mp4"
    assert thumbnail.http_response.content == mp4
    # No list that reaches the deployments, and no delete route.
    with pytest.raises(Exception) as listed:
        client.videos.list(limit=5)
    assert getattr(listed.value, "status_code", None) == 400 and "LLM Provider NOT provided" in str(listed.value)
    with pytest.raises(Exception) as deleted:
        client.videos.delete(video.id)
    assert getattr(deleted.value, "status_code", None) == 405
    # Follow-ups by id are pinned to the worker that made the job.
    assert finished(client, client.videos.remix(video.id, prompt="A blue kite").id).status == "completed"
    # An edit sent as an upload carries no id to route by: it goes to api.openai.com (unreachable: 500) unless
    # `model` names the deployment group, which is what the studio sends.
    with pytest.raises(Exception) as unrouted:
        client.videos.edit(prompt="Make it dusk", video=("source.mp4", mp4, "video/mp4"))
    assert getattr(unrouted.value, "status_code", None) == 500 and "api.openai.com" in str(unrouted.value)
    routed = client.videos.edit(prompt="Make it dusk", video=("source.mp4", mp4, "video/mp4"),
                                extra_body={"model": "sora-2"})
    assert finished(client, routed.id).status == "completed"
    # The extra fields a model takes pass through, and the server's own refusal comes back as a 400.
    seeded = client.videos.create(model="sora-2", prompt="A red kite", seconds="4", extra_body={"seed": 7})
    assert finished(client, seeded.id).status == "completed"
    with pytest.raises(Exception) as refused:
        client.videos.create(model="sora-2", prompt="x", seconds="4", extra_body={"negative_prompt": "blur"})
    assert getattr(refused.value, "status_code", None) == 400 and "negative_prompt" in str(refused.value)


def test_connection_check_finds_the_proxy_and_says_what_it_lacks(proxy: LiteLLMProxy) -> None:
    provider = load_providers({"SORA_STUDIO_COMPATIBLE_URL": proxy.base_url,
                               "SORA_STUDIO_COMPATIBLE_API_KEY": proxy.api_key})["compatible"]
    report = check_connection(provider)
    assert report.ok, report.reason
    assert report.dialect == "litellm" and "LiteLLM" in report.dialect_evidence
    assert "follows its own jobs one by one" in report.reason
    assert "sora-2" in report.models


def test_the_studio_makes_remixes_edits_and_extends_through_the_proxy(proxy: LiteLLMProxy, tmp_path: Path) -> None:
    jobs, library = studio_through(proxy, tmp_path)
    assert jobs.provider.dialect == "litellm"
    [made] = jobs.submit(VideoRequest(prompt="A lighthouse at dusk, slow pan right", model="sora-2",
                                      size="1280x720", seconds="4"))
    done = settled(jobs, made.video_id)
    assert done.status == "completed" and done.is_archived
    assert decode_mp4(library.path(done.video_path).read_bytes()).width == 1280  # type: ignore[union-attr]
    # The proxy served the MP4 for both stills: the studio made them from the video.
    assert image_format(library.path(done.thumbnail_path).read_bytes()) == "WEBP"  # type: ignore[union-attr]
    assert image_format(library.path(done.spritesheet_path).read_bytes()) == "JPEG"  # type: ignore[union-attr]

    reference = fit(png_bytes(900, 600), "1280x720")
    [animated] = jobs.submit(VideoRequest(prompt="The photo comes alive", model="sora-2", size="1280x720",
                                          kind="image", reference=reference))
    follow_ups = [
        VideoRequest(prompt="Now at night", model="sora-2", size="1280x720", kind="remix",
                     source_video_id=done.video_id),
        VideoRequest(prompt="Make the sea green", model="sora-2", size="1280x720", kind="edit",
                     source_video_id=done.video_id),
        VideoRequest(prompt="The light turns on", model="sora-2", size="1280x720", kind="extend",
                     source_video_id=done.video_id, seconds="8", added_seconds="4"),
    ]
    made_next = [animated] + [record for request in follow_ups for record in jobs.submit(request)]
    outcomes = {record.kind: settled(jobs, record.video_id) for record in made_next}
    assert {kind: r.status for kind, r in outcomes.items()} == {
        "image": "completed", "remix": "completed", "edit": "completed", "extend": "completed"}
    extended = decode_mp4(library.path(outcomes["extend"].video_path).read_bytes())  # type: ignore[union-attr]
    assert abs(extended.duration - 8) <= 0.1


def test_sync_and_delete_degrade_and_say_so(proxy: LiteLLMProxy, tmp_path: Path) -> None:
    jobs, library = studio_through(proxy, tmp_path)
    [record] = jobs.submit(VideoRequest(prompt="A harbour at night", model="sora-2", size="1280x720", seconds="4"))
    report = jobs.sync()  # no list: the job the library follows is asked for by id, and downloaded once done
    assert not report.failed and "does not list its videos" in report.summary
    wait_until(lambda: (jobs.sync(), library.get(record.video_id))[1], lambda r: r is not None and r.is_archived,
               what="sync to archive the job it follows", deadline=60, interval=0.3)

    said = jobs.delete(record.video_id, "both")
    assert "has no delete" in said and "expires by itself" in said
    trashed = library.get(record.video_id)  # the library copy goes to the trash, as asked, with no error
    assert trashed is not None and trashed.trashed_at is not None and not trashed.remote_deleted
    assert record.video_id not in {r.video_id for r in library.page(limit=50).records}


def test_two_workers_behind_one_url_share_ten_jobs_each_archived_once(
        proxy: LiteLLMProxy, workers: list[LocalsoraProcess], tmp_path: Path) -> None:
    """Team scale: the studio sees one URL; the proxy spreads the creates over both GPU boxes."""
    jobs, library = studio_through(proxy, tmp_path)
    before = [_count_on(worker) for worker in workers]
    made = [record for n in range(10)
            for record in jobs.submit(VideoRequest(prompt=f"Shot {n} of the launch", model="sora-2",
                                                   size="1280x720", seconds="4"))]
    done = [settled(jobs, record.video_id) for record in made]
    assert all(r.status == "completed" and r.is_archived for r in done)
    per_worker = [_count_on(worker) - was for worker, was in zip(workers, before, strict=True)]
    assert sum(per_worker) == 10 and min(per_worker) > 0, per_worker
    for record in done:  # archived once: one "archived" entry each, and no second download
        assert [h.note for h in library.history(record.video_id)].count("archived") == 1
    assert jobs.refresh_active() == []


def _count_on(worker: LocalsoraProcess) -> int:
    """Jobs a worker holds, asked of it directly (the proxy cannot list them)."""
    client = OpenAI(base_url=worker.base_url, api_key="local", max_retries=0)
    return sum(1 for _ in client.videos.list(limit=100))


@pytest.mark.e2e
def test_a_marketer_makes_a_video_through_the_proxy_in_the_browser(
        proxy: LiteLLMProxy, workers: list[LocalsoraProcess], playwright: Playwright, watch: PageWatch,
        tmp_path: Path) -> None:
    """The studio configured as a team would: one compatible URL (the proxy) and its key; prompt → video plays,
    then Sync explains the proxy's missing list instead of failing."""
    env = {"SORA_STUDIO_PROVIDER": "compatible", "SORA_STUDIO_COMPATIBLE_URL": proxy.base_url,
           "SORA_STUDIO_COMPATIBLE_API_KEY": proxy.api_key}
    studio = StudioApp(tmp_path / "data", workers[0], tmp_path / "streamlit.log", env=env).start()
    try:
        context, page = open_studio(playwright, studio.url, watch)
        go_to(page, "Text to video")
        generate(page, "A paper boat on a rain puddle, close up")
        video = playing_video(page)
        assert video["readyState"] >= 2 and abs(video["duration"] - 4.0) <= 0.2
        go_to(page, "Gallery")
        page.get_by_role("button", name="Sync").click()
        expect(page.get_by_text(re.compile("does not list its videos"))).to_be_visible(timeout=30_000)
        assert_no_exception_box(page)
        context.close()
    finally:
        studio.stop()
