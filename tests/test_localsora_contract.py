"""localsora honours the Videos API contract: the real SDK with strict validation, and real files.

Over real HTTP to the shared `localsora` process where that server will do; a server with flags of its own runs in
process (`start_app`, behind a TestClient); a restart that must survive a SIGKILL or a new process runs as one."""

from __future__ import annotations

import httpx
import httpx2
import numpy as np
import openai
import pytest
from openai import OpenAI
from openai.types import Video

from localsora.process import LocalsoraProcess
from tests.conftest import sdk_client, wait_for_video
from tests.in_process import AppTransport
from tests.media import (
    decode_mp4,
    decoded_frames,
    frames_differ,
    image_format,
    png_bytes,
    sound_of,
    top_level_boxes,
)
from tests.waiting import wait_until


def test_text_job_runs_to_completion_with_poll_header(client: OpenAI) -> None:
    raw = client.videos.with_raw_response.create(prompt="A teal ocean at night, static shot", seconds="4")
    created = raw.parse()
    assert created.status == "queued" and created.progress == 0
    assert created.size == "720x1280" and created.seconds == "4" and created.model == "sora-2"
    assert created.expires_at == created.created_at + 24 * 3600
    retrieved = client.videos.with_raw_response.retrieve(created.id)
    assert int(retrieved.headers["openai-poll-after-ms"]) > 0
    done = wait_for_video(client, created.id)
    assert done.status == "completed" and done.progress == 100
    assert done.completed_at is not None and done.completed_at >= done.created_at
    assert done.prompt == "A teal ocean at night, static shot"


def test_video_content_is_a_real_mp4_of_the_requested_size(client: OpenAI, completed_video: Video) -> None:
    with client.videos.with_streaming_response.download_content(completed_video.id) as response:
        assert response.headers["content-type"] == "video/mp4"
        data = response.read()
    clip = decode_mp4(data)
    assert (clip.width, clip.height) == (1280, 720)
    assert abs(clip.duration - 4.0) <= 1 / 24 + 1e-6
    assert clip.video_codec == "h264" and clip.pixel_format == "yuv420p"
    assert clip.audio_codec == "aac"
    assert frames_differ(data)
    boxes = top_level_boxes(data)
    assert boxes.index("moov") < boxes.index("mdat"), boxes


def test_previz_takes_sound_false_and_an_audio_prompt(client: OpenAI) -> None:
    """previz keeps its synthesized tone, and honours the sound fields: no track at all where sound is false, and a
    tone an audio_prompt chooses (the same words, the same tone) under a picture that still follows the prompt."""

    def render(**fields: object) -> bytes:
        video = client.videos.create(prompt="A teal ocean at night", seconds="4", size="1280x720",
                                     extra_body={"seed": 11, **fields})
        done = wait_for_video(client, video.id)
        assert done.status == "completed", done.error
        return client.videos.download_content(video.id).read()

    silent = decode_mp4(render(sound=False))
    assert silent.audio_codec is None and silent.frames == 96
    plain, thunder = render(), render(audio_prompt="thunder over a dark sea")
    assert decode_mp4(thunder).audio_codec == "aac"
    assert sound_of(render(audio_prompt="thunder over a dark sea")).tobytes() == sound_of(thunder).tobytes()
    assert float(np.abs(sound_of(thunder) - sound_of(plain)).mean()) > 0.01  # another tone
    assert decoded_frames(thunder)[48].tolist() == decoded_frames(plain)[48].tolist()  # the same picture


def test_thumbnail_is_webp_and_spritesheet_is_jpeg(client: OpenAI, completed_video: Video) -> None:
    thumb = client.videos.with_raw_response.download_content(completed_video.id, variant="thumbnail")
    assert thumb.headers["content-type"] == "image/webp"
    assert image_format(thumb.content) == "WEBP"
    sprites = client.videos.with_raw_response.download_content(completed_video.id, variant="spritesheet")
    assert sprites.headers["content-type"] == "image/jpeg"
    assert image_format(sprites.content) == "JPEG"


def test_mp4_supports_range_requests_for_seeking(localsora: LocalsoraProcess, completed_video: Video) -> None:
    url = f"{localsora.base_url}/videos/{completed_video.id}/content"
    whole = httpx.get(url)
    part = httpx.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole.content)}"
    assert part.content == whole.content[100:200]


def test_reference_image_of_the_exact_size_is_animated(client: OpenAI) -> None:
    video = client.videos.create(prompt="Slow zoom in on the poster", size="1280x720", seconds="4",
                                 input_reference=("poster.png", png_bytes(1280, 720, (20, 200, 40)), "image/png"))
    done = wait_for_video(client, video.id)
    assert done.status == "completed"
    data = client.videos.download_content(video.id).read()
    clip = decode_mp4(data)
    assert (clip.width, clip.height) == (1280, 720)


def test_remix_makes_a_linked_job_of_the_same_shape(client: OpenAI, completed_video: Video) -> None:
    remix = client.videos.remix(completed_video.id, prompt="The same lighthouse, but blue and at night")
    assert remix.remixed_from_video_id == completed_video.id
    done = wait_for_video(client, remix.id)
    assert done.status == "completed"
    assert (done.size, done.seconds) == (completed_video.size, completed_video.seconds)
    clip = decode_mp4(client.videos.download_content(remix.id).read())
    assert (clip.width, clip.height) == (1280, 720)


def test_edit_by_id_and_by_upload(client: OpenAI, completed_video: Video) -> None:
    by_id = client.videos.edit(prompt="Make it green", video=openai.omit,
                               extra_body={"video": {"id": completed_video.id}})
    source_bytes = client.videos.download_content(completed_video.id).read()
    by_upload = client.videos.edit(prompt="Make it purple", video=("clip.mp4", source_bytes, "video/mp4"))
    for job in (by_id, by_upload):
        done = wait_for_video(client, job.id)
        assert done.status == "completed", done.error
        assert done.seconds == "4" and done.size == "1280x720"


def test_extension_seconds_is_the_stitched_total(client: OpenAI, completed_video: Video) -> None:
    job = client.videos.extend(prompt="The beam sweeps on into the night", seconds="4", video=openai.omit,
                               extra_body={"video": {"id": completed_video.id}})
    assert job.seconds == "8"
    done = wait_for_video(client, job.id)
    assert done.status == "completed", done.error
    clip = decode_mp4(client.videos.download_content(job.id).read())
    assert abs(clip.duration - 8.0) <= 1 / 24 + 1e-6


def test_extension_of_an_uploaded_clip(client: OpenAI, completed_video: Video) -> None:
    source = client.videos.download_content(completed_video.id).read()
    job = client.videos.extend(prompt="Carry on", seconds="4", video=("clip.mp4", source, "video/mp4"))
    assert job.seconds == "8"
    assert wait_for_video(client, job.id).status == "completed"


def test_characters_are_created_and_fetched(client: OpenAI, completed_video: Video) -> None:
    clip = client.videos.download_content(completed_video.id).read()
    character = client.videos.create_character(name="Keeper", video=("keeper.mp4", clip, "video/mp4"))
    assert character.id and character.id.startswith("char_") and character.name == "Keeper"
    fetched = client.videos.get_character(character.id)
    assert (fetched.id, fetched.name, fetched.created_at) == (character.id, "Keeper", character.created_at)
    with pytest.raises(openai.NotFoundError):
        client.videos.get_character("char_0000000000000000")
    with pytest.raises(openai.BadRequestError, match="could not be read"):
        client.videos.create_character(name="Nobody", video=("x.mp4", b"not a video", "video/mp4"))


def test_delete_removes_the_job_and_its_files(client: OpenAI, localsora: LocalsoraProcess) -> None:
    job = wait_for_video(client, client.videos.create(prompt="Short lived", seconds="4").id)
    files = localsora.data_dir / "videos" / job.id
    assert (files / "video.mp4").exists()
    deleted = client.videos.delete(job.id)
    assert deleted.deleted is True and deleted.id == job.id and deleted.object == "video.deleted"
    assert not files.exists()
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(job.id)
    with pytest.raises(openai.NotFoundError):
        client.videos.download_content(job.id)
    with pytest.raises(openai.NotFoundError):
        client.videos.delete(job.id)


def test_list_pages_with_a_correct_cursor(start_app) -> None:
    # Blocked prompts fail at once, so the jobs exist without rendering anything.
    server = start_app("--blocked-words", "skip")
    client = sdk_client(server)
    ids = [client.videos.create(prompt=f"skip {n}", seconds="4").id for n in range(5)]
    first = client.videos.list(limit=2)
    assert [v.id for v in first.data] == ids[::-1][:2]
    assert first.has_more is True and first.last_id == ids[3]
    everything = [v.id for v in client.videos.list(limit=2)]  # the SDK follows `after`
    assert everything == ids[::-1]
    ascending = client.videos.list(limit=100, order="asc")
    assert [v.id for v in ascending.data] == ids and ascending.has_more is False
    last = client.videos.list(limit=2, after=ids[1])
    assert [v.id for v in last.data] == [ids[0]] and last.has_more is False
    empty = client.videos.list(limit=0)
    assert empty.data == [] and empty.has_more is True
    raw = server.http.get("/v1/videos", params={"limit": 2}).json()
    assert (raw["first_id"], raw["last_id"], raw["object"]) == (ids[4], ids[3], "list")


@pytest.mark.parametrize(
    ("fields", "param", "words"),
    [
        ({"prompt": ""}, "prompt", "prompt"),
        ({"prompt": "x" * 32001}, "prompt", "32,000"),
        ({"prompt": "a cat", "model": "veo-9"}, "model", "'sora-2'"),
        ({"prompt": "a cat", "size": "640x480"}, "size", "'720x1280'"),
        ({"prompt": "a cat", "size": "1792x1024"}, "size", "sora-2-pro"),
        ({"prompt": "a cat", "seconds": "5"}, "seconds", "'4', '8', and '12'"),
    ],
)
def test_bad_parameters_get_a_400_naming_the_problem(client: OpenAI, fields: dict, param: str, words: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(**fields)
    error = caught.value.body
    assert caught.value.status_code == 400
    assert error["param"] == param and words in error["message"]
    assert set(error) == {"message", "type", "param", "code"} and error["type"] == "invalid_request_error"


def test_pro_sizes_work_on_sora_2_pro(client: OpenAI) -> None:
    job = client.videos.create(prompt="skip render", model="sora-2-pro", size="1792x1024", seconds="4")
    assert job.size == "1792x1024" and job.model == "sora-2-pro"
    client.videos.delete(job.id)


@pytest.mark.parametrize(
    ("upload", "words"),
    [
        (("ref.png", png_bytes(1024, 768), "image/png"), "1024x768"),
        (("ref.gif", png_bytes(1280, 720, fmt="GIF"), "image/gif"), "JPEG, PNG or WebP"),
        (("ref.png", b"\x89PNG\r\n\x1a\n garbage", "image/png"), "JPEG, PNG or WebP"),
    ],
)
def test_bad_reference_images_get_a_400(client: OpenAI, upload: tuple, words: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.videos.create(prompt="a cat", size="1280x720", input_reference=upload)
    assert caught.value.body["param"] == "input_reference"
    assert words in caught.value.body["message"]
    if "1024x768" in words:  # like the real API: both sizes are named
        assert "1280x720" in caught.value.body["message"]


def test_oversized_upload_gets_a_400(start_app) -> None:
    client = sdk_client(start_app("--max-image-bytes", "2000"))
    with pytest.raises(openai.BadRequestError, match="limit"):
        client.videos.create(prompt="a cat", size="1280x720",
                             input_reference=("big.jpg", png_bytes(1280, 720, fmt="JPEG") * 2, "image/jpeg"))


def test_unknown_ids_are_404s(client: OpenAI, localsora: LocalsoraProcess) -> None:
    for call in (
        lambda: client.videos.retrieve("video_doesnotexist"),
        lambda: client.videos.delete("video_doesnotexist"),
        lambda: client.videos.download_content("video_doesnotexist"),
        lambda: client.videos.remix("video_doesnotexist", prompt="x"),
        lambda: client.videos.edit(prompt="x", video=openai.omit, extra_body={"video": {"id": "video_nope1234"}}),
    ):
        with pytest.raises(openai.NotFoundError):
            call()
    # Ids never reach the file system: traversal attempts are plain 404s.
    for path in ("/videos/..%2F..%2Fetc%2Fpasswd/content", "/videos/video_..%2F..%2Fx/content"):
        response = httpx.get(localsora.base_url + path)
        assert response.status_code == 404 and "error" in response.json()


def test_unknown_routes_and_bad_queries_answer_in_the_api_shape(client: OpenAI, localsora: LocalsoraProcess,
                                                                 completed_video: Video) -> None:
    response = httpx.get(f"{localsora.base_url}/nothing-here")
    assert response.status_code == 404 and response.json()["error"]["message"] == "Invalid URL (GET /v1/nothing-here)"
    with pytest.raises(openai.BadRequestError, match="between 0 and 100"):
        client.videos.list(limit=101)
    with pytest.raises(openai.BadRequestError):
        client.videos.list(after="video_notarealcursor")
    bad_variant = httpx.get(f"{localsora.base_url}/videos/{completed_video.id}/content", params={"variant": "gif"})
    assert bad_variant.status_code == 400 and bad_variant.json()["error"]["param"] == "variant"


def test_content_before_completion_is_a_404_with_an_error_body(start_app) -> None:
    server = start_app("--render-delay", "30")
    client = sdk_client(server)
    job = client.videos.create(prompt="Slow one", seconds="4")
    with pytest.raises(openai.NotFoundError) as caught:
        client.videos.download_content(job.id)
    assert caught.value.body["code"] == "video_not_ready"
    with pytest.raises(openai.BadRequestError, match="only completed videos"):
        client.videos.remix(job.id, prompt="too early")


def test_progress_is_honest_and_grows(start_app) -> None:
    client = sdk_client(start_app("--render-delay", "3"))
    job = client.videos.create(prompt="Watch me render", seconds="4")
    seen: list[tuple[str, int]] = []

    def look() -> Video:
        video = client.videos.retrieve(job.id)
        seen.append((video.status, video.progress))
        return video

    wait_until(look, lambda v: v.status in ("completed", "failed"), what="the render to finish")
    progress = [p for _, p in seen]
    assert progress == sorted(progress), "progress never goes backwards"
    assert any(status == "in_progress" and 0 < p < 100 for status, p in seen), seen
    assert seen[-1] == ("completed", 100)


def test_expired_content_answers_404(start_app) -> None:
    client = sdk_client(start_app("--ttl-seconds", "1"))
    job = wait_for_video(client, client.videos.create(prompt="Gone soon", seconds="4").id)
    assert job.expires_at is not None and job.expires_at <= job.created_at + 1

    def download_refusal() -> str | None:  # the one-second lifetime runs out on the server's clock
        try:
            client.videos.download_content(job.id)
        except openai.NotFoundError as refused:
            return refused.body["code"]
        return None

    assert wait_until(download_refusal, what="the content to expire") == "video_expired"
    assert client.videos.retrieve(job.id).id == job.id  # the record stays


def test_bearer_key_is_enforced_when_set(start_app) -> None:
    server = start_app(api_key="s3cret-local-key")
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk_client(server, api_key="wrong").videos.list()
    assert caught.value.body["code"] == "invalid_api_key"
    assert "s3cret" not in caught.value.message
    assert sdk_client(server, api_key="s3cret-local-key").videos.list().data == []


def test_rate_limit_answers_429_with_retry_after(start_app) -> None:
    client = sdk_client(start_app("--azure-limits", "--blocked-words", "cheap"))
    client.videos.create(prompt="cheap one")
    client.videos.create(prompt="cheap two")
    with pytest.raises(openai.RateLimitError) as caught:
        client.videos.create(prompt="cheap three")
    assert 1 <= int(caught.value.response.headers["retry-after"]) <= 60
    assert caught.value.body["code"] == "rate_limit_exceeded" and "2 job requests per 60 s" in caught.value.message
    assert client.videos.list().data, "reads are not rate limited"


def test_injected_500s_surface_as_server_errors(start_app) -> None:
    server = start_app("--error-rate", "1", "--enable-faults")
    with pytest.raises(openai.InternalServerError):
        sdk_client(server).videos.list()
    server.faults(error_rate=0, inject={"status": 429, "count": 1, "retry_after": 2})
    with pytest.raises(openai.RateLimitError):
        sdk_client(server).videos.list()
    assert sdk_client(server).videos.list().data == []
    server.faults(inject={"status": 500, "count": 1, "route": "POST /v1/videos"})
    assert sdk_client(server).videos.list().data == [], "a fault aimed at create leaves reads alone"
    with pytest.raises(openai.InternalServerError):
        sdk_client(server).videos.create(prompt="aimed at")


def test_blocked_words_fail_the_job_with_moderation_blocked(start_app) -> None:
    client = sdk_client(start_app("--blocked-words", "violence,gore"))
    job = wait_for_video(client, client.videos.create(prompt="A scene of Violence in the street").id)
    assert job.status == "failed"
    assert job.error is not None and job.error.code == "moderation_blocked"
    with pytest.raises(openai.NotFoundError):
        client.videos.download_content(job.id)


def test_restart_keeps_jobs_and_files(start_localsora, tmp_path) -> None:
    """A real process: the data dir must outlive `python -m localsora` itself, and a new process must serve it."""
    data_dir = tmp_path / "persistent"
    first = start_localsora(data_dir=data_dir)
    client = sdk_client(first)
    job = wait_for_video(client, client.videos.create(prompt="Keep me", seconds="4").id)
    assert job.status == "completed", job.error
    before = client.videos.download_content(job.id).read()
    first.stop()
    second = start_localsora(data_dir=data_dir)
    client = sdk_client(second)
    assert client.videos.retrieve(job.id).status == "completed"
    assert client.videos.download_content(job.id).read() == before


def test_a_job_cut_off_mid_render_finishes_after_restart(start_localsora, tmp_path) -> None:
    """A real process: only a process can be SIGKILLed mid-render, leaving its job and part files as a crash does."""
    data_dir = tmp_path / "crashy"
    first = start_localsora("--render-delay", "60", data_dir=data_dir)
    client = sdk_client(first)
    job = client.videos.create(prompt="Interrupted", seconds="4")
    wait_until(lambda: client.videos.retrieve(job.id).status, lambda s: s == "in_progress", what="the render to start")
    first.stop(kill=True)
    second = start_localsora(data_dir=data_dir)
    done = wait_for_video(sdk_client(second), job.id)
    assert done.status == "completed" and done.progress == 100


def test_remix_also_takes_multipart(localsora: LocalsoraProcess, completed_video: Video) -> None:
    response = httpx.post(f"{localsora.base_url}/videos/{completed_video.id}/remix",
                          files={"prompt": (None, "Multipart remix")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["remixed_from_video_id"] == completed_video.id and body["prompt"] == "Multipart remix"
    httpx.delete(f"{localsora.base_url}/videos/{body['id']}")


def test_concurrency_and_active_job_limits(start_app) -> None:
    client = sdk_client(start_app("--max-concurrent-jobs", "1", "--max-active-jobs", "2", "--render-delay", "20"))
    first = client.videos.create(prompt="First in line")
    second = client.videos.create(prompt="Second in line")
    wait_until(lambda: client.videos.retrieve(first.id).status, lambda s: s == "in_progress",
               what="the first render to start")
    assert client.videos.retrieve(second.id).status == "queued", "one render at a time"
    with pytest.raises(openai.RateLimitError, match="at most 2"):
        client.videos.create(prompt="Third is too many")
    client.videos.delete(first.id)
    status = wait_until(lambda: client.videos.retrieve(second.id).status, lambda s: s != "queued",
                        what="the next job to start once a slot frees")
    assert status == "in_progress", "the next job starts when a slot frees"


def test_every_flag_is_documented_in_the_readme() -> None:
    from pathlib import Path

    from localsora.config import FLAGS, env_name

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for name in FLAGS:
        assert f"`--{name.replace('_', '-')}`" in readme and f"`{env_name(name)}`" in readme, name


def test_models_lists_the_previz_models_and_what_they_can_do(client: OpenAI) -> None:
    models = {m.id: m for m in client.models.list().data}
    assert list(models) == ["sora-2", "sora-2-pro"]
    capabilities = models["sora-2-pro"].model_extra["capabilities"]  # type: ignore[index]
    assert capabilities["engine"] == "previz" and capabilities["audio"] is True
    assert capabilities["modes"] == ["text", "image", "remix", "edit", "extend", "keyframes"]
    assert capabilities["sizes"] == ["720x1280", "1280x720", "1024x1792", "1792x1024"]
    assert capabilities["seconds"] == ["4", "8", "12"]
    assert list(capabilities["parameters"]) == ["seed", "sound", "audio_prompt"]
    assert client.models.retrieve("sora-2").id == "sora-2"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("wan-2")


def test_a_seed_is_kept_with_the_job_and_one_is_chosen_when_left_out(client: OpenAI) -> None:
    chosen = client.videos.create(prompt="A kite over a beach", seconds="4", extra_body={"seed": 42})
    assert chosen.model_extra["seed"] == 42  # type: ignore[index]
    assert client.videos.retrieve(chosen.id).model_extra["seed"] == 42  # type: ignore[index]
    first, second = (client.videos.create(prompt="A kite over a beach", seconds="4") for _ in range(2))
    assert first.model_extra["seed"] != second.model_extra["seed"]  # type: ignore[index]


def test_a_parameter_the_engine_does_not_take_is_refused(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="not used by Local preview renderer") as refused:
        client.videos.create(prompt="A kite", seconds="4", extra_body={"num_inference_steps": 30})
    assert refused.value.body["param"] == "num_inference_steps"  # type: ignore[index]
    assert refused.value.body["code"] == "unsupported_parameter"  # type: ignore[index]


def test_a_data_dir_from_before_job_parameters_still_opens(tmp_path) -> None:
    import sqlite3

    from localsora.store import Store

    old = sqlite3.connect(tmp_path / "localsora.sqlite3")
    old.executescript("""CREATE TABLE videos (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL, model TEXT NOT NULL, status TEXT NOT NULL, progress INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL, completed_at INTEGER, expires_at INTEGER, prompt TEXT NOT NULL,
        size TEXT NOT NULL, seconds TEXT NOT NULL, render_seconds REAL NOT NULL, remixed_from_video_id TEXT,
        source_video_id TEXT, error_code TEXT, error_message TEXT, expired INTEGER NOT NULL DEFAULT 0);
        INSERT INTO videos (id, kind, model, status, created_at, prompt, size, seconds, render_seconds)
        VALUES ('video_0123456789abcdef', 'generate', 'sora-2', 'completed', 1, 'old', '720x1280', '4', 4);""")
    old.close()
    store = Store(tmp_path)
    job = store.get("video_0123456789abcdef")
    assert job is not None and job.prompt == "old" and job.params is None and "seed" not in job.to_api()
    store.close()


def test_a_render_that_breaks_fails_its_job_and_says_what_broke(tmp_path) -> None:  # noqa: ANN001
    """A bug in a renderer fails the job (never left in_progress), naming the exception even when it has no
    message, and the server goes on serving."""
    from starlette.testclient import TestClient

    from localsora.engines.previz import PrevizEngine
    from localsora.server import create_app
    from tests.in_process import settings_for

    class BrokenRenderer(PrevizEngine):
        def render(self, request, out_dir, on_progress) -> None:  # noqa: ANN001
            raise AssertionError()

    settings = settings_for(tmp_path, ["--poll-after-ms", "50"])
    with TestClient(create_app(settings, renderer=BrokenRenderer(settings))) as http:
        client = OpenAI(base_url="http://testserver/v1", api_key="local", max_retries=0,
                        http_client=httpx2.Client(transport=AppTransport(http)), _strict_response_validation=True)
        video = client.videos.create(prompt="A fox in the snow", seconds="4")
        done = wait_for_video(client, video.id)
        assert done.status == "failed" and done.error is not None
        assert done.error.code == "internal_error"
        assert done.error.message.startswith("The local renderer failed (AssertionError).")
        assert client.videos.retrieve(video.id).status == "failed"
