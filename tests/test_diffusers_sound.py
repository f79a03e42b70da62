"""Sound from the diffusers engine: LTX-2's audio made with its video, and --audio-model's soundtrack for a silent
model, on tiny random pipelines loaded by path, driven through the official SDK against the app in process.

The sound is noise (the weights are random); what is checked is that it is there, AAC, as long as the video to a
frame, and absent where a model makes none.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from fractions import Fraction

import av
import pytest
from openai import OpenAI

from tests.conftest import wait_for_video
from tests.in_process import InProcessLocalsora, settings_for
from tests.tiny_pipelines import save_tiny_ltx2

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


def render(client: OpenAI, **fields: object) -> bytes:
    video = client.videos.create(model="tiny", prompt="rain on a red car", size="96x64", seconds="1",
                                 extra_body={**FAST, **fields.pop("extra_body", {})}, **fields)  # type: ignore[arg-type]
    done = wait_for_video(client, video.id)
    assert done.status == "completed", done.error
    return client.videos.download_content(video.id).read()


@pytest.fixture(scope="module")
def ltx2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessLocalsora]:
    model = save_tiny_ltx2(tmp_path_factory.mktemp("models") / "tiny-ltx2")
    settings = settings_for(tmp_path_factory.mktemp("ltx2-data"), [
        "--engine", "diffusers", "--model", str(model), "--models", "tiny=96x64", "--durations", "1",
        "--poll-after-ms", "50", "--device", "cpu"])
    app = InProcessLocalsora(settings).start()
    yield app
    app.stop()


def test_ltx2_text_to_video_carries_its_sound_for_the_whole_clip(ltx2: InProcessLocalsora) -> None:
    client = ltx2.client(_strict_response_validation=False)
    video_seconds, frames, audio_seconds, codec = tracks(render(client))
    assert frames == 24  # 1 s at LTX-2's 24 fps
    assert codec == "aac"
    assert audio_seconds is not None and abs(audio_seconds - video_seconds) <= float(Fraction(1, 24))


def test_models_says_ltx2_makes_sound(ltx2: InProcessLocalsora) -> None:
    (model,) = ltx2.client(_strict_response_validation=False).models.list().data
    capabilities = model.model_extra["capabilities"]  # type: ignore[index]
    assert capabilities["audio"] is True
    assert capabilities["modes"] == ["text", "image", "extend"]
    assert capabilities["profile"]["checkpoint"] == "LTX-2"
    assert "makes sound" in capabilities["notes"]
