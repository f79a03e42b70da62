"""Jobs and the library against a real localsora: every job kind, variants, faults, sync, deletes, threads.

Over real HTTP: to the shared processes (`localsora`, `faulty_localsora`, `tiny_wan`), or to a server with flags of
the test's own, served on a loopback port from a thread (`start_threaded`)."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import openai
import pytest

from localsora.process import LocalsoraProcess, free_port
from studio import errors
from studio.jobs import Jobs, VideoRequest
from studio.library import Library, VideoRecord
from studio.media.images import fit
from studio.provider.discovery import discover
from studio.provider.error_mapping import from_sdk
from studio.provider.profiles import load_providers
from tests.conftest import TINY_WAN, local_jobs, run_until_settled, sdk_client, wait_for_video
from tests.media import decode_mp4, png_bytes
from tests.waiting import join_all


@pytest.fixture
def jobs(localsora: LocalsoraProcess, tmp_path: Path) -> Jobs:
    return local_jobs(localsora, tmp_path / "library")


@pytest.fixture
def finished(jobs: Jobs) -> VideoRecord:
    record = jobs.submit(VideoRequest(prompt="A yellow taxi in the rain, pan left", size="1280x720"))[0]
    return run_until_settled(jobs, record.video_id)


def test_text_job_lives_from_submit_to_archive(jobs: Jobs) -> None:
    [record] = jobs.submit(VideoRequest(prompt="A green hill at dawn, slow zoom in", size="1280x720"))
    assert record.status == "queued" and record.provider == "local" and record.cost_usd == 0.0
    assert jobs.library.get(record.video_id) is not None, "in the library the moment it exists"
    done = run_until_settled(jobs, record.video_id)
    assert done.status == "completed" and done.progress == 100
    clip = decode_mp4(jobs.library.path(done.video_path))
    assert (clip.width, clip.height) == (1280, 720) and abs(clip.duration - 4) <= 1 / 24 + 1e-6
    assert jobs.library.path(done.thumbnail_path).read_bytes()[8:12] == b"WEBP"
    assert jobs.library.path(done.spritesheet_path).read_bytes()[:2] == b"\xff\xd8"
    statuses = [h.status for h in jobs.library.history(done.video_id)]
    assert statuses[0] == "queued" and statuses[-1] == "completed"


def test_image_job_sends_the_fitted_reference(jobs: Jobs) -> None:
    fitted = fit(png_bytes(900, 1600, (240, 30, 30)), "720x1280", "cover")
    [record] = jobs.submit(VideoRequest(prompt="Animate the poster", kind="image", reference=fitted))
    assert jobs.library.path(record.reference_path).read_bytes() == fitted.data
    assert run_until_settled(jobs, record.video_id).status == "completed"
    repeat = jobs.request_of(record.video_id)
    assert repeat.reference is not None and repeat.reference.data == fitted.data


def test_a_wrong_size_reference_is_refused_before_any_request(jobs: Jobs, localsora: LocalsoraProcess) -> None:
    before = len(sdk_client(localsora).videos.list(limit=100).data)
    unfitted = fit(png_bytes(1280, 720), "1280x720", "cover")
    with pytest.raises(errors.SizeMismatch, match="720x1280"):
        jobs.submit(VideoRequest(prompt="x", size="720x1280", kind="image", reference=unfitted))
    assert len(sdk_client(localsora).videos.list(limit=100).data) == before


def test_remix_edit_and_extend_are_linked_to_their_parent(jobs: Jobs, finished: VideoRecord) -> None:
    source = finished.video_id
    jobs.library.update(source, folder="Spring launch")
    remix = jobs.submit(VideoRequest(prompt="Same taxi, purple neon", kind="remix", source_video_id=source))[0]
    edit = jobs.submit(VideoRequest(prompt="Make it black and white", kind="edit", source_video_id=source))[0]
    extend = jobs.submit(VideoRequest(prompt="The taxi drives away", kind="extend", added_seconds="4",
                                      source_video_id=source))[0]
    upload = jobs.library.path(finished.video_path).read_bytes()
    edit_upload = jobs.submit(VideoRequest(prompt="Warm it up", kind="edit", source_upload=("clip.mp4", upload)))[0]
    for record in (remix, edit, extend, edit_upload):
        done = run_until_settled(jobs, record.video_id)
        assert done.status == "completed" and done.is_archived, done.error_message
    assert {r.video_id for r in jobs.library.children(source)} == {remix.video_id, edit.video_id, extend.video_id}
    assert [jobs.library.get(r.video_id).folder for r in (remix, edit, extend, edit_upload)] == [
        "Spring launch", "Spring launch", "Spring launch", ""], "made from a filed video, filed with it"
    assert jobs.library.get(extend.video_id).seconds == "8"
    extended = decode_mp4(jobs.library.path(jobs.library.get(extend.video_id).video_path))
    assert extended.duration == pytest.approx(8, abs=0.05)
    assert jobs.request_of(extend.video_id).added_seconds == "4", "a retried extension adds the same seconds"
    assert jobs.library.path(jobs.library.get(edit_upload.video_id).source_upload_path).read_bytes() == upload


def test_variants_make_a_group(jobs: Jobs) -> None:
    records = jobs.submit(VideoRequest(prompt="Three takes of a sunrise", variants=3))
    assert len(records) == 3 and len({r.variant_group for r in records}) == 1
    assert [r.variant_index for r in records] == [0, 1, 2]
    assert [r.video_id for r in jobs.library.variants(records[0].variant_group)] == [r.video_id for r in records]


def test_rate_limit_waits_retry_after_then_creates_exactly_one_job(faults: LocalsoraProcess, tmp_path: Path) -> None:
    server = faults
    slept: list[float] = []
    jobs = local_jobs(server, tmp_path / "lib", sleep=slept.append)  # the waits are recorded, not slept
    server.faults(blocked_words=["cheap"], inject={"status": 429, "count": 2, "retry_after": 1.5,
                                                   "route": "POST /v1/videos"})
    waits: list[tuple[float, str]] = []
    [record] = jobs.submit(VideoRequest(prompt="cheap but rate limited"),
                           on_wait=lambda seconds, error: waits.append((seconds, str(error))))
    assert slept == [1.5, 1.5], "it waits what Retry-After says, before each new try"
    assert [round(w) for w, _ in waits] == [2, 2] and "Rate limited: retrying in" in waits[0][1]
    on_provider = [v.id for v in sdk_client(server).videos.list(limit=100) if v.prompt == "cheap but rate limited"]
    assert on_provider == [record.video_id], "never a duplicate job"


def test_rate_limit_longer_than_we_wait_is_a_clear_error(start_threaded, tmp_path: Path) -> None:
    server = start_threaded("--rate-limit", "1", "--rate-window", "600", "--blocked-words", "cheap")
    jobs = local_jobs(server, tmp_path / "lib", max_rate_wait=5)
    jobs.submit(VideoRequest(prompt="cheap one"))
    with pytest.raises(errors.RateLimited) as caught:
        jobs.submit(VideoRequest(prompt="cheap two"))
    assert caught.value.retry_after > 500 and "Rate limited" in str(caught.value)
    assert len(sdk_client(server).videos.list().data) == 1


def test_server_errors_on_create_are_typed_and_not_retried(faults: LocalsoraProcess, tmp_path: Path) -> None:
    jobs = local_jobs(faults, tmp_path / "lib")
    faults.faults(inject={"status": 500, "count": 1})
    with pytest.raises(errors.ServerError, match="500"):
        jobs.submit(VideoRequest(prompt="unlucky"))
    assert [v for v in sdk_client(faults).videos.list(limit=100) if v.prompt == "unlucky"] == []
    assert jobs.library.count() == 0


def test_injected_500s_while_polling_back_off_and_recover(faults: LocalsoraProcess, tmp_path: Path) -> None:
    faults.faults(render_delay=1)
    jobs = local_jobs(faults, tmp_path / "lib")
    [record] = jobs.submit(VideoRequest(prompt="Keep going"))
    faults.faults(inject={"status": 500, "count": 2})
    failed = jobs.refresh(record.video_id, force=True)
    assert failed.poll_failures == 1 and "error (500)" in (failed.last_poll_error or "")
    again = jobs.refresh(record.video_id, force=True)
    assert again.is_active and again.poll_failures == 2
    # Each failure books the next poll further out: 2 s, then 4 s (stamps from the library, no clock read here).
    first_wait, second_wait = (r.next_poll_at - r.updated_at for r in (failed, again))
    assert first_wait + 1 < second_wait, (first_wait, second_wait)
    assert jobs.refresh(record.video_id).poll_failures == 2, "not polled again while backing off"
    jobs.library.update(record.video_id, next_poll_at=0)  # the back-off is over
    done = run_until_settled(jobs, record.video_id)
    assert done.status == "completed" and done.last_poll_error is None and done.poll_failures == 0


def test_the_poll_back_off_stops_growing_at_its_cap(faults: LocalsoraProcess, tmp_path: Path) -> None:
    faults.faults(render_delay=1)
    jobs = local_jobs(faults, tmp_path / "lib", max_poll_backoff=3)
    [record] = jobs.submit(VideoRequest(prompt="Keep trying"))
    faults.faults(inject={"status": 500, "count": 3})
    waits = [(r.next_poll_at - r.updated_at) for r in (jobs.refresh(record.video_id, force=True) for _ in range(3))]
    # 2 s, then 4 and 8 s cut to the cap of 3 s (stamps from the library, no clock read here).
    assert waits[0] < 2.5 and all(2.5 < wait <= 3.1 for wait in waits[1:]), waits


def test_moderation_failure_is_kept_with_its_code(faults: LocalsoraProcess, tmp_path: Path) -> None:
    faults.faults(blocked_words=["forbidden"])
    jobs = local_jobs(faults, tmp_path / "lib")
    [record] = jobs.submit(VideoRequest(prompt="Something forbidden"))
    done = run_until_settled(jobs, record.video_id)
    assert done.status == "failed" and done.error_code == "moderation_blocked"
    error = jobs.failure(done)
    assert isinstance(error, errors.ModerationBlocked) and "rephrase" in str(error)


def test_provider_going_away_mid_poll_and_coming_back(start_threaded, tmp_path: Path) -> None:
    data_dir = tmp_path / "server"
    server = start_threaded("--render-delay", "2", data_dir=data_dir)
    jobs = local_jobs(server, tmp_path / "lib")
    [record] = jobs.submit(VideoRequest(prompt="Through the outage"))
    server.stop()
    during = jobs.refresh(record.video_id, force=True)
    assert during.is_active and "Backend unreachable" in (during.last_poll_error or "")
    start_threaded(data_dir=data_dir, port=server.port)
    recovered = jobs.refresh(record.video_id, force=True)
    assert recovered.last_poll_error is None
    assert run_until_settled(jobs, record.video_id).status == "completed"


def test_deadline_marks_timed_out_and_a_refresh_recovers(faults: LocalsoraProcess, tmp_path: Path) -> None:
    faults.faults(render_delay=2)
    jobs = local_jobs(faults, tmp_path / "lib", deadline_seconds=0)  # past its deadline from the start
    [record] = jobs.submit(VideoRequest(prompt="Slow"))
    timed_out = jobs.refresh(record.video_id, force=True)
    assert timed_out.status == "timed_out" and isinstance(jobs.failure(timed_out), errors.JobTimedOut)
    assert jobs.refresh(record.video_id).status == "timed_out", "no longer polled by itself"
    jobs.deadline_seconds = 600
    resumed = jobs.refresh(record.video_id, force=True)
    assert resumed.status in ("in_progress", "completed")
    assert run_until_settled(jobs, record.video_id).status == "completed"


def test_sync_fills_a_fresh_library(localsora: LocalsoraProcess, jobs: Jobs, finished: VideoRecord,
                                    tmp_path: Path) -> None:
    fresh = local_jobs(localsora, tmp_path / "fresh")
    steps: list[tuple[int, int]] = []
    report = fresh.sync(on_progress=lambda done, total: steps.append((done, total)))
    assert steps[-1] == (len(steps), len(report.archived) + len(report.failed)), "progress reaches the end"
    assert finished.video_id in report.added and finished.video_id in report.archived
    copy = fresh.library.get(finished.video_id)
    assert copy is not None and copy.prompt == finished.prompt and copy.is_archived
    assert fresh.library.path(copy.video_path).read_bytes() == jobs.library.path(finished.video_path).read_bytes()
    again = fresh.sync()
    assert again.added == [] and report.seen == again.seen


def test_sync_counts_a_download_the_worker_holds_as_in_the_background(localsora: LocalsoraProcess,
                                                                     finished: VideoRecord, tmp_path: Path) -> None:
    """Sync adds what it finds, and the background worker may start downloading it first: the report says so
    rather than counting it nowhere."""
    fresh = local_jobs(localsora, tmp_path / "fresh")
    copy = replace(finished, video_path=None, thumbnail_path=None, spritesheet_path=None, next_poll_at=0)
    fresh.library.add(copy)  # known, not yet downloaded
    with fresh.library.download_lock(copy.video_id) as held:  # the worker's download, alive: its lock and claim
        assert held and fresh.library.claim_poll(copy.video_id, time.time(), time.time() + 600)
        report = fresh.sync()
    assert copy.video_id in report.downloading_elsewhere and copy.video_id not in report.archived
    assert "1 being downloaded in the background" in report.summary


def test_a_video_the_provider_no_longer_has_is_edited_and_extended_from_its_library_copy(jobs: Jobs) -> None:
    """A storyboard's film, or a video deleted on the provider, is still in the library: an edit or an extension
    sends its MP4 and keeps the lineage; a remix, which needs the provider's copy, is refused and says why."""
    made = run_until_settled(jobs, jobs.submit(VideoRequest(prompt="A paper boat on a canal, static shot"))[0].video_id)
    jobs.delete(made.video_id, "provider")  # gone there, kept here
    with pytest.raises(errors.InvalidInput, match="only in this library.*Edit or extend it instead"):
        jobs.submit(VideoRequest(prompt="At night", kind="remix", source_video_id=made.video_id))
    [edited] = jobs.submit(VideoRequest(prompt="Make the water green", kind="edit", model=made.model, size=made.size,
                                        source_video_id=made.video_id))
    [extended] = jobs.submit(VideoRequest(prompt="The boat drifts on", kind="extend", added_seconds="4",
                                          model=made.model, size=made.size, source_video_id=made.video_id))
    for job in (edited, extended):  # the provider would have answered 404 for the id: the file was sent
        done = run_until_settled(jobs, job.video_id)
        assert done.is_archived and done.parent_video_id == made.video_id, done.error_message
    assert decode_mp4(jobs.library.path(jobs.library.get(extended.video_id).video_path)).duration \
        == pytest.approx(float(made.seconds) + 4, abs=0.1)


def test_deletes_in_each_scope(jobs: Jobs, localsora: LocalsoraProcess) -> None:
    made = [run_until_settled(jobs, jobs.submit(VideoRequest(prompt=f"Delete me {n}"))[0].video_id)
            for n in range(3)]
    client = sdk_client(localsora)
    provider_only, local_only, both = made

    jobs.delete(provider_only.video_id, "provider")
    kept = jobs.library.get(provider_only.video_id)
    assert kept.remote_deleted and jobs.library.path(kept.video_path).exists()
    assert provider_only.video_id not in [v.id for v in client.videos.list(limit=100)]

    jobs.delete(local_only.video_id, "local")  # to the trash: out of the gallery, files kept to restore
    trashed = jobs.library.get(local_only.video_id)
    assert trashed.trashed_at is not None and jobs.library.path(trashed.video_path).exists()
    assert local_only.video_id not in [r.video_id for r in jobs.library.page().records]
    assert client.videos.retrieve(local_only.video_id).status == "completed"

    jobs.delete(both.video_id, "both")
    assert jobs.library.get(both.video_id).trashed_at is not None
    assert both.video_id not in [v.id for v in client.videos.list(limit=100)]


def test_sync_updates_and_archives_a_job_it_knew_as_in_progress(start_threaded, tmp_path: Path) -> None:
    server = start_threaded()
    jobs = local_jobs(server, tmp_path / "lib")
    [record] = jobs.submit(VideoRequest(prompt="Finished while the studio was closed"))
    jobs.library.update(record.video_id, status="in_progress", progress=40)  # last seen mid-render
    assert wait_for_video(sdk_client(server), record.video_id).status == "completed"
    report = jobs.sync()
    assert report.added == [] and report.archived == [record.video_id], report
    synced = jobs.library.get(record.video_id)
    assert synced.status == "completed" and synced.progress == 100 and synced.is_archived
    assert decode_mp4(jobs.library.path(synced.video_path)).duration == pytest.approx(4, abs=0.05)


def test_delete_of_a_video_the_provider_already_lost(jobs: Jobs, finished: VideoRecord,
                                                     localsora: LocalsoraProcess) -> None:
    sdk_client(localsora).videos.delete(finished.video_id)  # gone behind the studio's back
    said = jobs.delete(finished.video_id, "both")
    assert "no longer had it" in said and "Moved to the trash" in said
    assert jobs.library.get(finished.video_id).trashed_at is not None


def test_a_500_on_delete_keeps_everything_and_says_so(faults: LocalsoraProcess, tmp_path: Path) -> None:
    jobs = local_jobs(faults, tmp_path / "lib")
    record = run_until_settled(jobs, jobs.submit(VideoRequest(prompt="Hard to delete"))[0].video_id)
    # Three: the SDK itself retries a delete twice.
    faults.faults(inject={"status": 500, "count": 3, "route": f"DELETE /v1/videos/{record.video_id}"})
    with pytest.raises(errors.ServerError, match="500"):
        jobs.delete(record.video_id, "both")
    kept = jobs.library.get(record.video_id)
    assert kept is not None and not kept.remote_deleted and jobs.library.path(kept.video_path).exists()
    assert sdk_client(faults).videos.retrieve(record.video_id).status == "completed", "still on the provider"
    assert "Deleted from" in jobs.delete(record.video_id, "both"), "a second try goes through"
    assert jobs.library.get(record.video_id).trashed_at is not None


def cut_download(server: LocalsoraProcess, tmp_path: Path) -> tuple[Jobs, str]:
    """A finished job whose next download localsora sends half of, then drops the connection."""
    jobs = local_jobs(server, tmp_path / "lib")
    [record] = jobs.submit(VideoRequest(prompt="Cut off halfway"))
    assert wait_for_video(sdk_client(server), record.video_id).status == "completed"
    server.faults(cut_downloads=1)
    return jobs, record.video_id


def test_a_download_cut_off_midway_leaves_no_video_and_a_later_refresh_archives_it(
        faults: LocalsoraProcess, tmp_path: Path) -> None:
    jobs, video_id = cut_download(faults, tmp_path)
    cut = jobs.refresh(video_id, force=True)  # the job panel's refresh: one job's trouble stays its own
    assert cut.status == "completed" and not cut.is_archived and cut.video_path is None
    assert cut.last_poll_error, "the record says why it has no file yet"
    assert sorted(p.name for p in jobs.library.folder_for(video_id).iterdir()) == [], \
        "no truncated video.mp4, and no part file left behind"
    assert [r.video_id for r in jobs.library.unarchived()] == [video_id], "kept for the next tick"
    jobs.refresh_active()  # the job panel's next tick
    done = jobs.library.get(video_id)
    assert done.is_archived and done.last_poll_error is None
    assert decode_mp4(jobs.library.path(done.video_path)).duration == pytest.approx(4, abs=0.05)


def test_two_threads_refreshing_one_job(jobs: Jobs) -> None:
    [record] = jobs.submit(VideoRequest(prompt="Contested"))
    failures: list[BaseException] = []

    def poll() -> None:
        try:
            run_until_settled(jobs, record.video_id)
        except BaseException as exc:  # re-raised below
            failures.append(exc)

    threads = [threading.Thread(target=poll) for _ in range(2)]
    for thread in threads:
        thread.start()
    join_all(threads, what="both refreshing threads to see the job settle")
    assert failures == []
    done = jobs.library.get(record.video_id)
    assert done.status == "completed" and jobs.library.path(done.video_path).exists()
    assert [h.note for h in jobs.library.history(record.video_id)].count("archived") == 1
    leftovers = [p.name for p in jobs.library.folder_for(record.video_id).iterdir() if p.name.endswith(".part")]
    assert leftovers == []


def test_unsupported_actions_and_bad_keys_are_typed(start_threaded, tmp_path: Path) -> None:
    server = start_threaded(api_key="the-right-key")
    library = Library(tmp_path / "lib")
    azure = load_providers({"AZURE_OPENAI_ENDPOINT": server.root_url, "AZURE_OPENAI_API_KEY": "x"})["azure"]
    with pytest.raises(errors.UnsupportedParameter, match="does not offer extend"):
        Jobs(azure, library).submit(VideoRequest(prompt="x", kind="extend", source_video_id="video_x"))
    wrong = load_providers({"OPENAI_API_KEY": "wrong", "OPENAI_BASE_URL": server.base_url})["openai"]
    with pytest.raises(errors.AccessDenied, match="401"):
        Jobs(wrong, library).submit(VideoRequest(prompt="x"))
    with pytest.raises(errors.PromptRejected):
        Jobs(wrong, library).submit(VideoRequest(prompt="   "))


def test_refused_connections_are_retried_then_reported(tmp_path: Path) -> None:
    closed = load_providers({"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1"})["openai"]
    waits: list[float] = []
    jobs = Jobs(closed, Library(tmp_path / "lib"), sleep=waits.append)
    with pytest.raises(errors.BackendUnreachable, match="nothing answers there"):
        jobs.submit(VideoRequest(prompt="Nobody home"))
    assert waits == [2, 4, 8], "a refused connection cannot have made a job, so it is tried again"
    assert jobs.library.count() == 0


def test_polls_wait_for_openai_poll_after_ms(start_threaded, tmp_path: Path) -> None:
    server = start_threaded("--poll-after-ms", "5000")
    jobs = local_jobs(server, tmp_path / "lib")
    [record] = jobs.submit(VideoRequest(prompt="Patient"))
    polled = jobs.refresh(record.video_id, force=True)
    assert polled.is_active
    # The next poll is booked 5 s after this poll began (both stamps are the library's own, from this refresh;
    # the gap is 5 s less the poll's own round trip).
    assert 4 < polled.next_poll_at - polled.updated_at <= 5
    wait_for_video(sdk_client(server), record.video_id)
    assert jobs.refresh(record.video_id).status == polled.status, "not polled again before the server said"
    jobs.library.update(record.video_id, next_poll_at=0)  # the time the server named has come
    assert run_until_settled(jobs, record.video_id, deadline=30).status == "completed"


def test_missing_thumbnail_and_spritesheet_are_tolerated(localsora: LocalsoraProcess, jobs: Jobs) -> None:
    [record] = jobs.submit(VideoRequest(prompt="A gateway with only the MP4"))
    assert wait_for_video(sdk_client(localsora), record.video_id).status == "completed"
    served = localsora.data_dir / "videos" / record.video_id
    (served / "thumbnail.webp").unlink()
    (served / "spritesheet.jpg").unlink()
    done = run_until_settled(jobs, record.video_id)
    assert done.is_archived, "the MP4 alone is enough"
    assert jobs.library.path(done.thumbnail_path).read_bytes()[8:12] == b"WEBP", "made from the video instead"
    assert jobs.library.path(done.spritesheet_path).read_bytes()[:3] == b"\xff\xd8\xff", "a JPEG strip, made here"


def test_a_job_deleted_on_the_provider_fails_cleanly(localsora: LocalsoraProcess, jobs: Jobs) -> None:
    [record] = jobs.submit(VideoRequest(prompt="Deleted behind our back"))
    sdk_client(localsora).videos.delete(record.video_id)
    gone = jobs.refresh(record.video_id, force=True)
    assert gone.status == "failed" and gone.error_code == "not_found"
    assert "Not found on the provider" in (gone.error_message or "")


def test_provider_400s_become_typed_errors(localsora: LocalsoraProcess, jobs: Jobs) -> None:
    client = sdk_client(localsora)
    with pytest.raises(openai.BadRequestError) as size_error:
        client.videos.create(prompt="x", size="1280x720", input_reference=("r.png", png_bytes(640, 480), "image/png"))
    mapped = from_sdk(size_error.value, jobs.provider)
    assert isinstance(mapped, errors.SizeMismatch) and "640x480" in str(mapped)
    with pytest.raises(openai.BadRequestError) as seconds_error:
        client.videos.create(prompt="x", seconds="5")  # type: ignore[arg-type]
    mapped = from_sdk(seconds_error.value, jobs.provider)
    assert isinstance(mapped, errors.UnsupportedParameter) and "'4', '8', and '12'" in str(mapped)


def discovered_jobs(server: LocalsoraProcess, data_dir: Path) -> Jobs:
    """Jobs on the local profile as the studio builds it: with what the server says it offers."""
    provider = load_providers({"LOCALSORA_URL": server.root_url})["local"]
    caps = discover(provider.client(), provider.capabilities)
    assert caps is not None
    return Jobs(provider.with_capabilities(caps), Library(data_dir))


def test_advanced_parameters_reach_the_model_and_retry_sends_them_again(tiny_wan: LocalsoraProcess,
                                                                      tmp_path: Path) -> None:
    jobs = discovered_jobs(tiny_wan, tmp_path / "lib")
    params = {"seed": 1234, "negative_prompt": "blurry", "num_inference_steps": 2, "guidance_scale": 4.5}
    [record] = jobs.submit(VideoRequest(prompt="a red car on a street", model=TINY_WAN, size="96x64",
                                        seconds="1", params=params))
    assert record.params == params and record.seed == 1234
    done = run_until_settled(jobs, record.video_id)
    assert done.status == "completed", done.error_message
    client = jobs.provider.client()  # not strict: the SDK's types allow only Sora's sizes and seconds
    assert client.videos.retrieve(record.video_id).model_extra["seed"] == 1234
    clip = decode_mp4(jobs.library.path(done.video_path))
    assert (clip.width, clip.height) == (96, 64) and clip.audio_codec is None
    assert jobs.request_of(record.video_id).params == params, "kept in the library for Retry"
    [again] = jobs.retry(record.video_id)
    assert again.params == params and client.videos.retrieve(again.video_id).model_extra["seed"] == 1234
    run_until_settled(jobs, again.video_id)


def test_what_the_model_does_not_offer_is_refused_before_sending(tiny_wan: LocalsoraProcess, tmp_path: Path) -> None:
    jobs = discovered_jobs(tiny_wan, tmp_path / "lib")
    fitted = fit(png_bytes(96, 64), "96x64")
    with pytest.raises(errors.UnsupportedParameter, match="does not offer image to video"):
        jobs.submit(VideoRequest(prompt="x", model=TINY_WAN, size="96x64", seconds="1", kind="image",
                                 reference=fitted))
    with pytest.raises(errors.UnsupportedParameter, match="does not offer extend"):
        jobs.submit(VideoRequest(prompt="x", kind="extend", added_seconds="4", source_video_id="video_x"))
    with pytest.raises(errors.UnsupportedParameter, match="does not take motion_bucket_id"):  # Stable Video's
        jobs.submit(VideoRequest(prompt="x", model=TINY_WAN, size="96x64", seconds="1",
                                 params={"motion_bucket_id": 127}))
    assert jobs.library.count() == 0


def test_variants_get_distinct_seeds(tiny_wan: LocalsoraProcess, tmp_path: Path) -> None:
    jobs = discovered_jobs(tiny_wan, tmp_path / "lib")
    base = VideoRequest(prompt="a dog running on a beach", model=TINY_WAN, size="64x64", seconds="1", variants=3,
                        params={"num_inference_steps": 2})
    chosen = jobs.submit(replace(base, params={**base.params, "seed": 4294967294}))
    # The chosen seed, then the next ones; past the top of the range it wraps to the bottom.
    assert [r.seed for r in chosen] == [4294967294, 4294967295, 0]
    random = jobs.submit(base)
    assert len({r.seed for r in random}) == 3 and all(r.seed is not None for r in random)
    client = jobs.provider.client()
    for record in chosen + random:
        assert client.videos.retrieve(record.video_id).model_extra["seed"] == record.seed
        assert record.params["seed"] == record.seed, "each take repeats its own seed on Retry"
        assert run_until_settled(jobs, record.video_id).status == "completed"


def test_a_seed_also_goes_with_remix_and_as_a_multipart_field(jobs: Jobs, finished: VideoRecord) -> None:
    provider = jobs.provider.with_capabilities(discover(jobs.provider.client(), jobs.provider.capabilities))
    jobs = Jobs(provider, jobs.library)
    client = provider.client()
    [remix] = jobs.submit(VideoRequest(prompt="Same taxi at night", kind="remix", source_video_id=finished.video_id,
                                       params={"seed": 77}))
    fitted = fit(png_bytes(720, 1280), "720x1280")
    [image] = jobs.submit(VideoRequest(prompt="Animate it", kind="image", reference=fitted, params={"seed": 78}))
    clip = jobs.library.path(finished.video_path).read_bytes()
    [upload] = jobs.submit(VideoRequest(prompt="Warm it up", kind="edit", params={"seed": 79},
                                        source_upload=("clip.mp4", clip)))
    assert [client.videos.retrieve(r.video_id).model_extra["seed"] for r in (remix, image, upload)] == [77, 78, 79]


class DotIdProvider:
    """A tiny HTTP server that gives jobs ids the SDK cannot address ('..'), next to a normal one (issue 10)."""

    def __init__(self) -> None:
        import json
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        def video(video_id: str, status: str) -> dict[str, object]:
            return {"id": video_id, "object": "video", "model": "sora-2", "status": status, "progress": 100,
                    "created_at": int(time.time()), "completed_at": None, "expires_at": None, "size": "720x1280",
                    "seconds": "4", "prompt": "A kite", "remixed_from_video_id": None,
                    "error": {"code": "x", "message": "failed upstream"} if status == "failed" else None}

        class Handler(BaseHTTPRequestHandler):
            def answer(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                if self.path.startswith("/v1/videos?") or self.path == "/v1/videos":
                    data = [video("..", "completed"), video(".", "queued"), video("video_fine0001", "failed")]
                    self.answer(200, {"object": "list", "data": data, "has_more": False,
                                      "first_id": "..", "last_id": "video_fine0001"})
                else:
                    self.answer(404, {"error": {"message": "no", "type": "x", "param": None, "code": None}})

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("content-length") or 0))
                self.answer(200, video("..", "queued"))

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.root_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_an_id_the_sdk_cannot_address_fails_cleanly_and_stops_nothing(tmp_path: Path) -> None:
    provider = DotIdProvider()
    try:
        jobs = Jobs(load_providers({"LOCALSORA_URL": provider.root_url})["local"], Library(tmp_path / "lib"))
        [submitted] = jobs.submit(VideoRequest(prompt="A kite", size="720x1280"))
        assert submitted.status == "failed" and jobs.refresh(submitted.video_id).status == "failed"
        report = jobs.sync()
        assert set(report.added) == {".", "video_fine0001"} and report.failed == {}, report
        for video_id in ("..", "."):
            record = jobs.library.get(video_id)
            assert record is not None and record.status == "failed" and "no request can address" in (
                record.error_message or "")
        assert jobs.refresh_active() == [] and jobs.sync().failed == {}
        assert "stays there" in jobs.delete("..", "both")
        assert jobs.library.get("..").trashed_at is not None and jobs.library.get("video_fine0001").trashed_at is None
    finally:
        provider.server.shutdown()
