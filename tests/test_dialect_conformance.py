"""localsora's dialects against what the real servers answer, one row per fact, each row naming its source.

The sources are vLLM-Omni at ae7bee0c (VO) and SGLang at e339c83f (SG), read for issue 22; their paths and lines
are in each row, so a failure says which server behaviour localsora no longer copies. vLLM-Omni is imitated as
its real server answers (vLLM's handlers: a 400 with the `error` envelope), not as its unit tests' bare FastAPI
app does. Each row starts its own server in process (`start_app`); a request goes through the real SDK where the
SDK can send it, else as raw HTTP through the same app. docs/providers.md points here.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import openai
import pytest

from tests.in_process import InProcessLocalsora
from tests.media import decode_mp4, mp4_bytes, png_bytes
from tests.waiting import wait_until

VO_TEST = "VO@ae7bee0c:tests/entrypoints/openai_api/test_video_server.py"
VO_API = "VO@ae7bee0c:vllm_omni/entrypoints/openai/api_server.py"
VO_PROTO = "VO@ae7bee0c:vllm_omni/entrypoints/openai/protocol/videos.py"
SG_API = "SG@e339c83f:python/sglang/multimodal_gen/runtime/entrypoints/openai/video_api.py"
SG_PROTO = "SG@e339c83f:python/sglang/multimodal_gen/runtime/entrypoints/openai/protocol.py"
SERVED_MODEL = "Wan-AI/Wan2.1-T2V-1.3B-Diffusers"  # what both serve with no --models, as a real server names it
SMALL = "160x96"  # every clip here is small: only its frames, rate and answers are checked


Answer = httpx.Response | Any  # the TestClient's httpx response, or the SDK's httpx2 one


def sdk(server: InProcessLocalsora, **create: Any) -> Answer:
    """POST /v1/videos through the real SDK (always multipart); its HTTP answer, error or not."""
    client = server.client(_strict_response_validation=False)  # the SDK's types know only Sora's sizes
    try:
        return client.videos.with_raw_response.create(**create).http_response
    except openai.APIStatusError as exc:
        return exc.response


def form(server: InProcessLocalsora, fields: dict[str, str], files: dict[str, tuple] | None = None) -> Answer:
    """A multipart POST /v1/videos of text fields (and files), as a client the SDK cannot be sends it."""
    parts = {name: (None, value) for name, value in fields.items()}
    return server.http.post("/v1/videos", files={**parts, **(files or {})})


def data_url(data: bytes, media_type: str = "video/mp4") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def as_json(server: InProcessLocalsora, body: dict[str, Any]) -> Answer:
    return server.http.post("/v1/videos", json=body)


@dataclass
class Row:
    dialect: str
    what: str
    send: Callable[[InProcessLocalsora], Answer]
    expect: dict[str, Any]  # observed fact -> expected value, or a predicate of it
    source: str
    flags: tuple[str, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        return f"{self.dialect}: {self.what}"


def _finished(server: InProcessLocalsora, video_id: str) -> Answer:
    def look() -> Answer:
        return server.http.get(f"/v1/videos/{video_id}")  # raw: a failed vLLM-Omni job answers 400 or 500

    return wait_until(look, lambda answer: answer.json()["status"] in ("completed", "failed"),
                      what=f"{video_id} to finish", deadline=60)


def _error_message(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"]["message"]
    return body.get("detail") if isinstance(body, dict) and isinstance(body.get("detail"), str) else json.dumps(body)


def observe(server: InProcessLocalsora, answer: Answer, wanted: set[str]) -> dict[str, Any]:
    """The facts a row checks, each read only when asked for (a job is waited for, a clip decoded, on demand)."""
    body = answer.json()
    seen: dict[str, Any] = {"status": answer.status_code, "message": _error_message(body)}
    if isinstance(body, dict) and isinstance(body.get("detail"), list):
        seen["detail"] = {key: body["detail"][0][key] for key in ("type", "loc")}
    if wanted & {"job", "retrieve", "frames", "fps", "disposition", "params"}:
        retrieved = _finished(server, body["id"])
        job = retrieved.json()
        seen["retrieve"] = retrieved.status_code
        seen["job"] = job
        seen["params"] = server.received(job["id"])["params"]
        if wanted & {"frames", "fps", "disposition"}:
            assert job["status"] == "completed", job
            content = server.http.get(f"/v1/videos/{job['id']}/content")
            clip = decode_mp4(content.content)
            seen.update(frames=clip.frames, fps=clip.fps, disposition=content.headers["content-disposition"])
    if "listed" in wanted:
        seen["listed"] = [video["id"] for video in body["data"]]
    return seen


def _matches(expected: Any, actual: Any) -> bool:
    if callable(expected):
        return bool(expected(actual))
    if isinstance(expected, dict):  # a subset: the keys named, nested
        return isinstance(actual, dict) and all(k in actual and _matches(v, actual[k]) for k, v in expected.items())
    return expected == actual


def contains(text: str) -> Callable[[str], bool]:
    return lambda message: text.lower() in message.lower()


# ---------------------------------------------------------------------------------------------- vLLM-Omni

VLLM_OMNI = [
    Row("vllm-omni", "size=640x360, seconds=2, fps=12: 24 frames at 12 fps, seconds as asked",
        lambda s: sdk(s, prompt="A kite", size="640x360", seconds="2", extra_body={"fps": 12}),
        {"status": 200, "frames": 24, "fps": 12, "job": {"seconds": "2"}},
        f"{VO_TEST}:352-386 test_t2v_video_generation_form; {VO_PROTO}:253-271 resolve_video_params"),
    Row("vllm-omni", "num_frames=5: 5 frames at the default 24 fps; seconds stay the request's",
        lambda s: sdk(s, prompt="A kite", size=SMALL, seconds="2", extra_body={"num_frames": 5}),
        {"status": 200, "frames": 5, "fps": 24, "job": {"seconds": "2"}},
        f"{VO_PROTO}:253-271 resolve_video_params (num_frames wins); {VO_API}:2808-2816 video_response_from_request"),
    Row("vllm-omni", "an input_reference that is a video/mp4 is taken (its first frame, for previz)",
        lambda s: sdk(s, prompt="It moves", size=SMALL, seconds="1",
                      input_reference=("clip.mp4", mp4_bytes(32, 24, 3), "video/mp4")),
        {"status": 200, "job": {"status": "completed"}},
        f"{VO_TEST}:467-491 test_v2v_video_generation_form; VO@ae7bee0c:vllm_omni/entrypoints/openai/"
        "video_api_utils.py:132-156 _decode_media_bytes"),
    Row("vllm-omni", "an input_reference neither image nor video: 400",
        lambda s: sdk(s, prompt="It moves", size=SMALL, seconds="1",
                      input_reference=("notes.mp4", b"not a picture at all", "video/mp4")),
        {"status": 400, "message": "Invalid input_reference: provided content is not a valid image or video."},
        f"{VO_TEST}:1435-1442 test_invalid_uploaded_input_reference_returns_400"),
    Row("vllm-omni", "extra_params as JSON text of an object: taken, and kept for the model",
        lambda s: sdk(s, prompt="A kite", size=SMALL, seconds="1",
                      extra_body={"extra_params": '{"flow_shift": 5.0, "duration": 3}'}),
        {"status": 200, "params": {"extra_params": {"flow_shift": 5.0, "duration": 3}}},
        f"{VO_TEST}:1633-1661 test_extra_params_merged_into_extra_args; {VO_API}:2712-2727 _parse_form_json"),
    Row("vllm-omni", "extra_params that is not JSON: 400",
        lambda s: sdk(s, prompt="A kite", size=SMALL, seconds="1", extra_body={"extra_params": "{not json"}),
        {"status": 400, "message": contains("Invalid JSON in form field")},
        f"{VO_TEST}:1683-1702 test_extra_params_invalid_json; {VO_API}:2712-2727 _parse_form_json"),
    Row("vllm-omni", "extra_params that is a JSON list: 400",
        lambda s: sdk(s, prompt="A kite", size=SMALL, seconds="1", extra_body={"extra_params": "[1, 2]"}),
        {"status": 400, "message": contains("Invalid JSON in form field: expected dict, got list")},
        f"{VO_TEST}:1683-1702 test_extra_params_invalid_json; {VO_API}:2712-2727 _parse_form_json"),
    Row("vllm-omni", "input_reference and image_reference together: 400",
        lambda s: sdk(s, prompt="Two", size=SMALL, seconds="1",
                      input_reference=("a.png", png_bytes(160, 96), "image/png"),
                      extra_body={"image_reference": '{"image_url": "data:image/png;base64,AAAA"}'}),
        {"status": 400, "message": contains("Provide only one of input_reference, image_reference, or "
                                            "video_reference when using input_reference")},
        f"{VO_TEST}:1244-1254 test_rejects_input_reference_and_image_reference_together; {VO_API}:3195-3202"),
    Row("vllm-omni", "a video_reference as a data URL is taken",
        lambda s: sdk(s, prompt="It moves", size=SMALL, seconds="1",
                      extra_body={"video_reference": json.dumps({"video_url": data_url(mp4_bytes(32, 24, 3))})}),
        {"status": 200, "job": {"status": "completed"}},
        f"{VO_TEST}:494-517; VO@ae7bee0c:vllm_omni/entrypoints/openai/video_api_utils.py:320-357"),
    Row("vllm-omni", "image_reference with video_reference: taken, then the job fails with code 400",
        lambda s: sdk(s, prompt="Both", size=SMALL, seconds="1", extra_body={
            "image_reference": json.dumps({"image_url": data_url(png_bytes(32, 24), "image/png")}),
            "video_reference": json.dumps({"video_url": data_url(mp4_bytes(32, 24, 3))})}),
        {"status": 200, "retrieve": 400,
         "job": {"status": "failed", "error": {"code": 400, "message": contains("mixed image and video")}}},
        "VO@ae7bee0c:vllm_omni/entrypoints/openai/serving_video.py:149-153 (a generic model; async: in the job)"),
    Row("vllm-omni", "a file_id image_reference: 400",
        lambda s: sdk(s, prompt="By id", size=SMALL, seconds="1",
                      extra_body={"image_reference": '{"file_id": "file-123"}'}),
        {"status": 400, "message": "Invalid image_reference: file_id is not supported yet."},
        f"{VO_TEST}:1411-1420; VO@ae7bee0c:vllm_omni/entrypoints/openai/video_api_utils.py:344-354"),
    Row("vllm-omni", "a lora without a path: taken, then the job fails with code 400 and GET answers 400",
        lambda s: sdk(s, prompt="A kite", size=SMALL, seconds="1", extra_body={"lora": '{"name": "bad-lora"}'}),
        {"status": 200, "retrieve": 400,
         "job": {"status": "failed", "error": {"code": 400, "message": contains("lora object")}}},
        f"{VO_TEST}:1352-1364 test_invalid_lora_returns_400; VO@ae7bee0c:vllm_omni/entrypoints/openai/utils.py:23-55"),
    Row("vllm-omni", "the MP4 downloads as attachment; filename=\"video_gen_<hex>.mp4\"",
        lambda s: sdk(s, prompt="A kite", size=SMALL, seconds="1"),
        {"disposition": lambda header: re.fullmatch(r'attachment; filename="video_gen_[0-9a-f]{32}\.mp4"', header)},
        f"{VO_TEST}:1561-1582 test_download_completed_job_uses_storage_open_and_download_name; {VO_API}:3633-3668"),
    Row("vllm-omni", "a blocked prompt: the job fails with code 400 and GET answers 400, not 500",
        lambda s: sdk(s, prompt="gore everywhere", size=SMALL, seconds="1"),
        {"status": 200, "retrieve": 400, "job": {"status": "failed", "error": {"code": 400}}},
        f"{VO_TEST}:1392-1408 test_async_guardrail_error_returns_400_on_retrieve; {VO_API}:2819-2843",
        flags=("--blocked-words", "gore")),
    Row("vllm-omni", "model 'sora-2' on a server running Wan: 400 Model mismatch",
        lambda s: sdk(s, prompt="A kite", model="sora-2", size=SMALL, seconds="1"),
        {"status": 400, "message": f"Model mismatch: request specifies 'sora-2' but server is running "
                                   f"'{SERVED_MODEL}'."},
        f"{VO_TEST}:1220-1229 test_video_generation_rejects_model_mismatch; {VO_API}:3248-3258"),
    Row("vllm-omni", "no model named: the job is the served model's",
        lambda s: sdk(s, prompt="A kite", size=SMALL, seconds="1"),
        {"status": 200, "job": {"model": SERVED_MODEL}},
        f"{VO_API}:3250, 3420"),
    Row("vllm-omni", "GET /v1/models: the model path as id and root, owned by vllm",
        lambda s: s.http.get("/v1/models"),
        {"status": 200, "listed": [SERVED_MODEL]},
        f"{VO_API}:434-444 _DiffusionServingModels.show_available_models; {VO_API}:747-765"),
]

# ---------------------------------------------------------------------------------------------- SGLang

SGLANG = [
    Row("sglang", "num_frames is rendered; seconds come from frames / fps",
        lambda s: sdk(s, prompt="A kite", size=SMALL, seconds="4", extra_body={"num_frames": 33}),
        {"status": 200, "frames": 33, "fps": 24, "job": {"seconds": "1"}},
        f"{SG_API}:67-72 _build_video_sampling_params; {SG_API}:141-157 _video_job_from_sampling"),
    Row("sglang", "frame interpolation, exp 1: (n-1)*2+1 frames at 2x fps; seconds from before it",
        lambda s: sdk(s, prompt="A kite", size=SMALL, seconds="4",
                      extra_body={"num_frames": 9, "fps": 8, "enable_frame_interpolation": "true"}),
        {"status": 200, "frames": 17, "fps": 16, "job": {"seconds": "1"}},
        "SG@e339c83f:python/sglang/multimodal_gen/test/server/test_server_utils.py:1254-1261 generate_video; "
        f"{SG_PROTO}:119-123; runtime/entrypoints/utils.py:530-570 materialize_output_sample"),
    Row("sglang", "frame interpolation, exp 2: (n-1)*4+1 frames at 4x fps",
        lambda s: sdk(s, prompt="A kite", size=SMALL, seconds="4",
                      extra_body={"num_frames": 9, "fps": 8, "enable_frame_interpolation": "true",
                                  "frame_interpolation_exp": 2}),
        {"status": 200, "frames": 33, "fps": 32},
        "SG@e339c83f:python/sglang/multimodal_gen/test/server/test_server_utils.py:1254-1261 generate_video"),
    Row("sglang", "seconds=10, fps=16, num_frames=125 (in extra_body, as its test sends them): seconds '8'",
        lambda s: as_json(s, {"prompt": "A kite", "size": SMALL, "seconds": 10,
                              "extra_body": {"fps": 16, "num_frames": 125}}),
        {"status": 200, "job": {"seconds": "8"}, "frames": 125, "fps": 16},
        f"SG@75b72eb8:python/sglang/multimodal_gen/test/cli/test_serve.py:128-160 TestImage2VideoHttpServer; "
        f"{SG_API}:141-157 (line 145)"),
    Row("sglang", "a JSON extra_body is merged over the top level",
        lambda s: as_json(s, {"prompt": "A kite", "size": SMALL, "seconds": "1", "fps": 24,
                              "extra_body": {"fps": 12, "num_frames": 6}}),
        {"status": 200, "frames": 6, "fps": 12},
        f"{SG_API}:403-408"),
    Row("sglang", "a form's extra_body JSON text is a fallback: an explicit field wins",
        lambda s: sdk(s, prompt="A kite", size=SMALL, seconds="1",
                      extra_body={"fps": 12, "extra_body": '{"fps": 8, "num_frames": 6}'}),
        {"status": 200, "frames": 6, "fps": 12},
        f"{SG_API}:309-325, 350-351 form_value"),
    Row("sglang", "list limit=0: FastAPI's 422",
        lambda s: s.http.get("/v1/videos", params={"limit": 0}),
        {"status": 422, "detail": {"type": "greater_than_equal", "loc": ["query", "limit"]}},
        f"{SG_API}:493-518 Query(None, ge=1, le=100)"),
    Row("sglang", "list limit=101: FastAPI's 422",
        lambda s: s.http.get("/v1/videos", params={"limit": 101}),
        {"status": 422, "detail": {"type": "less_than_equal", "loc": ["query", "limit"]}},
        f"{SG_API}:493-518 Query(None, ge=1, le=100)"),
    Row("sglang", "seconds=abc in a form: FastAPI's 422",
        lambda s: form(s, {"prompt": "A kite", "seconds": "abc"}),
        {"status": 422, "detail": {"type": "int_parsing", "loc": ["body", "seconds"]}},
        f"{SG_API}:240 seconds: Optional[int] = Form(None)"),
    Row("sglang", "seconds=abc in JSON: 400, Invalid request body",
        lambda s: as_json(s, {"prompt": "A kite", "seconds": "abc"}),
        {"status": 400, "message": lambda text: text.startswith("Invalid request body")},
        f"{SG_API}:397-442; {SG_PROTO}:100"),
    Row("sglang", "a seed list as long as the outputs (one): taken",
        lambda s: as_json(s, {"prompt": "A kite", "size": SMALL, "seconds": "1", "seed": [7]}),
        {"status": 200, "job": {"status": "completed", "seed": 7}},
        f"{SG_PROTO}:104; SG@e339c83f:python/sglang/multimodal_gen/test/unit/test_multi_output_grouping.py:80-85"),
    Row("sglang", "a seed list longer than the outputs: the job fails saying so",
        lambda s: as_json(s, {"prompt": "A kite", "size": SMALL, "seconds": "1", "seed": [1, 2]}),
        {"status": 200, "retrieve": 200,
         "job": {"status": "failed", "error": {"message": contains("seed list length must match")}}},
        "SG@e339c83f:python/sglang/multimodal_gen/runtime/pipelines_core/stages/input_validation.py:96-102; "
        "test_multi_output_grouping.py:97-105"),
    Row("sglang", "a failed job has no completed_at, and GET answers 200",
        lambda s: sdk(s, prompt="gore everywhere", size=SMALL, seconds="1"),
        {"status": 200, "retrieve": 200, "job": {"status": "failed", "completed_at": None}},
        f"{SG_API}:219-223; {SG_PROTO}:81", flags=("--blocked-words", "gore")),
    Row("sglang", "model 'sora-2' is taken as named: SGLang checks no model name",
        lambda s: sdk(s, prompt="A kite", model="sora-2", size=SMALL, seconds="1"),
        {"status": 200, "job": {"model": "sora-2", "status": "completed"}},
        f"{SG_API}:149; {SG_PROTO}:72"),
    Row("sglang", "the MP4 downloads as attachment; filename=\"<uuid>.mp4\"",
        lambda s: sdk(s, prompt="A kite", size=SMALL, seconds="1"),
        {"disposition": lambda header: re.fullmatch(r'attachment; filename="[0-9a-f-]{36}\.mp4"', header)},
        f"{SG_API}:558-561"),
    Row("sglang", "GET /v1/models: the model path as id",
        lambda s: s.http.get("/v1/models"),
        {"status": 200, "listed": [SERVED_MODEL]},
        "SG@e339c83f:python/sglang/multimodal_gen/runtime/entrypoints/openai/common_api.py:179-209; "
        "test_server_common.py:1077-1160 _test_v1_models_endpoint"),
]


@pytest.mark.parametrize("row", VLLM_OMNI + SGLANG, ids=str)
def test_dialect_answers_as_its_server_does(start_app: Callable[..., InProcessLocalsora], row: Row) -> None:
    server = start_app("--dialect", row.dialect, *row.flags)
    seen = observe(server, row.send(server), set(row.expect))
    wrong = {fact: seen.get(fact) for fact, expected in row.expect.items() if not _matches(expected, seen.get(fact))}
    assert not wrong, f"{row}: localsora answered {wrong}, where the source says {row.expect} ({row.source})"


def test_models_are_listed_as_each_server_lists_them(start_app: Callable[..., InProcessLocalsora]) -> None:
    """VO api_server.py:434-444 (vLLM's ModelCard: owned_by "vllm", root the path); SG common_api.py:25-34
    (DiffusionModelCard: owned_by "sglang", root the path)."""
    for dialect, owner in (("vllm-omni", "vllm"), ("sglang", "sglang")):
        [model] = start_app("--dialect", dialect).http.get("/v1/models").json()["data"]
        assert (model["id"], model["root"], model["owned_by"]) == (SERVED_MODEL, SERVED_MODEL, owner), dialect


def test_sglang_reads_an_unknown_order_as_desc(start_app: Callable[..., InProcessLocalsora]) -> None:
    """SG video_api.py:499-506: the order lower-cased, anything but asc or desc read as desc."""
    server = start_app("--dialect", "sglang")
    for prompt in ("First", "Second"):
        form(server, {"prompt": prompt, "size": SMALL, "seconds": "1"})
    listed = {order: [v["id"] for v in server.http.get("/v1/videos", params={"order": order}).json()["data"]]
              for order in ("sideways", "DESC", "desc", "asc")}
    assert listed["sideways"] == listed["DESC"] == listed["desc"] == listed["asc"][::-1]
