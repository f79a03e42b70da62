"""Storyboards against a real localsora: shots rendered as jobs and joined into one film with PyAV, re-rendered
shot by shot, chained by last frame or by extension; and the join itself on clips made here."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from openai import OpenAI

from localsora.process import LocalsoraProcess
from studio import storyboard as boards
from studio.jobs import Jobs
from studio.library import Library
from studio.media.film import join_clips
from studio.provider.discovery import discover
from studio.provider.profiles import Provider, load_providers
from tests.media import decode_mp4
from tests.waiting import wait_until

SMALL = ["--models", "sora-2=320x180,180x320", "--poll-after-ms", "200"]  # small frames: quick renders


def provider_for(server: LocalsoraProcess) -> Provider:
    provider = load_providers({"LOCALSORA_URL": server.root_url})["local"]
    found = discover(provider.client(), provider.capabilities)
    return provider.with_capabilities(found) if found else provider


def creates_received(server: LocalsoraProcess) -> int:
    """How many videos the server made. Not the strict client: the SDK's types list only Sora's sizes."""
    return len(list(OpenAI(base_url=server.base_url, api_key="local", max_retries=0).videos.list(limit=100)))


def render(library: Library, jobs: Jobs, board: boards.Storyboard, deadline: float = 180) -> boards.RenderState:
    """Step the render as the page's fragment does, until the film is joined; the deadline guards a hang."""

    def step() -> boards.RenderState:
        state = boards.render_step(library, jobs, board)
        assert state.done or not state.stuck, [s.message for s in state.shots]
        return state

    return wait_until(step, lambda state: state.done, what="the film to be joined", deadline=deadline, interval=0.1)


def render_in_background(library: Library, jobs: Jobs, storyboard_id: str, deadline: float = 180) -> boards.Storyboard:
    """Ask for the film, then tick `advance_storyboards` as the background worker does until it lets go."""
    boards.request_render(library, storyboard_id, jobs.provider)

    def tick() -> boards.Storyboard:
        boards.advance_storyboards(library, jobs)
        board = boards.load(library, storyboard_id)
        assert board is not None
        return board

    return wait_until(tick, lambda board: not board.rendering, what="the render to finish", deadline=deadline,
                      interval=0.1)


@pytest.fixture
def small_server(start_threaded: Callable[..., LocalsoraProcess]) -> LocalsoraProcess:
    """localsora with small frames, served on a loopback port from a thread."""
    return start_threaded(*SMALL)


def test_three_shots_make_one_12_second_film_and_a_changed_shot_renders_alone(small_server: LocalsoraProcess,
                                                                              tmp_path: Path) -> None:
    provider = provider_for(small_server)
    library = Library(tmp_path / "library")
    jobs = Jobs(provider, library)
    board = boards.new_storyboard("Harbour spot", provider, "sora-2", "320x180")
    board.shots = [boards.Shot("A red boat leaves the harbour at dawn, slow pan right"),
                   boards.Shot("Seagulls over blue water at noon, zoom in"),
                   boards.Shot("The boat returns at sunset, dolly out")]
    boards.save(library, board)

    state = render(library, jobs, board)

    film = state.film
    assert film is not None and film.kind == "storyboard" and film.status == "completed"
    clip = decode_mp4(library.path(film.video_path))
    assert (clip.width, clip.height) == (320, 180)
    assert abs(clip.duration - 12) <= 0.1 and clip.audio_codec == "aac" and clip.frames >= 12 * 23
    shot_ids = [s.video_id for s in board.shots]
    assert film.extra["shots"] == shot_ids and film.extra["video"] == "copied", "same shots: copied, not re-encoded"
    assert creates_received(small_server) == 3

    restarted = Library(tmp_path / "library")  # as a restart reads it; rendered by the worker's beat this time
    saved = boards.load(restarted, board.storyboard_id)
    assert saved is not None and [s.video_id for s in saved.shots] == shot_ids
    boards.edit(restarted, board.storyboard_id,
                lambda b: setattr(b.shots[1], "prompt", "Seagulls over green water at dusk, zoom in"))
    saved = render_in_background(restarted, Jobs(provider, restarted), board.storyboard_id)

    assert saved.last_error is None and creates_received(small_server) == 4, "only shot 2 was sent again"
    new_ids = [s.video_id for s in saved.shots]
    assert new_ids[0] == shot_ids[0] and new_ids[2] == shot_ids[2] and new_ids[1] != shot_ids[1]
    state = boards.current_state(restarted, saved)
    assert state.done and state.film is not None and state.film.video_id != film.video_id
    assert state.film.extra["shots"] == new_ids
    assert abs(decode_mp4(restarted.path(state.film.video_path)).duration - 12) <= 0.1


def test_a_shot_starts_from_the_last_frame_or_extends_the_shot_before(small_server: LocalsoraProcess,
                                                                      tmp_path: Path) -> None:
    provider = provider_for(small_server)
    assert boards.starts_offered(provider.capabilities) == ["fresh", "last_frame", "extend"]
    library = Library(tmp_path / "library")
    jobs = Jobs(provider, library)
    board = boards.new_storyboard("Chained", provider, "sora-2", "320x180")
    board.shots = [boards.Shot("A white lighthouse at noon, static"),
                   boards.Shot("Night falls on the lighthouse, slow zoom", start="last_frame"),
                   boards.Shot("Fog rolls in", start="extend")]

    state = render(library, jobs, board)

    first, second, third = (s.video for s in state.shots)
    assert second is not None and second.kind == "image" and second.reference_path
    assert third is not None and third.kind == "extend" and third.parent_video_id == second.video_id
    assert state.film is not None
    film = decode_mp4(library.path(state.film.video_path))
    assert abs(film.duration - 12) <= 0.1, "shot 1 (4 s), then shot 2 as extended by shot 3 (8 s)"

    board.shots[0].prompt = "A black lighthouse at noon, static"
    render(library, jobs, board)
    assert creates_received(small_server) == 6, "a changed shot renders again, and so do the shots chained to it"


def test_a_storyboard_with_a_bad_shot_is_refused_before_anything_is_sent(localsora: LocalsoraProcess,
                                                                        tmp_path: Path) -> None:
    provider = provider_for(localsora)
    board = boards.new_storyboard("Bad", provider, "sora-2", "720x1280")
    board.shots = [boards.Shot("Fine", seconds="4", start="last_frame"), boards.Shot("  ", seconds="5")]
    found = boards.problems(board, provider)
    assert found == ["Shot 1 has no previous shot to start from.", "Shot 2: Write a prompt first: describe the "
                     "shot you want.", "Shot 2: choose 4, 8, 12 seconds, not 5."]
    with pytest.raises(boards.errors.InvalidInput, match="Shot 2"):
        boards.render_step(Library(tmp_path / "library"), Jobs(provider, Library(tmp_path / "library")), board)


def write_clip(path: Path, size: tuple[int, int], seconds: float, *, sound: bool, shade: int = 100) -> Path:
    """A clip made here: H.264 (and AAC when `sound`), a grey that brightens frame by frame."""
    width, height = size
    fps = 24
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = out.add_stream("aac", rate=48_000, layout="stereo") if sound else None
        for index in range(round(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), (shade + index) % 255, np.uint8),
                                               format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if audio is not None:
            samples = round(seconds * 48_000)
            for start in range(0, samples, 1024):
                chunk = av.AudioFrame.from_ndarray(np.full((2, min(1024, samples - start)), 0.1, np.float32),
                                                   format="fltp", layout="stereo")
                chunk.sample_rate, chunk.pts, chunk.time_base = 48_000, start, Fraction(1, 48_000)
                out.mux(audio.encode(chunk))
            out.mux(audio.encode(None))
    return path


def test_the_join_copies_matching_shots_and_re_encodes_differing_ones(tmp_path: Path) -> None:
    loud = write_clip(tmp_path / "a.mp4", (64, 48), 1, sound=True)
    loud_too = write_clip(tmp_path / "b.mp4", (64, 48), 1, sound=True, shade=30)
    quiet_square = write_clip(tmp_path / "c.mp4", (32, 32), 1, sound=False)

    same = join_clips([loud, loud_too], "64x48", tmp_path / "same.mp4")
    assert (same.video, same.audio) == ("copied", "encoded"), "sound re-encoded to crossfade at the join"
    clip = decode_mp4(same.path)
    assert (clip.width, clip.height, clip.frames, clip.audio_codec) == (64, 48, 48, "aac")
    assert clip.frame_means[0] > 90 and clip.frame_means[-1] < 60, "the shots play in order"

    mixed = join_clips([loud, quiet_square, loud_too], "64x48", tmp_path / "mixed.mp4")
    assert (mixed.video, mixed.audio) == ("encoded", "encoded"), "a silent shot gets silence under it"
    clip = decode_mp4(mixed.path)
    assert (clip.width, clip.height, clip.audio_codec) == (64, 48, "aac") and abs(clip.duration - 3) <= 0.05

    silent = join_clips([quiet_square, quiet_square], "64x48", tmp_path / "silent.mp4")
    assert silent.audio == "none" and decode_mp4(silent.path).audio_codec is None
