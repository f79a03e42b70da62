"""Keyframes (`inpaint_items`, Sora 1's shape): images and clips placed at frames of a new video, on previz in
this process through the real SDK. The diffusers cases (Wan first-and-last-frame, LTX conditions) are in
tests/test_diffusers_keyframes.py."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import openai
import pytest
from openai import OpenAI
from PIL import Image

from tests.conftest import create_with_keyframes as with_keyframes
from tests.conftest import wait_for_video
from tests.media import decode_mp4, decoded_frames, encode_image, mp4_bytes, png_bytes

SIZE = "320x240"  # small, so quick; 4 s at 24 frames a second: 96 frames


def create_with_keyframes(client: OpenAI, items: list[dict[str, Any]] | str,
                          files: list[tuple[str, bytes, str]], **fields: Any) -> openai.types.Video:
    return with_keyframes(client, items, files, prompt="A quiet harbour at dawn", size=SIZE, seconds="4", **fields)


def distance(frame: np.ndarray, rgb: tuple[int, int, int]) -> float:
    return float(np.mean(np.abs(frame - np.array(rgb, dtype=np.int16))))


@pytest.fixture
def client(start_app) -> OpenAI:
    # Without strict response validation: the SDK's types know only Sora's sizes.
    return start_app("--models", f"sora-2={SIZE}").client(_strict_response_validation=False)


def completed_frames(client: OpenAI, video: openai.types.Video) -> list[np.ndarray]:
    done = wait_for_video(client, video.id)
    assert done.status == "completed", done.error
    return decoded_frames(client.videos.download_content(video.id).read())


def test_previz_shows_a_placed_image_at_its_frame_and_the_last_one_at_the_end(client: OpenAI) -> None:
    green, blue = (20, 200, 40), (30, 60, 220)
    video = create_with_keyframes(client, [
        {"frame_index": 10, "type": "image", "file_name": "green.png"},
        {"frame_index": -1, "type": "image", "file_name": "blue.jpg"},
    ], [("green.png", png_bytes(640, 480, green), "image/png"),
        ("blue.jpg", png_bytes(100, 300, blue, fmt="JPEG"), "image/jpeg")])
    frames = completed_frames(client, video)
    assert len(frames) == 96
    assert distance(frames[10], green) < 6, "the placed image shows at frame 10, uncaptioned"
    assert distance(frames[95], blue) < 6, "-1 places it on the last frame, fitted from any size"
    assert distance(frames[9], green) > 30 and distance(frames[11], green) > 30, "only at its frame"


def test_a_crop_keeps_only_the_part_of_the_image_it_names(client: OpenAI) -> None:
    halves = Image.new("RGB", (400, 200), (220, 30, 30))
    halves.paste((30, 30, 220), (200, 0, 400, 200))  # right half blue
    video = create_with_keyframes(client, [{
        "frame_index": 0, "type": "image", "file_name": "halves.png",
        "crop_bounds": {"left_fraction": 0.5, "top_fraction": 0.0, "right_fraction": 1.0, "bottom_fraction": 1.0},
    }], [("halves.png", encode_image(halves), "image/png")])
    first = completed_frames(client, video)[0]
    assert distance(first, (30, 30, 220)) < 6, "only the right, blue half was kept and fitted to the frame"


def test_a_placed_clip_plays_from_its_frame(client: OpenAI) -> None:
    orange = (230, 140, 20)
    crop = {"left_fraction": 0.25, "top_fraction": 0.25, "right_fraction": 0.75, "bottom_fraction": 0.75}
    video = create_with_keyframes(client, [{"frame_index": 12, "type": "video", "file_name": "clip.mp4",
                                            "crop_bounds": crop}],
                                  [("clip.mp4", mp4_bytes(160, 120, 6, orange), "video/mp4")])
    frames = completed_frames(client, video)
    assert all(distance(frames[i], orange) < 8 for i in range(12, 18)), "its 6 frames from frame 12"
    assert distance(frames[18], orange) > 30 and distance(frames[11], orange) > 30


def test_models_list_keyframes_among_previz_modes(client: OpenAI) -> None:
    models = client.get("/models", cast_to=dict)["data"]
    assert models and all("keyframes" in model["capabilities"]["modes"] for model in models)


@pytest.mark.parametrize(("items", "files", "param"), [
    ([{"frame_index": 96, "type": "image", "file_name": "a.png"}], ["a.png"], "inpaint_items[0].frame_index"),
    ([{"frame_index": -97, "type": "image", "file_name": "a.png"}], ["a.png"], "inpaint_items[0].frame_index"),
    ([{"frame_index": 0, "type": "image", "file_name": "a.png"},
      {"frame_index": 5, "type": "image", "file_name": "b.png"}], ["a.png"], "inpaint_items[1].file_name"),
    ([{"frame_index": 0, "type": "image", "file_name": "a.png",
       "crop_bounds": {"left_fraction": 0.6, "right_fraction": 0.4}}], ["a.png"], "inpaint_items[0].crop_bounds"),
    ([{"frame_index": 0, "type": "image", "file_name": "a.png",
       "crop_bounds": {"left_fraction": -0.1}}], ["a.png"], "inpaint_items[0].crop_bounds.left_fraction"),
    ([{"frame_index": 0, "type": "gif", "file_name": "a.png"}], ["a.png"], "inpaint_items[0].type"),
    ([{"frame_index": 0, "type": "image"}], ["a.png"], "inpaint_items[0].file_name"),
    ('[{"frame_index": 0,', ["a.png"], "inpaint_items"),
    ([], ["a.png"], "inpaint_items"),
    ([{"frame_index": 0, "type": "image", "file_name": "a.png"}], ["a.png", "stray.png"], "files"),
    ([{"frame_index": 0, "type": "video", "file_name": "a.png"}], ["a.png"], "inpaint_items[0].file_name"),
])
def test_a_bad_placement_is_a_400_naming_its_field(client: OpenAI, items: Any, files: list[str],
                                                   param: str) -> None:
    uploads = [(name, png_bytes(64, 48), "image/png") for name in files]
    with pytest.raises(openai.BadRequestError) as caught:
        create_with_keyframes(client, items, uploads)
    assert caught.value.body["type"] == "invalid_request_error" and caught.value.body["message"]
    assert caught.value.body["param"] == param, caught.value.body
    assert client.videos.list().data == [], "nothing was made"


def test_inpaint_items_beside_an_input_reference_is_refused(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.post("/videos", cast_to=openai.types.Video,
                    body={"prompt": "x", "size": SIZE, "seconds": "4",
                          "inpaint_items": json.dumps([{"frame_index": 0, "type": "image", "file_name": "a.png"}])},
                    files=[("files", ("a.png", png_bytes(64, 48), "image/png")),
                           ("input_reference", ("r.png", png_bytes(320, 240), "image/png"))],
                    options={"headers": {"Content-Type": "multipart/form-data"}})
    assert caught.value.body["param"] == "inpaint_items"


def test_loop_is_one_request_from_the_clips_last_frame_back_to_its_first(client: OpenAI) -> None:
    """Loop as the README writes it: the source's last frame at frame 0, its first frame at the last."""
    source = client.videos.create(prompt="A red kite over green hills, slow pan right", size=SIZE, seconds="4")
    source_frames = completed_frames(client, source)
    first, last = (Image.fromarray(source_frames[i].astype(np.uint8)) for i in (0, -1))
    bridge = create_with_keyframes(client, [
        {"frame_index": 0, "type": "image", "file_name": "from.png"},
        {"frame_index": -1, "type": "image", "file_name": "to.png"},
    ], [("from.png", encode_image(last), "image/png"), ("to.png", encode_image(first), "image/png")])
    frames = completed_frames(client, bridge)
    assert float(np.mean(np.abs(frames[0] - source_frames[-1]))) < 6, "it starts where the clip ends"
    assert float(np.mean(np.abs(frames[-1] - source_frames[0]))) < 6, "and ends where the clip starts"
    assert decode_mp4(client.videos.download_content(bridge.id).read()).width == 320


def test_a_server_without_keyframes_ignores_them_as_it_ignores_any_unknown_field(start_app) -> None:
    """vLLM-Omni's form takes no `inpaint_items`: a job there is made from the prompt alone, as that server makes it."""
    green = (20, 200, 40)
    client = start_app("--dialect", "vllm-omni").client(_strict_response_validation=False)
    video = with_keyframes(client, [{"frame_index": 0, "type": "image", "file_name": "a.png"}],
                           [("a.png", png_bytes(320, 240, green), "image/png")], prompt="a lamp", size="320x240",
                           seconds="1")
    assert distance(completed_frames(client, video)[0], green) > 30
