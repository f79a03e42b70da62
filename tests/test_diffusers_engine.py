"""The diffusers engine on tiny random pipelines, loaded by path as a user loads downloaded weights.

The pictures are noise; everything else is checked through the real SDK against the app of
`python -m localsora --engine diffusers --model FOLDER`, run in process (one per family, behind a TestClient), and
the engine's step-level behaviour directly. One test starts that command as a real process and goes end to end over
HTTP; others check its start-up failures and exit codes. The SDK runs without strict response validation here: its
types only know Sora's sizes and seconds.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import av
import diffusers
import httpx
import numpy as np
import openai
import pytest
import torch
from openai import OpenAI
from PIL import Image
from safetensors.torch import load_file, save_file

from localsora.config import Settings
from localsora.engines import EngineUnavailable
from localsora.engines.base import JobFailed, RenderCancelled, RenderRequest
from localsora.engines.diffusers.engine import DENOISE_SHARE, DiffusersEngine
from localsora.engines.diffusers.profiles import LTX_NEGATIVE_PROMPT, WAN_NEGATIVE_PROMPT, Layout, profile_for
from localsora.process import LocalsoraProcess
from tests.conftest import create_with_keyframes, wait_for_video
from tests.in_process import InProcessLocalsora, settings_for
from tests.media import decode_mp4, decoded_frames, image_format, mean_difference, mp4_bytes, png_bytes
from tests.tiny_pipelines import (
    save_tiny_cogvideox,
    save_tiny_cogvideox15,
    save_tiny_cogvideox_i2v,
    save_tiny_ltx,
    save_tiny_wan,
    save_tiny_wan22_t2v,
    save_tiny_wan22_ti2v,
    save_tiny_wan_i2v,
    save_tiny_wan_vace,
    write_not_a_model,
    write_unknown_class,
)
from tests.waiting import wait_until

os.environ["HF_HUB_OFFLINE"] = "1"  # no hub is reachable, and none may be asked
SIZES = "tiny=64x64,96x64"
STEPS = {"num_inference_steps": 2}
SAVERS: dict[str, Callable[[Path], Path]] = {
    "wan": save_tiny_wan, "wan_i2v": save_tiny_wan_i2v, "wan_vace": save_tiny_wan_vace, "ltx": save_tiny_ltx,
    "cogvideox": save_tiny_cogvideox, "wan_ti2v": save_tiny_wan22_ti2v, "wan_a14b": save_tiny_wan22_t2v,
    "cogvideox15": save_tiny_cogvideox15, "cogvideox_i2v": save_tiny_cogvideox_i2v,
}
FPS = {"wan": 16, "wan_i2v": 16, "wan_vace": 16, "ltx": 24, "cogvideox": 8, "wan_ti2v": 24, "wan_a14b": 16,
       "cogvideox15": 16, "cogvideox_i2v": 8}


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    return {name: save(root / name) for name, save in SAVERS.items()}


@pytest.fixture(scope="session")
def device(pytestconfig: pytest.Config) -> str:
    """`pytest --device cuda` runs these tests on a GPU; the CPU is the default."""
    return str(pytestconfig.getoption("device"))


@pytest.fixture(scope="session")
def served_on(device: str) -> str:
    """The device as the engine names it: `cuda` is the first GPU."""
    return f"{device}:0" if device == "cuda" else device


def flags(model: Path, device: str) -> list[str]:
    return ["--engine", "diffusers", "--model", str(model), "--models", SIZES, "--durations", "1,2",
            "--extension-durations", "1", "--poll-after-ms", "50", "--device", device]


def serve(model: Path, data_dir: Path, device: str) -> LocalsoraProcess:
    """`python -m localsora --engine diffusers --model FOLDER` as a real child process."""
    return LocalsoraProcess(data_dir, args=flags(model, device)).start(timeout=120)


@pytest.fixture(scope="module")
def servers(tiny_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory,
            device: str) -> Iterator[dict[str, OpenAI]]:
    """The SDK to one app per family, each made in process as `python -m localsora` makes it, started lazily."""
    started: dict[str, InProcessLocalsora] = {}

    class Lazy(dict):  # type: ignore[type-arg]
        def __missing__(self, name: str) -> OpenAI:
            settings = settings_for(tmp_path_factory.mktemp(f"ls-{name}"), flags(tiny_models[name], device))
            started[name] = InProcessLocalsora(settings).start()  # the model loads here
            self[name] = started[name].client(_strict_response_validation=False)
            return self[name]

    yield Lazy()
    for app in started.values():
        app.stop()


def finished(client: OpenAI, video: openai.types.Video) -> openai.types.Video:
    done = wait_for_video(client, video.id)
    assert done.status == "completed", done.error
    return done


def content(client: OpenAI, video_id: str, variant: str = "video") -> bytes:
    return client.videos.download_content(video_id, variant=variant).read()  # type: ignore[arg-type]


def frame_checksums(data: bytes) -> list[str]:
    with av.open(io.BytesIO(data)) as container:
        return [hashlib.sha256(f.to_ndarray(format="rgb24").tobytes()).hexdigest()
                for f in container.decode(video=0)]


def assert_clip(client: OpenAI, video_id: str, size: str, seconds: float, fps: int) -> None:
    """The delivered MP4: exactly the size asked for, the right frame count at the model's fps, no sound."""
    data = content(client, video_id)
    clip = decode_mp4(data)
    assert f"{clip.width}x{clip.height}" == size
    assert clip.frames == round(seconds * fps)
    assert abs(clip.duration - seconds) <= 1 / fps + 1e-6
    assert clip.video_codec == "h264" and clip.audio_codec is None  # these models make no sound
    assert image_format(content(client, video_id, "thumbnail")) == "WEBP"
    assert image_format(content(client, video_id, "spritesheet")) == "JPEG"


# ---------------------------------------------------------------------------------------------- modes


def test_models_lists_what_the_loaded_model_can_do(servers: dict[str, OpenAI], served_on: str) -> None:
    every = ["text", "image", "remix", "edit", "extend"]
    text = ["text", "remix", "edit"]
    expected = {"wan": text, "wan_i2v": ["image", "extend", "keyframes"], "ltx": [*every, "keyframes"],
                "wan_vace": [*every, "keyframes"], "cogvideox": text, "wan_ti2v": every, "wan_a14b": text}
    common = {"seed", "negative_prompt", "num_inference_steps", "guidance_scale", "fps", "num_frames"}
    for name, modes in expected.items():
        (model,) = servers[name].models.list().data
        capabilities = model.model_extra["capabilities"]  # type: ignore[index]
        assert model.id == "tiny" and capabilities["engine"] == "diffusers"
        assert capabilities["modes"] == modes and capabilities["sizes"] == ["64x64", "96x64"]
        assert capabilities["serving"] == f"{name} on {served_on}" and capabilities["audio"] is False
        # strength, with its range, where remix and edits follow it (VACE regenerates every frame instead)
        follows_strength = "remix" in modes and name != "wan_vace"
        assert set(capabilities["parameters"]) == common | ({"strength"} if follows_strength else set())
        if follows_strength:
            strength = capabilities["parameters"]["strength"]
            assert (strength["type"], strength["minimum"], strength["maximum"]) == ("number", 0, 1)


@pytest.mark.parametrize("family", ["wan", "ltx", "cogvideox", "wan_ti2v", "wan_a14b"])
def test_text_to_video_delivers_the_exact_size_and_length(servers: dict[str, OpenAI], family: str) -> None:
    client = servers[family]
    video = finished(client, client.videos.create(prompt="a red fox in snow", model="tiny", size="96x64",
                                                  seconds="2", extra_body=STEPS))
    assert (video.size, video.seconds, video.model) == ("96x64", "2", "tiny")
    assert_clip(client, video.id, "96x64", 2, FPS[family])


@pytest.mark.parametrize("family", ["ltx", "wan_vace"])
def test_every_mode_completes_on_the_families_that_have_them(servers: dict[str, OpenAI], family: str) -> None:
    client, fps = servers[family], FPS[family]
    reference = ("first.png", png_bytes(96, 64, (220, 40, 40)), "image/png")
    image = finished(client, client.videos.create(prompt="a red box", model="tiny", size="96x64", seconds="1",
                                                  input_reference=reference, extra_body=STEPS))
    assert_clip(client, image.id, "96x64", 1, fps)

    remix = finished(client, client.videos.remix(image.id, prompt="a blue box", extra_body=STEPS))
    assert remix.remixed_from_video_id == image.id
    assert_clip(client, remix.id, "96x64", 1, fps)

    edit = finished(client, client.videos.edit(prompt="a green box", video=openai.omit,
                                               extra_body={"video": {"id": image.id}, **STEPS}))
    assert_clip(client, edit.id, "96x64", 1, fps)

    extension = finished(client, client.videos.extend(prompt="it rolls away", seconds="1", video=openai.omit,
                                                      extra_body={"video": {"id": image.id}, **STEPS}))
    assert extension.seconds == "2"
    assert_clip(client, extension.id, "96x64", 2, fps)
    # The extension starts with the source's frames (encoded once more), then goes on with new ones.
    source, joined = decoded_frames(content(client, image.id)), decoded_frames(content(client, extension.id))
    assert len(joined) == 2 * len(source)
    kept = np.mean([np.abs(a - b).mean() for a, b in zip(source, joined, strict=False)])
    assert kept < 4, f"the source part changed by {kept:.1f} levels on average"


def test_cogvideox15_remix_gives_its_transformer_whole_latent_pairs(servers: dict[str, OpenAI]) -> None:
    """CogVideoX1.5 patches two latent frames at a time (patch_size_t=2), and its video-to-video pipeline does not
    pad: the engine sends a frame count whose latent count is even, so a remix completes instead of crashing."""
    client = servers["cogvideox15"]
    source = finished(client, client.videos.create(prompt="a red fox in snow", model="tiny", size="96x64",
                                                   seconds="1", extra_body=STEPS))
    remix = finished(client, client.videos.remix(source.id, prompt="a grey fox in rain", extra_body=STEPS))
    assert (remix.size, remix.seconds) == ("96x64", "1")
    assert_clip(client, remix.id, "96x64", 1, FPS["cogvideox15"])


def assert_edits_follow_strength(client: OpenAI, fps: int, check: Callable[[str, float], None]) -> None:
    """Video-to-video starts from the source's latents noised to `strength`. Two fixed clips are edited with the same
    words and seed: at 0.02 the two edits differ (each follows its own source), at 1.0 they are the same video (the
    source is gone), and at 0 an edit is its source. The sources are uploads, not clips the model made, so that no
    setting under test (a default negative prompt, say) changes them: the tiny random VAE gives back some sources
    better than others, and a margin measured on model-made sources moved whenever a default changed the source.
    That at 0.02 prompt and seed barely matter is shown in the latents, where the random VAE cannot blur it
    (test_video_to_video_starts_from_the_source_latents_noised_to_strength). `check(id, strength)` sees each edit."""
    dark = moving_square(fps, 4, 76)
    uploads = {"dark": lossless_clip(dark, fps), "light": lossless_clip([255 - f for f in reversed(dark)], fps)}

    def edit(source: str, strength: float, prompt: str = "a blue boat at night", seed: int = 1) -> bytes:
        video = finished(client, client.videos.edit(
            prompt=prompt, video=(f"{source}.mp4", uploads[source], "video/mp4"),
            extra_body={"num_inference_steps": 4, "seed": seed, "strength": strength}))
        check(video.id, strength)
        return content(client, video.id)

    followed = mean_difference(edit("dark", 0.02), edit("light", 0.02))
    assert followed > 2, f"strength 0.02: edits of two sources are only {followed:.2f} levels apart"
    ignored = mean_difference(edit("dark", 1.0), edit("light", 1.0))
    assert ignored < 0.5, f"strength 1.0: edits of two sources are still {ignored:.2f} levels apart"
    assert mean_difference(edit("dark", 1.0), edit("dark", 1.0, "green trees in the rain", 2)) > 2
    kept = mean_difference(lossless_clip(dark, fps), edit("dark", 0.0))
    assert kept < 4, f"strength 0 keeps the source, yet it moved {kept:.2f} levels"  # as much as one more encode


@pytest.mark.parametrize("family", ["wan_ti2v", "ltx"])
def test_remix_follows_the_source_as_far_as_strength_says(servers: dict[str, OpenAI], family: str) -> None:
    client = servers[family]
    assert_edits_follow_strength(client, FPS[family], lambda video_id, _: assert_clip(client, video_id, "96x64", 1,
                                                                                      FPS[family]))


@pytest.mark.parametrize("family", ["wan", "wan_ti2v", "wan_a14b", "ltx"])
def test_video_to_video_starts_from_the_source_latents_noised_to_strength(
    tiny_models: dict[str, Path], tmp_path: Path, device: str, family: str,
) -> None:
    """What the denoiser sees first: at strength 0.02 nearly the source's latents, whatever the prompt and seed
    (the two runs' inputs correlate); at 1.0 pure noise, a different one per seed. (Random VAEs make pixels a
    poor witness on some families, so this looks where the strength acts.)"""
    engine = DiffusersEngine(Settings(engine="diffusers", model=str(tiny_models[family]), device=device,
                                      models={"tiny": ("96x64",)}, durations=("1",)))
    engine.render(RenderRequest("a red fox in snow", 96, 64, 1, seed=7, num_inference_steps=2), tmp_path / "source",
                  lambda share: None)
    first_inputs: list[torch.Tensor] = []

    def keep_first(module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        if len(first_inputs) < expected:
            first_inputs.append(kwargs["hidden_states"].detach().flatten().float().cpu())

    for expert in (engine.pipe.transformer, getattr(engine.pipe, "transformer_2", None)):
        if expert is not None:
            expert.register_forward_pre_hook(keep_first, with_kwargs=True)

    def correlation(strength: float) -> float:
        nonlocal expected
        for seed, prompt in [(1, "a blue boat at night"), (2, "green trees in the rain")]:
            expected = len(first_inputs) + 1
            engine.render(RenderRequest(prompt, 96, 64, 1, seed=seed, num_inference_steps=4, strength=strength,
                                        mode="remix", source_video=tmp_path / "source" / "video.mp4"),
                          tmp_path / f"remix-{strength}-{seed}", lambda share: None)
        return float(torch.corrcoef(torch.stack(first_inputs[-2:]))[0, 1])

    expected = 0
    assert correlation(0.02) > 0.5
    assert abs(correlation(1.0)) < 0.1


def test_image_to_video_and_extension_on_wan22_ti2v(servers: dict[str, OpenAI]) -> None:
    """Wan2.2-TI2V-5B is a text and image model: the image job runs WanImageToVideoPipeline with per-patch
    timesteps on its 16x VAE, and an extension continues it."""
    client = servers["wan_ti2v"]
    reference = ("first.png", png_bytes(64, 64, (30, 200, 90)), "image/png")
    image = finished(client, client.videos.create(prompt="a lamp", model="tiny", size="64x64", seconds="1",
                                                  input_reference=reference, extra_body=STEPS))
    assert_clip(client, image.id, "64x64", 1, FPS["wan_ti2v"])
    extension = finished(client, client.videos.extend(prompt="the lamp glows", seconds="1", video=openai.omit,
                                                      extra_body={"video": {"id": image.id}, **STEPS}))
    assert_clip(client, extension.id, "64x64", 2, FPS["wan_ti2v"])


def test_wan22_a14b_remix_runs_both_experts(tiny_models: dict[str, Path], tmp_path: Path, device: str) -> None:
    """The high-noise expert (`transformer`) takes the steps above `boundary_ratio`, the low-noise one
    (`transformer_2`) the rest; a remix that starts high enough runs both, one that starts low only the second."""
    engine = DiffusersEngine(Settings(engine="diffusers", model=str(tiny_models["wan_a14b"]), device=device,
                                      models={"tiny": ("64x64",)}, durations=("1",)))
    engine.render(RenderRequest("a fox", 64, 64, 0.25, seed=1, num_inference_steps=2), tmp_path / "source",
                  lambda share: None)
    calls = {"transformer": 0, "transformer_2": 0}
    for name in calls:
        getattr(engine.pipe, name).register_forward_hook(
            lambda module, args, output, name=name: calls.__setitem__(name, calls[name] + 1))

    def remix(strength: float) -> dict[str, int]:
        calls.update(transformer=0, transformer_2=0)
        engine.render(RenderRequest("a dog", 64, 64, 0.25, source_video=tmp_path / "source" / "video.mp4",
                                    mode="remix", num_inference_steps=10, guidance_scale=1.0, strength=strength),
                      tmp_path / f"remix-{strength}", lambda share: None)
        return dict(calls)

    # 10 steps: sigmas 1.0, 0.9, ... 0.1, shifted by 12 (the profile's flow_shift); the first 7 are at or above
    # the boundary (0.875 x 1000 timesteps). Strength 0.9 runs the last 9 steps: 6 high, then 3 low.
    assert remix(0.9) == {"transformer": 6, "transformer_2": 3}
    assert remix(0.3) == {"transformer": 0, "transformer_2": 3}  # the last 3 steps: low noise only


def lossless_clip(frames: list[np.ndarray], fps: int) -> bytes:
    """An H.264 MP4 that decodes to exactly these pictures (qp 0), so two clips that end alike end exactly alike."""
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps, options={"qp": "0"})
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for picture in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode())
    return out.getvalue()


def moving_square(fps: int, start: int, end: int) -> list[np.ndarray]:
    """One second of a white square sliding across a dark 96x64 frame from x=start to x=end."""
    frames = []
    for i in range(fps):
        picture = np.full((64, 96, 3), 30, np.uint8)
        x = round(start + (end - start) * i / (fps - 1))
        picture[24:40, x:x + 16] = 240
        frames.append(picture)
    return frames


def assert_extensions_follow_motion(client: OpenAI, fps: int) -> None:
    """Two sources end on the same frame, one moving right and one left. Conditioned on the last frame alone,
    their extensions (same prompt, same seed) would be the same video; conditioned on the last several frames
    (LTX's and LTX-2's video condition, VACE's known frames), each goes on from its own motion."""
    rightward, leftward = moving_square(fps, 0, 40), moving_square(fps, 80, 40)
    assert np.array_equal(rightward[-1], leftward[-1])

    def new_part(frames: list[np.ndarray]) -> list[np.ndarray]:
        upload = ("clip.mp4", lossless_clip(frames, fps), "video/mp4")
        video = finished(client, client.videos.extend(prompt="it goes on", seconds="1", video=upload,
                                                      extra_body={**STEPS, "seed": 3}))
        return decoded_frames(content(client, video.id))[fps:]

    right, again, left = new_part(rightward), new_part(rightward), new_part(leftward)
    assert all(np.array_equal(a, b) for a, b in zip(right, again, strict=True))  # the same input, the same video
    # Any difference is the earlier frames' doing (the tiny Wan VAE keeps little of a picture, so it is small there).
    assert not all(np.array_equal(a, b) for a, b in zip(right, left, strict=True)), "only the last frame was seen"


@pytest.mark.parametrize("family", ["ltx", "wan_vace"])
def test_an_extension_carries_the_sources_motion_across_the_seam(servers: dict[str, OpenAI], family: str) -> None:
    assert_extensions_follow_motion(servers[family], FPS[family])


def test_an_uploaded_clip_is_edited(servers: dict[str, OpenAI], tmp_path: Path) -> None:
    client = servers["wan"]
    source = finished(client, client.videos.create(prompt="a cat", model="tiny", size="64x64", seconds="1",
                                                   extra_body=STEPS))
    upload = ("clip.mp4", content(client, source.id), "video/mp4")
    edit = finished(client, client.videos.edit(prompt="a dog", video=upload, extra_body=STEPS))
    assert_clip(client, edit.id, "64x64", 1, 16)


def test_image_to_video_and_extension_on_wan_i2v(servers: dict[str, OpenAI]) -> None:
    client = servers["wan_i2v"]
    reference = ("first.png", png_bytes(64, 64), "image/png")
    image = finished(client, client.videos.create(prompt="a lamp", model="tiny", size="64x64", seconds="1",
                                                  input_reference=reference, extra_body=STEPS))
    assert_clip(client, image.id, "64x64", 1, 16)
    extension = finished(client, client.videos.extend(prompt="the lamp glows", seconds="1", video=openai.omit,
                                                      extra_body={"video": {"id": image.id}, **STEPS}))
    assert_clip(client, extension.id, "64x64", 2, 16)


def test_a_mode_the_model_lacks_is_a_400_naming_the_model(servers: dict[str, OpenAI], served_on: str) -> None:
    reference = ("first.png", png_bytes(64, 64), "image/png")
    with pytest.raises(openai.BadRequestError) as refused:
        servers["wan"].videos.create(prompt="a lamp", model="tiny", size="64x64", seconds="1",
                                     input_reference=reference)
    error = refused.value.body
    assert error["code"] == "unsupported_mode" and error["type"] == "invalid_request_error"  # type: ignore[index]
    assert f"wan on {served_on} cannot do image-to-video" in error["message"]  # type: ignore[index]
    assert "text-to-video, remix, edits" in error["message"]  # type: ignore[index]
    with pytest.raises(openai.BadRequestError, match="cannot do text-to-video"):
        servers["wan_i2v"].videos.create(prompt="a lamp", model="tiny", size="64x64", seconds="1")
    assert all(v.prompt != "a lamp" for v in servers["wan"].videos.list().data)  # no job was made


# ---------------------------------------------------------------------------------------------- keyframes

FIRST_AND_LAST = [{"frame_index": 0, "type": "image", "file_name": "first.png"},
                  {"frame_index": -1, "type": "image", "file_name": "last.png"}]
FIRST_AND_LAST_FILES = [("first.png", png_bytes(96, 64, (220, 40, 40)), "image/png"),
                        ("last.png", png_bytes(300, 200, (40, 40, 220)), "image/png")]


@pytest.mark.parametrize("family", ["wan_i2v", "ltx", "wan_vace"])
def test_a_first_and_a_last_image_interpolate_at_the_exact_size_and_length(servers: dict[str, OpenAI],
                                                                            family: str) -> None:
    """Wan's first-and-last-frame (`last_image`) on an image-to-video checkpoint; LTX's conditions."""
    client = servers[family]
    video = finished(client, create_with_keyframes(client, FIRST_AND_LAST, FIRST_AND_LAST_FILES, prompt="a box",
                                                   model="tiny", size="96x64", seconds="2", **STEPS))
    assert_clip(client, video.id, "96x64", 2, FPS[family])


@pytest.mark.parametrize("family", ["wan_i2v", "ltx", "wan_vace"])
def test_the_first_and_last_images_reach_the_pipeline_at_its_first_and_last_frames(
        tiny_models: dict[str, Path], tmp_path: Path, device: str, family: str) -> None:
    """A tiny random model's picture barely follows its conditions (below one 8-bit step), so what the pipeline is
    handed is checked here: each image, fitted, at the model's own first and last frame."""
    red, blue = (220, 40, 40), (40, 40, 220)
    (tmp_path / "first.png").write_bytes(png_bytes(64, 64, red))
    (tmp_path / "last.png").write_bytes(png_bytes(64, 64, blue))
    placed = [{"frame_index": 0, "type": "image", "file": str(tmp_path / "first.png"), "crop": None},
              {"frame_index": 15, "type": "image", "file": str(tmp_path / "last.png"), "crop": None, "item": 1}]
    request = RenderRequest("a box", 64, 64, 1.0, keyframes=placed, fps=16)
    call = tiny_engine(tiny_models[family], device)._keyframe_call(request, count=17, shown=17, delivered=16,
                                                                   width=64, height=64, fps=16)

    def colour(image: Image.Image) -> tuple[int, ...]:
        return tuple(int(v) for v in np.asarray(image).reshape(-1, 3).mean(axis=0).round())

    if family == "wan_i2v":
        assert np.allclose(colour(call["image"]), red, atol=3) and np.allclose(colour(call["last_image"]), blue,
                                                                               atol=3)
    elif family == "wan_vace":
        known = [index for index, mask in enumerate(call["mask"]) if not np.asarray(mask).any()]
        assert known == [0, 16], "VACE keeps the model's first and last of its 17 frames, and makes the rest"
        assert np.allclose(colour(call["video"][0]), red, atol=3) and np.allclose(colour(call["video"][16]), blue,
                                                                                  atol=3)
    else:
        first, last = call["conditions"]
        assert (first.frame_index, last.frame_index) == (0, 16), "the model's first and last of its 17 frames"
        assert np.allclose(colour(first.image), red, atol=3) and np.allclose(colour(last.image), blue, atol=3)


def test_ltx_places_an_image_and_a_clip_at_middle_frames(servers: dict[str, OpenAI]) -> None:
    client = servers["ltx"]
    items = [{"frame_index": 8, "type": "image", "file_name": "mid.png"},
             {"frame_index": 16, "type": "video", "file_name": "clip.mp4"}]
    files = [("mid.png", png_bytes(96, 64), "image/png"), ("clip.mp4", mp4_bytes(96, 64, 5), "video/mp4")]
    video = finished(client, create_with_keyframes(client, items, files, prompt="a box", model="tiny",
                                                   size="96x64", seconds="1", **STEPS))
    assert_clip(client, video.id, "96x64", 1, FPS["ltx"])


@pytest.mark.parametrize(("family", "items", "param", "says"), [
    ("wan", FIRST_AND_LAST, "inpaint_items", "cannot place frames (inpaint_items); it can do: text, remix, edit"),
    ("wan_i2v", [FIRST_AND_LAST[0], {"frame_index": 5, "type": "image", "file_name": "last.png"}],
     "inpaint_items[1].frame_index", "at frame 0 and at frame 15 (-1) only"),
    ("wan_i2v", FIRST_AND_LAST[1:], "inpaint_items", "place an image at frame 0 too"),
    ("wan_i2v", [{**FIRST_AND_LAST[0], "type": "video"}], "inpaint_items[0].type", "places only images"),
    ("ltx", [{**FIRST_AND_LAST[0], "frame_index": 24}], "inpaint_items[0].frame_index", "it has 24 frames"),
])
def test_a_placement_the_model_cannot_make_is_a_400_naming_the_field(servers: dict[str, OpenAI], family: str,
                                                                     items: list[dict[str, Any]], param: str,
                                                                     says: str) -> None:
    client = servers[family]
    with pytest.raises(openai.BadRequestError) as refused:
        named = {item["file_name"] for item in items}
        create_with_keyframes(client, items, [file for file in FIRST_AND_LAST_FILES if file[0] in named],
                              prompt="a lamp", model="tiny", size="96x64", seconds="1")
    assert refused.value.body["param"] == param  # type: ignore[index]
    assert says in refused.value.body["message"]  # type: ignore[index]


@pytest.mark.parametrize(("field", "value", "says"), [
    ("seed", -1, "between 0 and 4294967295"),
    ("seed", "lucky", "must be an integer"),
    ("num_inference_steps", 0, "between 1 and 200"),
    ("guidance_scale", "strong", "must be a number"),
    ("fps", 0, "between 1 and 60"),
    ("num_frames", 6, r"4k\+1 for this model \(for example 5 or 9\)"),
    ("negative_prompt", "x" * 4001, "maximum is 4,000"),
    ("strength", 1.5, "between 0 and 1; got 1.5"),
    ("strength", 0.5, "no source video to follow"),  # a text-to-video job has nothing to follow
])
def test_bad_parameter_values_are_400s_naming_the_field(
    servers: dict[str, OpenAI], field: str, value: object, says: str
) -> None:
    with pytest.raises(openai.BadRequestError, match=says) as refused:
        servers["wan"].videos.create(prompt="a lamp", model="tiny", size="64x64", seconds="1",
                                     extra_body={field: value})
    assert refused.value.body["param"] == field  # type: ignore[index]


# ---------------------------------------------------------------------------------------------- seeds


def test_the_same_seed_gives_the_same_video_and_variants_differ(servers: dict[str, OpenAI]) -> None:
    client = servers["wan"]

    def make(**extra: object) -> tuple[openai.types.Video, list[str]]:
        video = finished(client, client.videos.create(prompt="a paper boat", model="tiny", size="64x64",
                                                      seconds="1", extra_body={**STEPS, **extra}))
        return video, frame_checksums(content(client, video.id))

    first, first_frames = make(seed=1234)
    again, again_frames = make(seed=1234)
    assert first.model_extra["seed"] == again.model_extra["seed"] == 1234  # type: ignore[index]
    assert first_frames == again_frames
    one, one_frames = make()
    other, other_frames = make()
    assert one.model_extra["seed"] != other.model_extra["seed"]  # type: ignore[index]
    assert one_frames != other_frames and one_frames != first_frames


def test_num_frames_and_fps_shape_the_clip(servers: dict[str, OpenAI]) -> None:
    client = servers["wan"]
    video = finished(client, client.videos.create(prompt="a kite", model="tiny", size="64x64", seconds="2",
                                                  extra_body={**STEPS, "fps": 8, "num_frames": 5}))
    data = content(client, video.id)
    clip = decode_mp4(data)
    assert clip.frames == 16 and abs(clip.duration - 2) <= 1 / 8  # 5 made, each held over 2 s at 8 fps
    frames = decoded_frames(data)
    cuts = sum(np.abs(a - b).mean() > 2 for a, b in zip(frames, frames[1:], strict=False))
    assert cuts <= 4, f"{cuts + 1} different pictures; the model made 5"


# ---------------------------------------------------------------------------------------------- jobs


def slow(**extra: object) -> dict[str, object]:
    """A job that takes a while on the CPU: many steps over more frames."""
    return {"num_inference_steps": 150, **extra}


def test_jobs_on_one_device_queue_and_progress_only_grows(servers: dict[str, OpenAI]) -> None:
    client = servers["ltx"]
    first = client.videos.create(prompt="first", model="tiny", size="96x64", seconds="2", extra_body=slow())
    second = client.videos.create(prompt="second", model="tiny", size="96x64", seconds="1", extra_body=STEPS)
    seen: dict[str, list[tuple[str, int]]] = {first.id: [], second.id: []}

    def poll() -> bool:
        # The later job is read first: were it seen running, the first must already be done by the time it is
        # read, so two "in_progress" here mean a real overlap, not two reads either side of a hand-over.
        states = {v: client.videos.retrieve(v) for v in reversed(seen)}
        for video_id, video in states.items():
            seen[video_id].append((video.status, video.progress))
        assert [v.status for v in states.values()].count("in_progress") <= 1, "two jobs ran at once"
        return all(v.status in ("completed", "failed") for v in states.values())

    wait_until(poll, what="both jobs to finish", deadline=240, interval=0.02)
    assert ("queued", 0) in seen[second.id]  # it waited for the device while the first ran
    for history in seen.values():
        progress = [p for _, p in history]
        assert progress == sorted(progress) and progress[-1] == 100 and history[-1][0] == "completed"
    assert any(0 < p < 100 for _, p in seen[first.id])  # it reported steps on the way


def test_deleting_a_running_job_stops_it_and_the_server_goes_on(servers: dict[str, OpenAI]) -> None:
    client = servers["cogvideox"]
    running = client.videos.create(prompt="long", model="tiny", size="96x64", seconds="2",
                                   extra_body=slow(num_inference_steps=200))
    wait_until(lambda: client.videos.retrieve(running.id).status, lambda status: status == "in_progress",
               what="the job to start", interval=0.02)
    assert client.videos.delete(running.id).deleted
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(running.id)
    # The device is free again at the next step: a short job queued now finishes well before 200 steps could.
    after = finished(client, client.videos.create(prompt="short", model="tiny", size="64x64", seconds="1",
                                                  extra_body=STEPS))
    assert after.status == "completed"


# ---------------------------------------------------------------------------------------------- start-up


@pytest.mark.parametrize(("make", "says"), [
    (lambda root: root / "missing", "not a folder here"),
    (write_not_a_model, "no model_index.json"),
    (write_unknown_class, "StableDiffusionPipeline, which the diffusers engine does not serve"),
])
def test_a_folder_that_is_not_a_model_fails_at_start_up(
    tmp_path: Path, make: Callable[[Path], Path], says: str
) -> None:
    folder = make(tmp_path / "model")
    repo = str(Path(__file__).resolve().parent.parent)
    started = subprocess.run(
        [sys.executable, "-m", "localsora", "--engine", "diffusers", "--model", str(folder), "--data-dir",
         str(tmp_path / "data"), "--port", "9"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": repo},
    )
    assert started.returncode == 2
    assert says in started.stderr and "Traceback" not in started.stderr
    if make is write_unknown_class:
        assert "WanPipeline" in started.stderr and "LTXPipeline" in started.stderr  # names what it serves


def test_the_engine_needs_a_model() -> None:
    started = subprocess.run([sys.executable, "-m", "localsora", "--engine", "diffusers"], capture_output=True,
                             text=True, timeout=60)
    assert started.returncode == 2 and "--engine diffusers needs --model" in started.stderr


def test_health_says_what_is_serving(tiny_models: dict[str, Path], tmp_path: Path, device: str,
                                     served_on: str) -> None:
    """A real process, end to end: `python -m localsora --engine diffusers --model FOLDER` as a user starts it, its
    health, and a job made by the SDK over real HTTP, rendered by the model and downloaded."""
    server = serve(tiny_models["wan"], tmp_path / "data", device)
    try:
        health = httpx.get(f"{server.root_url}/health").json()
        assert health["engine"] == "diffusers" and health["renderer"] == f"wan on {served_on}"
        client = OpenAI(base_url=server.base_url, api_key="local", max_retries=0)
        video = finished(client, client.videos.create(prompt="a lighthouse", model="tiny", size="64x64",
                                                      seconds="1", extra_body=STEPS))
        assert_clip(client, video.id, "64x64", 1, FPS["wan"])
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------- in process


def tiny_engine(folder: Path, device: str) -> DiffusersEngine:
    return DiffusersEngine(Settings(engine="diffusers", model=str(folder), models={"tiny": ("64x64",)},
                                    device=device))


def test_progress_follows_each_denoising_step_then_the_encode(tiny_models: dict[str, Path], tmp_path: Path,
                                                              device: str) -> None:
    shares: list[float] = []
    tiny_engine(tiny_models["wan"], device).render(
        RenderRequest("a fox", 64, 64, 1, seed=1, num_inference_steps=5), tmp_path, shares.append)
    assert shares[:5] == pytest.approx([DENOISE_SHARE * step / 5 for step in range(1, 6)])
    assert len(shares) == 5 + 1 + 16  # the steps, the decode, then each of the 16 frames encoded
    assert shares == sorted(shares) and shares[-1] == 1.0
    assert (tmp_path / "video.mp4").exists()


def test_a_cancel_stops_the_render_at_the_next_step(tiny_models: dict[str, Path], tmp_path: Path,
                                                    device: str) -> None:
    calls: list[float] = []

    def cancel_at_third_step(share: float) -> None:
        calls.append(share)
        if len(calls) == 3:
            raise RenderCancelled("deleted")

    with pytest.raises(RenderCancelled):
        tiny_engine(tiny_models["wan"], device).render(RenderRequest("a fox", 64, 64, 1, num_inference_steps=50),
                                               tmp_path / "out", cancel_at_third_step)
    assert len(calls) == 3  # not 50: the pipeline stopped where the cancel came
    assert not (tmp_path / "out" / "video.mp4").exists()


def test_out_of_memory_fails_the_job_with_its_remedies_and_the_engine_goes_on(
    tiny_models: dict[str, Path], tmp_path: Path, device: str
) -> None:
    engine = tiny_engine(tiny_models["wan"], device)
    request = RenderRequest("a fox", 64, 64, 1, num_inference_steps=2)

    def run_out_of_memory(share: float) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    with pytest.raises(JobFailed) as failed:
        engine.render(request, tmp_path / "failed", run_out_of_memory)
    assert failed.value.code == "out_of_memory"
    assert "ran out of memory rendering 64x64" in failed.value.message
    assert "--memory model" in failed.value.message and "smaller size" in failed.value.message
    engine.render(request, tmp_path / "next", lambda share: None)
    assert (tmp_path / "next" / "video.mp4").exists()


# ---------------------------------------------------------------------------------------------- checkpoint profiles

WAN_480P = ["832x480", "480x832"]
WAN_480P_720P = [*WAN_480P, "1280x720", "720x1280"]
# name -> (profile, fps, sizes, seconds, trained frames, default steps, guidance, guidance_scale_2, flow_shift)
PROFILES: dict[str, tuple[str, int, list[str], list[str], int, int, float, float | None, dict[str, float]]] = {
    "wan": ("Wan2.1-T2V-1.3B", 16, WAN_480P, ["5"], 81, 50, 5.0, None, {"480p": 3.0, "720p": 5.0}),
    "wan_ti2v": ("Wan2.2-TI2V-5B", 24, ["1280x704", "704x1280"], ["5"], 121, 50, 5.0, None, {"704p": 5.0}),
    "wan_a14b": ("Wan2.2-T2V-A14B", 16, WAN_480P_720P, ["5"], 81, 40, 4.0, 3.0, {"480p": 12.0, "720p": 12.0}),
    "wan_i2v": ("Wan2.2-I2V-A14B", 16, WAN_480P_720P, ["5"], 81, 40, 3.5, 3.5, {"480p": 5.0, "720p": 5.0}),
}


@pytest.fixture
def native(tiny_models: dict[str, Path], tmp_path: Path, device: str) -> Iterator[Callable[[str], InProcessLocalsora]]:
    """`python -m localsora --engine diffusers --model FOLDER` with no --models or --durations: the checkpoint's
    own sizes and lengths, in process."""
    started: list[InProcessLocalsora] = []

    def start(name: str) -> InProcessLocalsora:
        flags = ["--engine", "diffusers", "--model", str(tiny_models[name]), "--device", device]
        started.append(InProcessLocalsora(settings_for(tmp_path / name, flags)).start())
        return started[-1]

    yield start
    for app in started:
        app.stop()


@pytest.mark.parametrize("name", list(PROFILES))
def test_models_publishes_the_checkpoint_profile(native: Callable[[str], InProcessLocalsora], name: str) -> None:
    checkpoint, fps, sizes, seconds, frames, steps, guidance, guidance_2, shift = PROFILES[name]
    (model,) = native(name).client(_strict_response_validation=False).models.list().data
    capabilities = model.model_extra["capabilities"]  # type: ignore[index]
    assert model.id == name and (capabilities["fps"], capabilities["sizes"]) == (fps, sizes)
    assert capabilities["seconds"] == capabilities["extension_seconds"] == seconds
    assert f"{checkpoint} through diffusers" in capabilities["notes"]
    assert f"Trained on {frames} frames at {fps} fps" in capabilities["notes"]
    assert capabilities["profile"] == {
        "checkpoint": checkpoint, "trained_frames": frames, "trained_fps": fps, "frame_rule": "4k+1",
        "default_steps": steps, "default_guidance": guidance, "guidance_scale_2": guidance_2, "flow_shift": shift,
        "default_negative_prompt": WAN_NEGATIVE_PROMPT,
    }


def test_an_unknown_wan_layout_keeps_its_family_settings(servers: dict[str, OpenAI]) -> None:
    for name, family, fps in [("wan_vace", "Wan VACE", 16)]:
        (model,) = servers[name].models.list().data
        profile = model.model_extra["capabilities"]["profile"]  # type: ignore[index]
        assert profile["checkpoint"] == family and profile["trained_fps"] == fps
        assert profile["trained_frames"] is None and profile["default_negative_prompt"] is None
        assert profile["flow_shift"] == {} and profile["default_steps"] is None


def test_a_size_or_frame_count_the_checkpoint_does_not_take_is_a_400_naming_the_allowed(
    native: Callable[[str], InProcessLocalsora],
) -> None:
    client = native("wan").client(_strict_response_validation=False)
    with pytest.raises(openai.BadRequestError) as refused:
        client.videos.create(prompt="a lamp", model="wan", size="1280x720", seconds="5")  # 1.3B is a 480p model
    assert refused.value.body["param"] == "size"  # type: ignore[index]
    message = refused.value.body["message"]  # type: ignore[index]
    assert "832x480" in message and "480x832" in message and "1280x720" not in message.split(".", 1)[1]
    with pytest.raises(openai.BadRequestError, match=r"4k\+1 for this model \(for example 81 or 85\)"):
        client.videos.create(prompt="a lamp", model="wan", size="832x480", seconds="5",
                             extra_body={"num_frames": 83})
    with pytest.raises(openai.BadRequestError, match="Supported values are: '5'") as refused:
        client.videos.create(prompt="a lamp", model="wan", size="832x480", seconds="4")  # Sora's, not Wan's
    assert refused.value.body["param"] == "seconds"  # type: ignore[index]
    assert client.videos.list().data == []  # nothing was queued to fail later


def spy_on_calls(monkeypatch: pytest.MonkeyPatch, engine: DiffusersEngine,
                 pipeline_class: type | None = None) -> list[dict[str, Any]]:
    """Every call to the loaded pipeline class (or to `pipeline_class`), with the flow_shift its scheduler had at the
    time."""
    calls: list[dict[str, Any]] = []
    pipeline_class = pipeline_class or type(engine.pipe)
    real = pipeline_class.__call__

    @functools.wraps(real)
    def spy(pipe: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append({**kwargs, "flow_shift": pipe.scheduler.config.get("flow_shift")})
        return real(pipe, *args, **kwargs)

    monkeypatch.setattr(pipeline_class, "__call__", spy)
    return calls


@pytest.mark.parametrize(("name", "steps", "guidance", "guidance_2", "shift"), [
    ("wan", 50, 5.0, None, 3.0),
    ("wan_ti2v", 50, 5.0, None, 5.0),
    ("wan_a14b", 40, 4.0, 3.0, 12.0),
])
def test_a_request_that_leaves_settings_out_gets_the_checkpoints_own(
    tiny_models: dict[str, Path], tmp_path: Path, device: str, monkeypatch: pytest.MonkeyPatch,
    name: str, steps: int, guidance: float, guidance_2: float | None, shift: float,
) -> None:
    engine = DiffusersEngine(Settings(engine="diffusers", model=str(tiny_models[name]), device=device))
    calls = spy_on_calls(monkeypatch, engine)
    engine.render(RenderRequest("a fox", 64, 64, 0.25, seed=1), tmp_path / "defaults", lambda share: None)
    (call,) = calls
    assert call["negative_prompt"] == WAN_NEGATIVE_PROMPT
    assert (call["num_inference_steps"], call["guidance_scale"]) == (steps, guidance)
    assert call.get("guidance_scale_2") == guidance_2 and call["flow_shift"] == shift
    assert engine.pipe.vae.dtype == torch.float32  # the checkpoint keeps its VAE in float32

    # What the request gives wins; guidance_scale then holds for both experts.
    engine.render(RenderRequest("a fox", 64, 64, 0.25, seed=1, negative_prompt="blur", num_inference_steps=2,
                                guidance_scale=2.5), tmp_path / "given", lambda share: None)
    given = calls[-1]
    assert (given["negative_prompt"], given["num_inference_steps"], given["guidance_scale"]) == ("blur", 2, 2.5)
    assert "guidance_scale_2" not in given


def test_flow_shift_follows_the_resolution_class(tiny_models: dict[str, Path], tmp_path: Path, device: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    engine = DiffusersEngine(Settings(engine="diffusers", model=str(tiny_models["wan"]), device=device))
    calls = spy_on_calls(monkeypatch, engine)
    for width, height in [(832, 480), (1280, 720), (480, 832)]:
        engine.render(RenderRequest("a fox", width, height, 1 / 16, num_inference_steps=1, num_frames=1),
                      tmp_path / f"{width}x{height}", lambda share: None)
    assert [call["flow_shift"] for call in calls] == [3.0, 5.0, 3.0]  # 480p, 720p, 480p again
    assert engine.pipe.scheduler.config.flow_shift == 3.0


def test_durations_that_the_frame_rule_cannot_take_fail_at_start_up(tiny_models: dict[str, Path],
                                                                     device: str) -> None:
    settings = Settings(engine="diffusers", model=str(tiny_models["wan"]), device=device, durations=("100",))
    with pytest.raises(EngineUnavailable, match=r"--durations 100 is 1601 frames at 16 fps; Wan2.1-T2V-1.3B takes "
                                                r"4k\+1 frames, from 1 to 1025"):
        DiffusersEngine(settings)


def test_each_component_keeps_its_dtype_when_another_mode_shares_the_weights(tiny_models: dict[str, Path],
                                                                              tmp_path: Path) -> None:
    """bfloat16 on the CPU stands in for a GPU: the VAE stays float32, and making the video-to-video pipeline
    casts nothing (diffusers' `from_pipe` would move every shared module to float32)."""
    engine = DiffusersEngine(Settings(engine="diffusers", model=str(tiny_models["wan"]), device="cpu",
                                      dtype="bfloat16", models={"tiny": ("64x64",)}, durations=("1",)))
    assert (engine.pipe.transformer.dtype, engine.pipe.vae.dtype) == (torch.bfloat16, torch.float32)
    engine.render(RenderRequest("a fox", 64, 64, 0.25, num_inference_steps=2), tmp_path / "text", lambda share: None)
    engine.render(RenderRequest("a dog", 64, 64, 0.25, source_video=tmp_path / "text" / "video.mp4", mode="remix",
                                num_inference_steps=2), tmp_path / "remix", lambda share: None)
    remix = engine._companion("WanVideoToVideoPipeline")
    assert remix.transformer is engine.pipe.transformer and remix.vae is engine.pipe.vae
    assert (engine.pipe.transformer.dtype, engine.pipe.vae.dtype) == (torch.bfloat16, torch.float32)
    assert (tmp_path / "remix" / "video.mp4").exists()


# The real repos' layouts, as their model_index.json and transformer/vae configs say (too big to build here).
_WAN21_1_3B = {"num_attention_heads": 12, "attention_head_dim": 128}  # dim 1536
_WAN_14B = {"num_attention_heads": 40, "attention_head_dim": 128}  # dim 5120
_T2V = frozenset({"tokenizer", "text_encoder", "transformer", "vae", "scheduler"})


@pytest.mark.parametrize(("layout", "checkpoint"), [
    (Layout("WanPipeline", _T2V, _WAN21_1_3B, {"z_dim": 16}), "Wan2.1-T2V-1.3B"),
    (Layout("WanPipeline", _T2V, _WAN_14B, {"z_dim": 16}), "Wan2.1-T2V-14B"),
    (Layout("WanImageToVideoPipeline", _T2V | {"image_encoder", "image_processor"}, _WAN_14B, {"z_dim": 16}),
     "Wan2.1-I2V-14B"),
    (Layout("WanPipeline", _T2V, {"num_attention_heads": 24, "attention_head_dim": 128}, {"z_dim": 48},
            expand_timesteps=True), "Wan2.2-TI2V-5B"),
    (Layout("WanPipeline", _T2V | {"transformer_2"}, _WAN_14B, {"z_dim": 16}, boundary_ratio=0.875),
     "Wan2.2-T2V-A14B"),
    (Layout("WanImageToVideoPipeline", _T2V | {"transformer_2"}, _WAN_14B, {"z_dim": 16}, boundary_ratio=0.9),
     "Wan2.2-I2V-A14B"),
    # Layouts no profile knows keep their family's settings.
    (Layout("WanImageToVideoPipeline", _T2V, _WAN_14B, {"z_dim": 16}), "Wan"),
    (Layout("WanVACEPipeline", _T2V, _WAN21_1_3B, {"z_dim": 16}), "Wan VACE"),
    (Layout("LTXPipeline", _T2V), "LTX-Video"),
    (Layout("CogVideoXPipeline", _T2V), "CogVideoX-2b"),  # diffusers defaults: 2b
])
def test_the_first_profile_that_matches_the_configs_is_the_checkpoints(layout: Layout, checkpoint: str) -> None:
    assert profile_for(layout).name == checkpoint


# ---------------------------------------------------------------------------------------------- LTX-Video, CogVideoX

# name -> (profile, fps, sizes, seconds, trained frames, frame rule, default steps, guidance)
OTHER_PROFILES: dict[str, tuple[str, int, list[str], list[str], int, str, int, float]] = {
    "ltx": ("LTX-Video", 24, ["768x512", "512x768", "1216x704", "704x1216"], ["5"], 121, "8k+1", 40, 3.0),
    "cogvideox": ("CogVideoX-2b", 8, ["720x480"], ["6"], 49, "8k+1", 50, 6.0),
    "cogvideox_i2v": ("CogVideoX-5b-I2V", 8, ["720x480"], ["6"], 49, "8k+1", 50, 6.0),
    "cogvideox15": ("CogVideoX1.5-5B", 16, ["1360x768"], ["5"], 81, "16k+1", 50, 6.0),
}


@pytest.mark.parametrize("name", list(OTHER_PROFILES))
def test_models_publishes_ltx_and_cogvideox_profiles(native: Callable[[str], InProcessLocalsora], name: str) -> None:
    checkpoint, fps, sizes, seconds, frames, rule, steps, guidance = OTHER_PROFILES[name]
    (model,) = native(name).client(_strict_response_validation=False).models.list().data
    capabilities = model.model_extra["capabilities"]  # type: ignore[index]
    assert (capabilities["fps"], capabilities["sizes"], capabilities["seconds"]) == (fps, sizes, seconds)
    assert f"Trained on {frames} frames at {fps} fps" in capabilities["notes"]
    profile = capabilities["profile"]
    assert (profile["checkpoint"], profile["trained_frames"], profile["trained_fps"], profile["frame_rule"]) == (
        checkpoint, frames, fps, rule)
    assert (profile["default_steps"], profile["default_guidance"]) == (steps, guidance)


def test_cogvideox_i2v_refuses_another_size_or_length_at_create(native: Callable[[str], InProcessLocalsora],
                                                                tmp_path: Path) -> None:
    client = native("cogvideox_i2v").client(_strict_response_validation=False)
    image = io.BytesIO()
    Image.new("RGB", (720, 480), (200, 80, 40)).save(image, format="PNG")
    reference = ("first.png", image.getvalue(), "image/png")
    with pytest.raises(openai.BadRequestError, match="Supported values are: '720x480'") as refused:
        client.videos.create(prompt="a lamp", model="cogvideox_i2v", size="1280x720", seconds="6",
                             input_reference=reference)
    assert refused.value.body["param"] == "size"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError, match="makes only 49 frames") as refused:
        client.videos.create(prompt="a lamp", model="cogvideox_i2v", size="720x480", seconds="6",
                             input_reference=reference, extra_body={"num_frames": 57})
    assert "'6'" in refused.value.body["message"]  # type: ignore[index]
    assert client.videos.list().data == []


def test_ltx_gets_its_decode_settings_negative_prompt_and_frame_rate(
        tiny_models: dict[str, Path], tmp_path: Path, device: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = DiffusersEngine(Settings(engine="diffusers", model=str(tiny_models["ltx"]), device=device))
    calls = spy_on_calls(monkeypatch, engine)
    engine.render(RenderRequest("a fox", 64, 64, 0.25, seed=1, num_inference_steps=2),
                  tmp_path / "ltx", lambda share: None)
    (call,) = calls
    assert (call["decode_timestep"], call["decode_noise_scale"], call["frame_rate"]) == (0.05, 0.025, 24)
    assert call["guidance_scale"] == 3.0 and "timesteps" not in call
    assert call["negative_prompt"] == LTX_NEGATIVE_PROMPT  # LTX-Video's own, where the request gives none


def distilled_like_its_repo(tiny: Path, root: Path, how: str) -> Path:
    """A copy of a tiny LTX laid out as a distilled checkpoint's files say it: in the Hugging Face cache's folder for
    the distilled repository, or with the maker's config in its transformer weights' header, which lists the only
    timesteps a distilled checkpoint takes (`allowed_inference_steps`)."""
    if how == "hub cache":
        folder = root / "hub" / "models--Lightricks--LTX-Video-0.9.7-distilled" / "snapshots" / "3c9f2d1"
        shutil.copytree(tiny, folder)
        return folder
    folder = shutil.copytree(tiny, root / "ltxv-13b-0.9.7-distilled")
    for weights in (folder / "transformer").glob("*.safetensors"):
        maker = {"allowed_inference_steps": [1.0, 0.9937, 0.9875, 0.9812, 0.975, 0.9094, 0.725]}
        save_file(load_file(weights), weights, metadata={"format": "pt", "config": json.dumps(maker)})
    return folder


@pytest.mark.parametrize("how", ["hub cache", "weights header"])
def test_a_distilled_ltx_is_recognised_from_its_files_and_gets_its_schedule(
        tiny_models: dict[str, Path], tmp_path: Path, device: str, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """LTX-Video's distilled checkpoints share the dev ones' configs; their files still tell them apart, and a request
    that leaves the settings out then gets guidance 1.0 and the distilled timesteps, with no flag."""
    folder = distilled_like_its_repo(tiny_models["ltx"], tmp_path, how)
    engine = DiffusersEngine(Settings(engine="diffusers", model=str(folder), device=device))
    summary = engine.capabilities.profile
    assert summary is not None and summary.checkpoint == "LTX-Video-distilled"
    assert (summary.default_steps, summary.default_guidance) == (8, 1.0)
    calls = spy_on_calls(monkeypatch, engine, diffusers.LTXConditionPipeline)  # the one that takes `timesteps`
    engine.render(RenderRequest("a fox", 64, 64, 0.25, seed=1), tmp_path / "clip", lambda share: None)
    (picture := tmp_path / "first.png").write_bytes(png_bytes(64, 64))
    engine.render(RenderRequest("a fox", 64, 64, 0.25, seed=1, reference_image=picture), tmp_path / "image",
                  lambda share: None)  # image-to-video too: its image a condition at frame 0
    text, image = calls
    for call in (text, image):
        assert call["guidance_scale"] == 1.0 and call["timesteps"] == [1000, 993, 987, 981, 975, 909, 725, 0.03]
    assert "image" in image and (tmp_path / "image" / "video.mp4").is_file()
    plain = DiffusersEngine(Settings(engine="diffusers", model=str(tiny_models["ltx"]), device=device))
    assert plain.capabilities.profile is not None and plain.capabilities.profile.checkpoint == "LTX-Video"


_LTX_13B = {"num_attention_heads": 32, "attention_head_dim": 128, "num_layers": 48}
_COG = frozenset({"tokenizer", "text_encoder", "transformer", "vae", "scheduler"})


@pytest.mark.parametrize(("layout", "checkpoint"), [
    (Layout("LTXConditionPipeline", _COG, _LTX_13B), "LTX-Video-13B"),
    (Layout("LTXPipeline", _COG, {"num_attention_heads": 32, "attention_head_dim": 64}), "LTX-Video"),
    (Layout("CogVideoXPipeline", _COG, {"num_attention_heads": 30, "attention_head_dim": 64}), "CogVideoX-2b"),
    (Layout("CogVideoXPipeline", _COG, {"num_attention_heads": 48, "use_rotary_positional_embeddings": True}),
     "CogVideoX-5b"),
    (Layout("CogVideoXImageToVideoPipeline", _COG, {"use_learned_positional_embeddings": True}),
     "CogVideoX-5b-I2V"),
    (Layout("CogVideoXPipeline", _COG, {"patch_size_t": 2}), "CogVideoX1.5-5B"),
    (Layout("CogVideoXImageToVideoPipeline", _COG, {"patch_size_t": 2}), "CogVideoX1.5-5B-I2V"),
])
def test_ltx_and_cogvideox_layouts_are_recognised(layout: Layout, checkpoint: str) -> None:
    assert profile_for(layout).name == checkpoint
