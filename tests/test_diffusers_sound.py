"""Sound from the diffusers engine: LTX-2's audio made with its video in every mode (text, image, keyframes, remix and
edits, extensions, through LTX2ConditionPipeline beyond the first two), and --audio-model's soundtrack for a silent
model, on tiny random pipelines loaded by path, driven through the official SDK against the app in process.

The sound is noise (the weights are random); what is checked is that it is there, AAC, as long as the video to a
frame, and absent where a model makes none. `pytest --device cuda` renders on a GPU, as for
test_diffusers_engine.py.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import openai
import pytest
from openai import OpenAI

from localsora.config import Settings
from localsora.engines import EngineUnavailable
from localsora.engines.base import RenderRequest
from localsora.engines.diffusers.engine import DiffusersEngine
from tests.conftest import create_with_keyframes, wait_for_video
from tests.in_process import InProcessLocalsora, settings_for
from tests.media import decode_mp4, mp4_bytes, png_bytes, sound_of, tracks
from tests.test_diffusers_engine import assert_edits_follow_strength, assert_extensions_follow_motion
from tests.tiny_pipelines import save_tiny_ltx2, save_tiny_stable_audio, write_not_a_model

os.environ["HF_HUB_OFFLINE"] = "1"  # no hub is reachable, and none may be asked
FAST = {"num_inference_steps": 2}


def render(client: OpenAI, seconds: str = "1", extra_body: dict[str, object] | None = None, **more: object) -> bytes:
    video = client.videos.create(model="tiny", prompt="rain on a red car", size="96x64",  # type: ignore[arg-type]
                                 seconds=seconds, extra_body={**FAST, **(extra_body or {})}, **more)  # type: ignore[arg-type]
    done = wait_for_video(client, video.id)
    assert done.status == "completed", done.error
    return client.videos.download_content(video.id).read()


def finished(client: OpenAI, video: openai.types.Video) -> bytes:
    """The finished video's MP4."""
    done = wait_for_video(client, video.id)
    assert done.status == "completed", done.error
    return client.videos.download_content(video.id).read()


def assert_clip_with_sound(data: bytes, frames: int, fps: int = 24) -> None:
    """96x64, `frames` frames, and an AAC track as long as the video to a frame."""
    clip = decode_mp4(data)
    assert (clip.width, clip.height) == (96, 64)
    video_seconds, count, audio_seconds, codec = tracks(data)
    assert count == frames and codec == "aac"
    assert audio_seconds is not None and abs(audio_seconds - video_seconds) <= 1 / fps


@pytest.fixture(scope="module")
def ltx2_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_ltx2(tmp_path_factory.mktemp("models") / "tiny-ltx2")


@pytest.fixture(scope="module")
def ltx2(ltx2_model: Path, tmp_path_factory: pytest.TempPathFactory,
         pytestconfig: pytest.Config) -> Iterator[InProcessLocalsora]:
    settings = settings_for(tmp_path_factory.mktemp("ltx2-data"), [
        "--engine", "diffusers", "--model", str(ltx2_model), "--models", "tiny=96x64", "--durations", "1",
        "--extension-durations", "1", "--poll-after-ms", "50", "--device", pytestconfig.getoption("device")])
    app = InProcessLocalsora(settings).start()
    yield app
    app.stop()


def test_ltx2_text_to_video_carries_its_sound_for_the_whole_clip(ltx2: InProcessLocalsora) -> None:
    client = ltx2.client(_strict_response_validation=False)
    video_seconds, frames, audio_seconds, codec = tracks(render(client))
    assert frames == 24  # 1 s at LTX-2's 24 fps
    assert codec == "aac"
    assert audio_seconds is not None and abs(audio_seconds - video_seconds) <= float(Fraction(1, 24))


def test_ltx2_image_to_video_carries_its_sound_and_sound_false_drops_it(ltx2: InProcessLocalsora) -> None:
    client = ltx2.client(_strict_response_validation=False)
    reference = ("first.png", png_bytes(96, 64), "image/png")
    video_seconds, frames, audio_seconds, codec = tracks(render(client, input_reference=reference))
    assert frames == 24 and codec == "aac"
    assert audio_seconds is not None and abs(audio_seconds - video_seconds) <= float(Fraction(1, 24))
    *_, codec = tracks(render(client, extra_body={"sound": False}))
    assert codec is None


def test_ltx2_extension_keeps_the_sources_sound_and_goes_on_with_the_models(ltx2: InProcessLocalsora) -> None:
    """LTX2ConditionPipeline extends from the source's last 9 frames; the MP4 keeps the source's sound under the
    source's second, then the model's own under the new one (silence there before)."""
    client = ltx2.client(_strict_response_validation=False)
    source = client.videos.create(model="tiny", prompt="rain", size="96x64", seconds="1", extra_body=FAST)
    before = sound_of(finished(client, source))
    extension = client.videos.extend(prompt="the rain stops", seconds="1", video=openai.omit,
                                     extra_body={"video": {"id": source.id}, **FAST})
    data = finished(client, extension)
    assert_clip_with_sound(data, 48)
    after = sound_of(data)
    seam = before.shape[1]
    kept = np.abs(after[:, : seam - 2048] - before[:, : seam - 2048]).mean()  # AAC's frames blur the seam's ends
    assert kept < 0.2 * np.abs(before).mean(), "the source's sound changed under its part"
    assert np.sqrt((after[:, seam + 2048 :] ** 2).mean()) > 0.01, "the new part is silent"


def test_ltx2_extension_carries_the_sources_motion_across_the_seam(ltx2: InProcessLocalsora) -> None:
    """Its extension is conditioned on the source's last 9 frames, not its last one, as LTX-Video's is."""
    assert_extensions_follow_motion(ltx2.client(_strict_response_validation=False), 24)


FIRST_AND_LAST = [{"frame_index": 0, "type": "image", "file_name": "first.png"},
                  {"frame_index": -1, "type": "image", "file_name": "last.png"}]
FIRST_AND_LAST_FILES = [("first.png", png_bytes(96, 64, (220, 40, 40)), "image/png"),
                        ("last.png", png_bytes(96, 64, (40, 40, 220)), "image/png")]


def test_ltx2_keyframes_remix_and_edit_deliver_the_clip_with_its_sound(ltx2: InProcessLocalsora) -> None:
    """The modes LTX2ConditionPipeline does: a first and a last image make a clip with the model's sound; a remix and
    an edit of it keep its length and its sound (their frames keep the source's timing)."""
    client = ltx2.client(_strict_response_validation=False)
    keyframed = create_with_keyframes(client, FIRST_AND_LAST, FIRST_AND_LAST_FILES, prompt="a box", model="tiny",
                                      size="96x64", seconds="1", **FAST)
    source = finished(client, keyframed)
    assert_clip_with_sound(source, 24)
    remix = finished(client, client.videos.remix(keyframed.id, prompt="a blue box", extra_body=FAST))
    edit = finished(client, client.videos.edit(prompt="a green box", video=openai.omit,
                                               extra_body={"video": {"id": keyframed.id}, **FAST}))
    for made in (remix, edit):
        assert_clip_with_sound(made, 24)
        difference = np.abs(sound_of(made) - sound_of(source)).mean()
        assert difference < 0.2 * np.abs(sound_of(source)).mean(), "the source's sound is not kept"
    # Middle placements, an image and a clip, are LTX-2's other kind of condition (tokens added at their frames).
    items = [{"frame_index": 8, "type": "image", "file_name": "mid.png"},
             {"frame_index": 16, "type": "video", "file_name": "clip.mp4"}]
    files = [("mid.png", png_bytes(96, 64), "image/png"), ("clip.mp4", mp4_bytes(96, 64, 12), "video/mp4")]
    assert_clip_with_sound(finished(client, create_with_keyframes(
        client, items, files, prompt="a box", model="tiny", size="96x64", seconds="1", **FAST)), 24)


def test_ltx2_remix_follows_the_source_as_far_as_strength_says(ltx2: InProcessLocalsora) -> None:
    """LTX2ConditionPipeline starts from the source's latents noised to `strength` (the tail of its sigma schedule),
    checked as for the other families. The uploaded sources are silent, so each edit carries the model's sound, but
    at strength 0, which keeps the source as it is."""
    client = ltx2.client(_strict_response_validation=False)

    def check(video_id: str, strength: float) -> None:
        data = client.videos.download_content(video_id).read()
        if strength:
            assert_clip_with_sound(data, 24)
        else:
            assert tracks(data)[1:] == (24, None, None)

    assert_edits_follow_strength(client, 24, check)


def test_ltx2_places_keyframes_at_latent_frames_and_ends_on_the_last(ltx2_model: Path, tmp_path: Path,
                                                                      pytestconfig: pytest.Config) -> None:
    """LTX2VideoCondition takes a latent frame's index: an image sits at made frame 0 or at the first frame of a later
    latent frame (1, 9, 17, ...). The engine makes enough frames that the delivered clip ends on the frame the last
    image sits at, and places a middle image at the latent frame nearest its own."""
    engine = DiffusersEngine(Settings(engine="diffusers", model=str(ltx2_model), models={"tiny": ("96x64",)},
                                      device=pytestconfig.getoption("device")))
    colours = {"first.png": (220, 40, 40), "middle.png": (40, 220, 40), "last.png": (40, 40, 220)}
    for name, colour in colours.items():
        (tmp_path / name).write_bytes(png_bytes(96, 64, colour))
    placed = [{"frame_index": index, "type": "image", "file": str(tmp_path / name), "item": item}
              for item, (index, name) in enumerate([(0, "first.png"), (9, "middle.png"), (23, "last.png")])]
    count = engine._keyframe_frames_for(24)
    shown = engine._placeable_end(count) + 1
    call = engine._keyframe_call(RenderRequest("a box", 96, 64, 1.0, keyframes=placed), count, shown, 24, 96, 64, 24)
    first, middle, last = call["conditions"]
    latents = (count - 1) // 8 + 1
    assert (first.index, last.index) == (0, latents - 1)
    assert (last.index - 1) * 8 + 1 == shown - 1 >= 23, "the clip ends on the made frame the last image sits at"
    at = round(9 * (shown - 1) / 23)  # the made frame delivered frame 9 shows
    assert abs((middle.index - 1) * 8 + 1 - at) <= 4
    for condition, colour in zip((first, middle, last), colours.values(), strict=True):
        assert np.allclose(np.asarray(condition.frames).reshape(-1, 3).mean(axis=0), colour, atol=3)


def test_models_says_ltx2_makes_sound(ltx2: InProcessLocalsora) -> None:
    (model,) = ltx2.client(_strict_response_validation=False).models.list().data
    capabilities = model.model_extra["capabilities"]  # type: ignore[index]
    assert capabilities["audio"] is True
    assert capabilities["modes"] == ["text", "image", "remix", "edit", "extend", "keyframes"]
    assert capabilities["parameters"]["strength"]["maximum"] == 1
    assert capabilities["profile"]["checkpoint"] == "LTX-2"
    assert "makes sound" in capabilities["notes"]


@pytest.fixture(scope="module")
def soundtracked(tiny_wan_model: Path, tmp_path_factory: pytest.TempPathFactory,
                 pytestconfig: pytest.Config) -> Iterator[InProcessLocalsora]:
    """A silent tiny Wan with a tiny Stable Audio as its --audio-model."""
    audio_model = save_tiny_stable_audio(tmp_path_factory.mktemp("models") / "tiny-stable-audio")
    settings = settings_for(tmp_path_factory.mktemp("soundtrack-data"), [
        "--engine", "diffusers", "--model", str(tiny_wan_model), "--models", "tiny=96x64", "--durations", "1,2",
        "--poll-after-ms", "50", "--device", pytestconfig.getoption("device"), "--audio-model", str(audio_model)])
    app = InProcessLocalsora(settings).start()
    yield app
    app.stop()


def test_audio_model_gives_a_silent_model_a_soundtrack_of_the_clips_length(soundtracked: InProcessLocalsora) -> None:
    client = soundtracked.client(_strict_response_validation=False)
    video_seconds, frames, audio_seconds, codec = tracks(render(client, seconds="2"))
    assert frames == 32  # 2 s at Wan's 16 fps
    assert codec == "aac"
    assert audio_seconds is not None and abs(audio_seconds - video_seconds) <= float(Fraction(1, 16))
    (model,) = client.models.list().data
    capabilities = model.model_extra["capabilities"]  # type: ignore[index]
    assert capabilities["audio"] is True and "--audio-model" in capabilities["notes"]
    assert capabilities["parameters"]["sound"]["type"] == "boolean"


def test_sound_false_leaves_the_clip_silent(soundtracked: InProcessLocalsora) -> None:
    *_, codec = tracks(render(soundtracked.client(_strict_response_validation=False), extra_body={"sound": False}))
    assert codec is None


def test_audio_prompt_describes_the_sound_in_place_of_the_prompt(soundtracked: InProcessLocalsora) -> None:
    client = soundtracked.client(_strict_response_validation=False)

    def sound(**fields: object) -> bytes:
        data = render(client, extra_body={"seed": 7, **fields})
        with av.open(io.BytesIO(data)) as container:
            return b"".join(bytes(packet) for packet in container.demux(audio=0))

    from_prompt = sound()
    assert sound(audio_prompt="rain on a red car") == from_prompt  # the prompt itself: the same sound
    assert sound(audio_prompt="thunder over the sea") != from_prompt


def test_sound_must_be_true_or_false(soundtracked: InProcessLocalsora) -> None:
    client = soundtracked.client(_strict_response_validation=False)
    with pytest.raises(openai.BadRequestError) as refused:
        client.videos.create(model="tiny", prompt="rain", size="96x64", seconds="1", extra_body={"sound": "loud"})
    assert "sound" in str(refused.value)


def test_audio_model_must_be_a_text_to_audio_pipeline(tiny_wan_model: Path, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, ["--engine", "diffusers", "--model", str(tiny_wan_model), "--device", "cpu",
                                       "--audio-model", str(tiny_wan_model)])
    with pytest.raises(EngineUnavailable, match="--audio-model .* holds a WanPipeline; it takes a text-to-audio"):
        DiffusersEngine(settings)


def test_audio_model_that_is_no_pipeline_is_named_by_its_flag(tiny_wan_model: Path, tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "data", ["--engine", "diffusers", "--model", str(tiny_wan_model),
                                                "--device", "cpu", "--audio-model",
                                                str(write_not_a_model(tmp_path / "holiday"))])
    with pytest.raises(EngineUnavailable, match="no model_index.json. Point --audio-model at"):
        DiffusersEngine(settings)
