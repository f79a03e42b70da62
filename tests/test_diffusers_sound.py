"""Sound from the diffusers engine: LTX-2's audio made with its video, and --audio-model's soundtrack for a silent
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
import openai
import pytest
from openai import OpenAI

from localsora.engines import EngineUnavailable
from localsora.engines.diffusers.engine import DiffusersEngine
from tests.conftest import wait_for_video
from tests.in_process import InProcessLocalsora, settings_for
from tests.media import png_bytes
from tests.tiny_pipelines import save_tiny_ltx2, save_tiny_stable_audio, write_not_a_model

os.environ["HF_HUB_OFFLINE"] = "1"  # no hub is reachable, and none may be asked
FAST = {"num_inference_steps": 2}


def tracks(data: bytes) -> tuple[float, int, float | None, str | None]:
    """(video seconds, video frames, audio seconds or None, audio codec or None) of an MP4, as PyAV reads them."""
    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        frames = samples = 0
        for frame in container.decode(*container.streams):  # one pass: a second would find the packets spent
            if isinstance(frame, av.AudioFrame):
                samples += frame.samples
            else:
                frames += 1
        video_seconds = frames / float(video.average_rate)
        if audio is None:
            return video_seconds, frames, None, None
        return video_seconds, frames, samples / audio.codec_context.sample_rate, audio.codec_context.name


def render(client: OpenAI, seconds: str = "1", extra_body: dict[str, object] | None = None, **more: object) -> bytes:
    video = client.videos.create(model="tiny", prompt="rain on a red car", size="96x64",  # type: ignore[arg-type]
                                 seconds=seconds, extra_body={**FAST, **(extra_body or {})}, **more)  # type: ignore[arg-type]
    done = wait_for_video(client, video.id)
    assert done.status == "completed", done.error
    return client.videos.download_content(video.id).read()


@pytest.fixture(scope="module")
def ltx2(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[InProcessLocalsora]:
    model = save_tiny_ltx2(tmp_path_factory.mktemp("models") / "tiny-ltx2")
    settings = settings_for(tmp_path_factory.mktemp("ltx2-data"), [
        "--engine", "diffusers", "--model", str(model), "--models", "tiny=96x64", "--durations", "1",
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


def test_ltx2_extension_keeps_the_sources_sound_under_the_whole_clip(ltx2: InProcessLocalsora) -> None:
    client = ltx2.client(_strict_response_validation=False)
    source = client.videos.create(model="tiny", prompt="rain", size="96x64", seconds="1", extra_body=FAST)
    assert wait_for_video(client, source.id).status == "completed"
    extension = client.videos.extend(prompt="the rain stops", seconds="1", video=openai.omit,
                                     extra_body={"video": {"id": source.id}, **FAST})
    done = wait_for_video(client, extension.id)
    assert done.status == "completed", done.error
    video_seconds, frames, audio_seconds, codec = tracks(client.videos.download_content(extension.id).read())
    assert frames == 48 and codec == "aac"
    assert audio_seconds is not None and abs(audio_seconds - video_seconds) <= float(Fraction(1, 24))


def test_models_says_ltx2_makes_sound(ltx2: InProcessLocalsora) -> None:
    (model,) = ltx2.client(_strict_response_validation=False).models.list().data
    capabilities = model.model_extra["capabilities"]  # type: ignore[index]
    assert capabilities["audio"] is True
    assert capabilities["modes"] == ["text", "image", "extend"]
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
