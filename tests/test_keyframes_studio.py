"""The studio's keyframes, Loop and Blend, and sound: requests through the real SDK to a real localsora, films
joined with PyAV, and the pages in AppTest."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest
from openai.types import Model
from streamlit.testing.v1 import AppTest

from localsora.process import LocalsoraProcess
from studio import errors
from studio.jobs import BLENDED_WITH, Jobs, VideoRequest
from studio.keyframes import LAST_FRAME, Keyframe, frame_count, image_keyframe, inpaint_form, still_at
from studio.library import Library, VideoRecord
from studio.media.film import join_clips
from studio.media.images import fit
from studio.media.sound import has_sound
from studio.provider.code_export import fitted_file_name, python_snippet
from studio.provider.discovery import capabilities_from_models
from studio.provider.profiles import ProviderOffer, load_providers
from tests.conftest import local_jobs, run_until_settled
from tests.media import decode_mp4, mp4_bytes, png_bytes
from tests.test_pages import button, make_finished, new_session, open_page, sidebar_text, texts


@pytest.fixture
def jobs(localsora: LocalsoraProcess, tmp_path: Path) -> Jobs:
    return local_jobs(localsora, tmp_path / "library")


@pytest.fixture
def library(data_dir: Path) -> Library:
    return Library(data_dir)


@pytest.fixture
def app(data_dir: Path) -> AppTest:
    return new_session()


def _made(jobs: Jobs, prompt: str) -> VideoRecord:
    [record] = jobs.submit(VideoRequest(prompt=prompt, size="1280x720"))
    done = run_until_settled(jobs, record.video_id)
    assert done.status == "completed", done.error_message
    return done


def _frame_at(path: Path, index: int) -> np.ndarray:
    with av.open(str(path)) as container:
        for number, frame in enumerate(container.decode(video=0)):
            if number == index:
                return frame.to_ndarray(format="rgb24").astype(int)
    raise AssertionError(f"{path} has no frame {index}")


def test_the_form_places_each_file_by_name_in_frame_order() -> None:
    end = image_keyframe(LAST_FRAME, "end.png", png_bytes(8, 8), "image/png")
    middle = image_keyframe(40, "middle.png", png_bytes(8, 8), "image/png")
    items, files = inpaint_form([end, middle])
    assert items == ('[{"frame_index": 40, "type": "image", "file_name": "middle.png"}, '
                     '{"frame_index": -1, "type": "image", "file_name": "end.png"}]')
    assert [(part, upload[0]) for part, upload in files] == [("files", "middle.png"), ("files", "end.png")]


def test_a_keyframe_that_is_not_a_picture_is_refused_by_name() -> None:
    with pytest.raises(errors.InvalidInput, match="notes.txt is text/plain"):
        image_keyframe(3, "notes.txt", b"hello", "text/plain")


def test_a_keyframe_past_the_last_frame_is_refused_before_anything_is_sent(jobs: Jobs) -> None:
    fitted = fit(png_bytes(1280, 720), "1280x720", "cover")
    late = image_keyframe(frame_count("4"), "end.png", png_bytes(1280, 720), "image/png")
    with pytest.raises(errors.InvalidInput, match="frame 96, but the video has frames 0 to 95"):
        jobs.submit(VideoRequest(prompt="A door opens", kind="image", size="1280x720", reference=fitted,
                                 keyframes=(late,)))
    assert jobs.library.count() == 0, "nothing was created"
    on_the_start = image_keyframe(0, "start.png", png_bytes(1280, 720), "image/png")
    with pytest.raises(errors.InvalidInput, match="both placed at frame 0"):
        jobs.submit(VideoRequest(prompt="A door opens", kind="image", size="1280x720", reference=fitted,
                                 keyframes=(on_the_start,)))


def test_an_image_job_with_an_end_frame_completes_at_its_size(jobs: Jobs) -> None:
    fitted = fit(png_bytes(1280, 720, (240, 30, 30)), "1280x720", "cover")
    end = image_keyframe(LAST_FRAME, "end.png", png_bytes(1280, 720, (30, 30, 240)), "image/png")
    [record] = jobs.submit(VideoRequest(prompt="Red turns to blue", kind="image", size="1280x720",
                                        reference=fitted, keyframes=(end,)))
    done = run_until_settled(jobs, record.video_id)
    assert done.status == "completed", done.error_message
    assert (done.kind, done.size, done.seconds) == ("image", "1280x720", "4")
    again = jobs.request_of(record.video_id)
    assert [(k.frame_index, k.file_name, k.data) for k in again.keyframes] == [(LAST_FRAME, "end.png", end.data)], \
        "Retry places the end frame again"


def test_the_end_frame_shows_at_the_last_frame(jobs: Jobs) -> None:
    """Needs localsora to honour `inpaint_items` (issue 20's server side)."""
    fitted = fit(png_bytes(1280, 720, (240, 30, 30)), "1280x720", "cover")
    last = frame_count("4") - 1
    end = image_keyframe(LAST_FRAME, "end.png", png_bytes(1280, 720, (30, 30, 240)), "image/png")
    [record] = jobs.submit(VideoRequest(prompt="Red turns to blue", kind="image", size="1280x720",
                                        reference=fitted, keyframes=(end,)))
    done = run_until_settled(jobs, record.video_id)
    picture = _frame_at(jobs.library.path(done.video_path), last)
    middle = picture[200:520, 300:980].mean(axis=(0, 1))  # away from the caption band
    assert middle[2] > middle[0] + 60, f"the last frame is mostly blue, as placed: {middle}"


def test_loop_is_one_request_recorded_with_its_source(jobs: Jobs) -> None:
    source = _made(jobs, "A paper boat drifting, pan right")
    request = jobs.loop_request(source.video_id)
    clip = jobs.library.path(source.video_path)
    assert [(k.frame_index, k.data) for k in request.keyframes] == [
        (0, still_at(clip, "last")), (LAST_FRAME, still_at(clip, "first"))], "it leads from the end back to the start"
    [loop] = jobs.submit(request)
    assert (loop.kind, loop.parent_video_id) == ("loop", source.video_id)
    assert [child.video_id for child in jobs.library.children(source.video_id)] == [loop.video_id]
    assert run_until_settled(jobs, loop.video_id).status == "completed"
    again = jobs.request_of(loop.video_id)
    assert (again.kind, again.source_video_id, len(again.keyframes)) == ("loop", source.video_id, 2), "Retry"


def test_blend_is_one_request_recorded_with_both_sources(jobs: Jobs) -> None:
    first = _made(jobs, "A red kite over a beach")
    second = _made(jobs, "A blue kite over a field")
    [blend] = jobs.submit(jobs.blend_request(first.video_id, second.video_id))
    assert (blend.kind, blend.parent_video_id, blend.extra[BLENDED_WITH]) == (
        "blend", first.video_id, second.video_id)
    done = run_until_settled(jobs, blend.video_id)
    assert done.status == "completed" and done.extra[BLENDED_WITH] == second.video_id, "kept after polling"
    again = jobs.request_of(blend.video_id)
    assert (again.kind, again.blend_with) == ("blend", second.video_id)


def test_blend_needs_two_different_downloaded_videos(jobs: Jobs) -> None:
    only = _made(jobs, "A lighthouse at dusk")
    with pytest.raises(errors.InvalidInput, match="two different videos"):
        jobs.blend_request(only.video_id, only.video_id)
    [pending] = jobs.submit(VideoRequest(prompt="Still rendering", size="1280x720"))
    if not jobs.library.get(pending.video_id).is_archived:
        with pytest.raises(errors.InvalidInput, match="not downloaded yet"):
            jobs.blend_request(only.video_id, pending.video_id)


def _clip_with_tone(path: Path, seconds: float, hertz: float, colour: tuple[int, int, int]) -> Path:
    rate, fps = 48_000, 24
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 64, 64, "yuv420p"
        audio = out.add_stream("aac", rate=rate, layout="stereo")
        picture = np.zeros((64, 64, 3), np.uint8) + np.array(colour, np.uint8)
        for index in range(round(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts = index
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        samples = 0.3 * np.sin(2 * np.pi * hertz * np.arange(round(seconds * rate)) / rate).astype(np.float32)
        for start in range(0, samples.size, 1024):
            chunk = np.ascontiguousarray(np.stack([samples[start:start + 1024]] * 2))
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = rate, start
            out.mux(audio.encode(frame))
        out.mux(audio.encode(None))
    return path


def _loudness(path: Path) -> tuple[float, np.ndarray]:
    """The film's sound as one mono track at 48 kHz, and its length in seconds."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=48_000)
    parts = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            parts += [f.to_ndarray()[0] for f in resampler.resample(frame)]
    sound = np.concatenate(parts)
    return sound.size / 48_000, sound


def test_a_film_keeps_each_shots_sound_crossfaded_at_the_joins(tmp_path: Path) -> None:
    shots = [_clip_with_tone(tmp_path / f"shot{n}.mp4", 1.0, hertz, colour)
             for n, (hertz, colour) in enumerate([(440, (200, 0, 0)), (660, (0, 200, 0)), (880, (0, 0, 200))])]
    film = join_clips(shots, "64x64", tmp_path / "film.mp4")
    assert film.audio != "none"
    seconds, sound = _loudness(film.path)
    assert seconds >= 2.9, f"sound runs the whole film, not {seconds:.2f} s"
    for join in (1.0, 2.0):  # no gap at a join: the sound is as loud there as mid-shot
        around = sound[round((join - 0.01) * 48_000):round((join + 0.01) * 48_000)]
        assert np.abs(around).max() > 0.15, f"sound across the join at {join} s"
    window = sound[round(0.985 * 48_000):round(1.015 * 48_000)]  # both tones sound together mid-fade
    spectrum = np.abs(np.fft.rfft(window * np.hanning(window.size)))
    freqs = np.fft.rfftfreq(window.size, 1 / 48_000)
    level = {hz: spectrum[np.argmin(np.abs(freqs - hz))] for hz in (440, 660)}
    assert min(level.values()) > 0.2 * max(level.values()), f"a crossfade, not a cut: {level}"


def test_keyframe_type_follows_its_media() -> None:
    assert Keyframe(0, "a.mp4", b"", "video/mp4").type == "video"
    assert Keyframe(0, "a.png", b"", "image/png").item() == {"frame_index": 0, "type": "image", "file_name": "a.png"}


def test_sound_is_told_from_the_file(tmp_path: Path) -> None:
    assert has_sound(_clip_with_tone(tmp_path / "tone.mp4", 0.5, 440, (0, 0, 0))) is True
    silent = tmp_path / "silent.mp4"
    silent.write_bytes(mp4_bytes(64, 48, 6))
    assert has_sound(silent) is False
    assert has_sound(tmp_path / "not-yet.mp4") is None, "nothing to tell before the download"


def test_cards_and_the_sidebar_say_what_has_sound(app: AppTest, library: Library,
                                                   localsora: LocalsoraProcess) -> None:
    voiced = make_finished(library, localsora, "A brass band in a park")
    silent = make_finished(library, localsora, "A silent film")
    library.path(silent.video_path).write_bytes(mp4_bytes(1280, 720, 12))
    open_page(app, "app_pages/gallery.py")
    cards = texts(app)
    assert "with sound" in cards and "no sound" in cards, "every card says which"
    assert "The model makes sound." in sidebar_text(app), "localsora's previz says audio: true"
    open_page(app, "app_pages/video.py", video=voiced.video_id)
    assert "with sound" in texts(app)
    [video] = app.get("video")
    assert not video.proto.muted, "a clip with sound plays unmuted"


def test_a_videos_page_loops_it_in_one_request(app: AppTest, library: Library, localsora: LocalsoraProcess) -> None:
    """Needs localsora to list the "keyframes" mode (issue 20's server side)."""
    source = make_finished(library, localsora, "A carousel turning")
    open_page(app, "app_pages/video.py", video=source.video_id)
    button(app, "Loop").click()
    app.run()
    [loop] = [r for r in library.page().records if r.kind == "loop"]
    assert loop.parent_video_id == source.video_id


def test_the_gallery_blends_two_picked_videos(app: AppTest, library: Library, localsora: LocalsoraProcess) -> None:
    """Needs localsora to list the "keyframes" mode (issue 20's server side)."""
    first = make_finished(library, localsora, "A snowy street")
    second = make_finished(library, localsora, "A sunny beach")
    open_page(app, "app_pages/gallery.py")
    app.toggle(key="gallery_blend").set_value(True)
    app.run()
    app.selectbox(key="blend_from").set_value(first.video_id)
    app.selectbox(key="blend_into").set_value(second.video_id)
    app.text_input(key="blend_prompt").set_value("The snow melts into sand")
    button(app, "Blend").click()
    app.run()
    [blend] = [r for r in library.page().records if r.kind == "blend"]
    assert (blend.parent_video_id, blend.extra[BLENDED_WITH], blend.prompt) == (
        first.video_id, second.video_id, "The snow melts into sand")
    open_page(app, "app_pages/video.py", video=blend.video_id)
    lineage = {link.proto.label for link in app.get("page_link")}
    assert {"Original: A snowy street", "Blended into: A sunny beach"} <= lineage, lineage  # the chain, then B


def test_image_to_video_places_an_end_frame_and_a_keyframe_on_its_slider(app: AppTest, library: Library,
                                                                         localsora: LocalsoraProcess) -> None:
    """Needs localsora to list the "keyframes" mode (issue 20's server side)."""
    open_page(app, "app_pages/image_to_video.py")
    app.toggle(key="i2v_keyframes").set_value(True)
    app.file_uploader(key="i2v_upload").set_value(("start.png", png_bytes(1280, 720, (240, 30, 30)), "image/png"))
    app.run()
    app.file_uploader(key="i2v_end").set_value(("end.png", png_bytes(1280, 720, (30, 30, 240)), "image/png"))
    app.file_uploader(key="i2v_more").set_value([("middle.png", png_bytes(1280, 720, (30, 240, 30)), "image/png")])
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    app.slider(key="i2v_frame_1").set_value(30)
    app.run()
    last = frame_count("4") - 1
    strip = [img.caption for image in app.image for img in image.proto.imgs if img.caption.startswith("frame")]
    assert strip == ["frame 0", "frame 30", f"frame {last}"], "the strip previews each picture at its frame"
    app.text_area(key="i2v_prompt").set_value("Red, then green, then blue")
    button(app, "Generate").click()
    app.run()
    [record] = library.page().records
    done = run_until_settled(local_jobs(localsora, library), record.video_id)
    path = library.path(done.video_path)
    for frame, channel in ((30, 1), (last, 2)):
        middle = _frame_at(path, frame)[200:520, 300:980].mean(axis=(0, 1))
        assert middle.argmax() == channel, f"frame {frame} shows its keyframe: {middle}"


def test_a_bad_end_frame_is_refused_and_nothing_is_sent(app: AppTest, library: Library) -> None:
    """Needs localsora to list the "keyframes" mode (issue 20's server side)."""
    open_page(app, "app_pages/image_to_video.py")
    app.toggle(key="i2v_keyframes").set_value(True)
    app.file_uploader(key="i2v_upload").set_value(("start.png", png_bytes(1280, 720), "image/png"))
    app.run()
    app.file_uploader(key="i2v_end").set_value(("end.png", b"\x89PNG\r\n\x1a\nnot really", "image/png"))
    app.text_area(key="i2v_prompt").set_value("It ends somewhere")
    app.run()
    assert "Reference image rejected" in texts(app)
    assert button(app, "Generate").disabled
    assert library.count() == 0


def test_the_exported_keyframe_snippet_runs_as_copied_against_localsora(localsora: LocalsoraProcess,
                                                                        tmp_path: Path) -> None:
    provider = load_providers({"LOCALSORA_URL": localsora.root_url})["local"]
    fitted = fit(png_bytes(1280, 720, (240, 30, 30)), "1280x720")
    (tmp_path / fitted_file_name("start.png", fitted)).write_bytes(fitted.data)
    (tmp_path / "end.png").write_bytes(png_bytes(1280, 720, (30, 30, 240)))
    end = image_keyframe(LAST_FRAME, "end.png", (tmp_path / "end.png").read_bytes(), "image/png")
    code = python_snippet(provider, VideoRequest(prompt="Red turns to blue", kind="image", size="1280x720",
                                                 reference=fitted, keyframes=(end,)), image_name="start.png")
    assert "inpaint_items" in code and '(-1, "end.png")' in code
    (tmp_path / "make_video.py").write_text(code)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_OPENAI_"))}
    done = subprocess.run([sys.executable, "make_video.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    [made] = tmp_path.glob("video_*.mp4")
    assert decode_mp4(made).width == 1280


def test_a_provider_that_places_no_frames_is_sent_no_loop_or_keyframes(jobs: Jobs) -> None:
    source = _made(jobs, "A windmill turning")
    jobs.provider = replace(jobs.provider, capabilities=replace(jobs.provider.capabilities, keyframes=False))
    with pytest.raises(errors.UnsupportedParameter, match="does not offer loop"):
        jobs.submit(jobs.loop_request(source.video_id))
    fitted = fit(png_bytes(1280, 720), "1280x720", "cover")
    end = image_keyframe(LAST_FRAME, "end.png", png_bytes(1280, 720), "image/png")
    with pytest.raises(errors.UnsupportedParameter, match="cannot place pictures at chosen frames"):
        jobs.submit(VideoRequest(prompt="A door opens", kind="image", size="1280x720", reference=fitted,
                                 keyframes=(end,)))
    assert [r.video_id for r in jobs.library.page().records] == [source.video_id], "nothing was sent"


def test_discovery_offers_keyframes_only_where_the_server_lists_them() -> None:
    static = ProviderOffer(sizes={})
    listed = [Model.construct(id="m", object="model", created=0, owned_by="x", capabilities={
        "sizes": ["1280x720"], "modes": ["text", "image"]})]
    assert capabilities_from_models(listed, static).keyframes is False
    listed[0].capabilities["modes"].append("keyframes")
    assert capabilities_from_models(listed, static).keyframes is True
