"""localsora speaking other servers' dialects of /v1/videos, through the real SDK and raw HTTP.

Each behaviour copied here is sourced in docs/providers.md; these tests are what its table's "tested by"
column names. The studio's side of the same dialects is tested in test_providers.py and test_pages.py.
Each server runs in process (`start_app`, behind a TestClient): its raw HTTP through `.http`, the SDK through its
httpx2 transport.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import openai
import pytest

from tests.in_process import InProcessLocalsora
from tests.media import decode_mp4, png_bytes
from tests.waiting import wait_until

Start = Callable[..., InProcessLocalsora]


def serve(start_app: Start, dialect: str, *flags: str) -> tuple[InProcessLocalsora, openai.OpenAI]:
    server = start_app("--dialect", dialect, "--poll-after-ms", "100", *flags)
    # Not strict: the SDK's types know only Sora's sizes and seconds, and these servers take any.
    return server, server.client(_strict_response_validation=False)


def finished(server: InProcessLocalsora, video_id: str, deadline: float = 60) -> list[tuple[str, int]]:
    """The (status, progress) seen while polling, until the job is done; a failed job may answer 5xx."""
    seen: list[tuple[str, int]] = []

    def look() -> str:
        video = server.http.get(f"/v1/videos/{video_id}").json()  # raw: a failed job can answer 500
        seen.append((video["status"], video["progress"]))
        return video["status"]

    wait_until(look, lambda status: status in ("completed", "failed"), what=f"{video_id} to finish",
               deadline=deadline)
    return seen


def received(server: InProcessLocalsora, video_id: str) -> dict:
    return server.received(video_id)


# ---------------------------------------------------------------------------------------------- shared


@pytest.mark.parametrize("dialect", ["vllm-omni", "sglang"])
def test_the_routes_these_servers_lack_answer_as_fastapi_does(start_app: Start, dialect: str) -> None:
    server, client = serve(start_app, dialect)
    video = client.videos.create(prompt="A paper boat on a pond", seconds="4")
    assert server.http.post(f"/v1/videos/{video.id}/remix", json={"prompt": "x"}).json() == {"detail": "Not Found"}
    for route in ("edits", "extensions", "characters"):
        answer = server.http.post(f"/v1/videos/{route}", files={"prompt": (None, "x")})
        assert answer.status_code == 405 and answer.json() == {"detail": "Method Not Allowed"}, route
        assert answer.headers["allow"] == "GET, DELETE"
    with pytest.raises(openai.NotFoundError):
        client.videos.remix(video.id, prompt="at night")
    with pytest.raises(openai.APIStatusError) as refused:
        client.videos.edit(prompt="at night", video=openai.omit, extra_body={"video": {"id": video.id}})
    assert refused.value.status_code == 405
    assert "openai-poll-after-ms" not in client.videos.with_raw_response.retrieve(video.id).headers


@pytest.mark.parametrize("dialect", ["vllm-omni", "sglang"])
def test_any_size_and_whole_seconds_are_taken(start_app: Start, dialect: str) -> None:
    server, client = serve(start_app, dialect)
    video = client.videos.create(prompt="A kite over dunes", size="640x360", seconds="2")  # type: ignore[arg-type]
    assert finished(server, video.id)[-1] == ("completed", 100)
    clip = decode_mp4(client.videos.download_content(video.id).read())
    assert (clip.width, clip.height) == (640, 360) and abs(clip.duration - 2) <= 1 / 24 + 1e-6
    by_width = client.videos.create(prompt="A kite", seconds="1",  # type: ignore[arg-type]
                                    extra_body={"width": 320, "height": 240})
    assert by_width.size == "320x240"
    with pytest.raises(openai.BadRequestError):
        client.videos.create(prompt="A kite", size="huge", seconds="1")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- vLLM-Omni


def test_vllm_omni_jobs_look_like_vllm_omni_jobs(start_app: Start) -> None:
    server, client = serve(start_app, "vllm-omni")
    created = client.videos.create(prompt="A red lighthouse at dusk", size="1280x720", seconds="4",
                                   extra_body={"guidance_scale": 7.5, "negative_prompt": "blur", "seed": 3})
    assert re.fullmatch(r"video_gen_[0-9a-f]{32}", created.id)
    seen = finished(server, created.id)
    assert {progress for _, progress in seen} <= {0, 100}  # no progress in between
    video = client.videos.retrieve(created.id)
    extra = video.model_extra or {}
    assert extra["quality"] == "default" and extra["media_type"] == "video/mp4"
    assert extra["file_name"] == f"{video.id}.mp4" and video.expires_at is None
    assert isinstance(extra["inference_time_s"], float) and extra["peak_memory_mb"] > 0
    # Every field it took is on the wire as sent; the previz engine uses only the seed.
    assert received(server, created.id)["params"] == {"guidance_scale": 7.5, "negative_prompt": "blur", "seed": 3}


def test_vllm_omni_extra_params_are_typed_and_never_silently_dropped(start_app: Start) -> None:
    server, client = serve(start_app, "vllm-omni")
    # vLLM-Omni takes extra_params as JSON text of an object in its form, for the model: kept with the job.
    empty = client.videos.create(prompt="A kite", seconds="1", extra_body={"extra_params": "{}"})  # type: ignore[arg-type]
    assert received(server, empty.id)["prompt"] == "A kite"
    shifted = client.videos.create(prompt="A kite", seconds="1",  # type: ignore[arg-type]
                                   extra_body={"extra_params": '{"flow_shift": 3}'})
    assert received(server, shifted.id)["params"]["extra_params"] == {"flow_shift": 3}
    for value, says in (("not json", "Invalid JSON in form field"), ("[1, 2]", "expected dict, got list")):
        answer = server.http.post("/v1/videos", data={"prompt": "A kite", "extra_params": value})
        error = answer.json()["error"]
        assert answer.status_code == 400 and error["param"] == "body.extra_params", (value, error)
        assert says in error["message"], error
    # Width and height are this dialect's own typed fields: text that is not a number names the field.
    answer = server.http.post("/v1/videos", data={"prompt": "A kite", "width": "wide", "height": "240"})
    assert answer.status_code == 400 and answer.json()["error"]["param"] == "body.width"


def test_vllm_omni_takes_forms_only_and_answers_in_vllms_envelope(start_app: Start) -> None:
    server, client = serve(start_app, "vllm-omni")
    answer = server.http.post("/v1/videos", json={"prompt": "A kite"})
    error = answer.json()["error"]
    assert answer.status_code == 400 and error["code"] == 400 and error["type"] == "Bad Request"
    assert error["param"] == "body.prompt" and "Field required" in error["message"]
    with pytest.raises(openai.BadRequestError) as refused:
        client.videos.create(prompt="A kite", seconds="4", extra_body={"num_inference_steps": 500})
    assert refused.value.body["code"] == 400  # type: ignore[index]  # an integer, where OpenAI sends a string
    with pytest.raises(openai.BadRequestError, match="Model mismatch"):
        client.videos.create(prompt="A kite", model="wan-2", seconds="4")  # type: ignore[arg-type]


def test_vllm_omni_a_failed_job_is_retrieved_with_its_errors_code(start_app: Start) -> None:
    server, client = serve(start_app, "vllm-omni", "--blocked-words", "gore")
    created = client.videos.create(prompt="gore everywhere", seconds="4")
    assert finished(server, created.id)[-1][0] == "failed"
    with pytest.raises(openai.BadRequestError) as failed:  # a blocked prompt is the request's fault: 400
        client.videos.retrieve(created.id)
    body = failed.value.response.json()  # the job itself, its error's code as the HTTP status
    assert body["id"] == created.id and body["status"] == "failed" and body["error"]["code"] == 400
    content = server.http.get(f"/v1/videos/{created.id}/content")
    assert content.status_code == 422 and content.json()["error"]["code"] == 422


def test_vllm_omni_serves_only_the_mp4_and_lists_everything(start_app: Start) -> None:
    server, client = serve(start_app, "vllm-omni")
    # Small, short clips: all 23 render before the last is done, and only the list and the variant are checked.
    ids = [client.videos.create(prompt=f"Clip {i}", size="160x96", seconds="1").id  # type: ignore[arg-type]
           for i in range(23)]
    for video_id in ids[-1:]:
        finished(server, video_id)
    thumbnail = client.videos.download_content(ids[-1], variant="thumbnail")
    assert thumbnail.response.headers["content-type"] == "video/mp4"  # no thumbnails on this server
    listed = server.http.get("/v1/videos").json()
    assert len(listed["data"]) == 23 and listed["has_more"] is False  # no limit given: all of them
    models = client.models.list().data
    assert models[0].owned_by == "vllm" and "capabilities" not in (models[0].model_extra or {})
    deleted = client.videos.delete(ids[0])
    assert deleted.deleted and deleted.object == "video.deleted"


# ---------------------------------------------------------------------------------------------- SGLang


def test_sglang_jobs_look_like_sglang_jobs(start_app: Start) -> None:
    server, client = serve(start_app, "sglang", "--render-delay", "1")
    created = client.videos.create(prompt="A lantern festival", seconds="4")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", created.id)
    seen = finished(server, created.id)
    assert {status for status, _ in seen} <= {"queued", "completed"}  # never in_progress
    video = client.videos.retrieve(created.id).model_extra or {}
    assert video["quality"] == "standard" and video["num_outputs"] == 1 and video["file_path"].endswith(".mp4")
    # No seed sent: SGLang's fixed default, so the same prompt gives the same video.
    again = client.videos.create(prompt="A lantern festival", seconds="4")
    finished(server, again.id)
    assert received(server, created.id)["params"]["seed"] == received(server, again.id)["params"]["seed"] == 1024
    assert client.videos.download_content(again.id).read() == client.videos.download_content(created.id).read()


def test_sglang_takes_json_and_answers_with_detail(start_app: Start) -> None:
    server, client = serve(start_app, "sglang")
    by_json = server.http.post("/v1/videos", json={"prompt": "A kite", "seconds": "1", "seed": 5})
    assert by_json.status_code == 200 and received(server, by_json.json()["id"])["params"]["seed"] == 5
    by_form = server.http.post("/v1/videos", data={"prompt": "A kite"})
    assert by_form.status_code == 400 and by_form.json()["detail"].startswith("Invalid request body")
    missing = server.http.get("/v1/videos/0e8f3b44-1c2d-4e5f-8a9b-0c1d2e3f4a5b")
    assert missing.status_code == 404 and set(missing.json()) == {"detail"}


def test_sglang_content_variants_are_output_indexes(start_app: Start) -> None:
    server, client = serve(start_app, "sglang")
    video_id = client.videos.create(prompt="A tide pool", seconds="4").id
    finished(server, video_id)
    assert client.videos.download_content(video_id).response.headers["content-type"] == "video/mp4"
    with pytest.raises(openai.NotFoundError) as missing:
        client.videos.download_content(video_id, variant="thumbnail")
    assert missing.value.body == {"detail": "Video variant thumbnail not found"}


def test_sglang_lists_briefly_and_deletes_with_the_job(start_app: Start) -> None:
    server, client = serve(start_app, "sglang", "--blocked-words", "gore")
    failed = client.videos.create(prompt="gore", seconds="4")
    assert finished(server, failed.id)[-1][0] == "failed"
    error = client.videos.retrieve(failed.id).error  # a failed job answers 200, its error without a code
    assert error is not None and error.code is None and error.message
    listed = server.http.get("/v1/videos").json()
    assert set(listed) == {"data", "object"}
    deleted = server.http.delete(f"/v1/videos/{failed.id}").json()
    assert deleted["id"] == failed.id and deleted["status"] == "deleted" and "deleted" not in deleted


def test_an_image_reference_of_another_size_is_fitted_by_these_servers(start_app: Start) -> None:
    server, client = serve(start_app, "vllm-omni")
    video = client.videos.create(prompt="The photo comes alive", size="640x360", seconds="1",  # type: ignore[arg-type]
                                 input_reference=("photo.png", png_bytes(300, 300), "image/png"))
    assert finished(server, video.id)[-1] == ("completed", 100)
