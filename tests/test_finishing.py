"""Finishing (issue 23): real clips written with PyAV, finished, and decoded again to check what a viewer sees."""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from studio import finishing
from studio.access import Actor
from studio.errors import StudioError
from studio.library import Library, VideoRecord
from studio.media.finishing import (
    FORMAT_PRESETS,
    Caption,
    EndCard,
    FinishError,
    FinishSpec,
    Format,
    Logo,
    MusicBed,
    Subtitles,
    Trim,
    export_gif,
    finish_video,
    frame_at,
    parse_subtitles,
    poster_frame,
    reframe_preview,
)
from studio.prompts import short_title
from studio.worker import Worker
from tests.media import decode_mp4, encode_image, png_bytes
from tests.waiting import wait_until

BLUE = (40, 120, 200)
RED = (230, 20, 20)
YELLOW = (255, 230, 0)
RATE = 48_000

Paint = Callable[[int], np.ndarray]


def plain(width: int, height: int, colour: tuple[int, int, int] = BLUE) -> Paint:
    return lambda index: np.full((height, width, 3), colour, np.uint8)


def write_clip(
    path: Path,
    width: int,
    height: int,
    frames: int,
    paint: Paint | None = None,
    tone: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Path:
    """An H.264 MP4 at 24 fps of `paint(index)` pictures, with an AAC track of `tone(times)` when given."""
    paint = paint or plain(width, height)
    with av.open(str(path), mode="w", format="mp4") as out:
        video = out.add_stream("libx264", rate=24, options={"crf": "12"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = out.add_stream("aac", rate=RATE, layout="stereo") if tone else None
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(paint(index), format="rgb24")
            frame.pts = index
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if audio is not None and tone is not None:
            samples = tone(np.arange(round(frames / 24 * RATE)) / RATE).astype(np.float32)
            for start in range(0, len(samples), 1024):
                chunk = np.ascontiguousarray(np.stack([samples[start : start + 1024]] * 2))
                sound = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
                sound.sample_rate, sound.pts, sound.time_base = RATE, start, Fraction(1, RATE)
                out.mux(audio.encode(sound))
            out.mux(audio.encode(None))
    return path


def frames_of(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24").astype(np.int16) for f in container.decode(video=0)]


def sound_of(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        parts = [r.to_ndarray()[0] for frame in container.decode(audio=0) for r in resampler.resample(frame)]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def near(pixel: np.ndarray, colour: tuple[int, int, int], tolerance: int = 24) -> bool:
    return bool(np.all(np.abs(pixel - np.array(colour)) <= tolerance))


def logo_png(width: int = 200, height: int = 100, colour: tuple[int, int, int] = YELLOW) -> bytes:
    return encode_image(Image.new("RGBA", (width, height), (*colour, 255)))


def wav_bytes(seconds: float, pitch: float = 220.0) -> bytes:
    return music_bytes("wav", seconds, pitch)


MUSIC_CODECS = {"wav": ("wav", "pcm_s16le"), "mp3": ("mp3", "libmp3lame"), "m4a": ("ipod", "aac")}


def music_bytes(kind: str, seconds: float, pitch: float = 220.0) -> bytes:
    """A tone as a WAV, MP3 or M4A file, in memory."""
    container_format, codec = MUSIC_CODECS[kind]
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container_format) as out:
        stream = out.add_stream(codec, rate=44_100, layout="stereo")
        times = np.arange(round(seconds * 44_100)) / 44_100
        tone = (0.5 * np.sin(2 * np.pi * pitch * times)).astype(np.float32)
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="stereo", rate=44_100)
        step = stream.codec_context.frame_size or 1024
        for start in range(0, len(tone), step):
            piece = np.ascontiguousarray(np.stack([tone[start : start + step]] * 2))
            frame = av.AudioFrame.from_ndarray(piece, format="fltp", layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = 44_100, start, Fraction(1, 44_100)
            for converted in resampler.resample(frame):
                out.mux(stream.encode(converted))
        out.mux(stream.encode(None))
    return buffer.getvalue()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s of 320x180 whose frames count up in brightness (frame n is grey 4n + 20): a frame is known by its shade."""

    def grey(index: int) -> np.ndarray:
        return np.full((180, 320, 3), 20 + 4 * index, np.uint8)

    return write_clip(tmp_path_factory.mktemp("clips") / "counting.mp4", 320, 180, 48, grey)


@pytest.mark.parametrize("preset", list(FORMAT_PRESETS))
def test_each_preset_gives_its_exact_size(tmp_path: Path, preset: str) -> None:
    source = write_clip(tmp_path / "source.mp4", 320, 180, 4)
    width, height = FORMAT_PRESETS[preset]
    finished = finish_video(source, FinishSpec(format=Format(width, height)), tmp_path / "out.mp4")
    decoded = decode_mp4(finished.path)
    assert (decoded.width, decoded.height) == (width, height) == (finished.width, finished.height)
    assert (decoded.video_codec, decoded.pixel_format) == ("h264", "yuv420p")


def test_trim_is_frame_accurate_and_the_end_card_adds_its_length(clip: Path, tmp_path: Path) -> None:
    spec = FinishSpec(trim=Trim(0.5, 1.5), end_card=EndCard(seconds=1.0, colour="#ff0000", fade=0))
    finished = finish_video(clip, spec, tmp_path / "out.mp4")
    decoded = decode_mp4(finished.path)
    assert decoded.frames == 48  # 24 trimmed frames and 24 of the card
    assert abs(decoded.duration - 2.0) < 0.05 and finished.duration == pytest.approx(2.0)
    frames = frames_of(finished.path)
    assert abs(frames[0].mean() - (20 + 4 * 12)) < 3  # the first frame kept is source frame 12 (0.5 s)
    assert abs(frames[23].mean() - (20 + 4 * 35)) < 3  # the last is frame 35, just before 1.5 s
    assert near(frames[30][90, 160], RED)  # then the card
    assert finished.steps[0] == "trim 0.5–1.5 s"


def test_the_clip_fades_into_the_end_card(clip: Path, tmp_path: Path) -> None:
    spec = FinishSpec(end_card=EndCard(seconds=0.5, colour="#000000", fade=0.5))
    frames = frames_of(finish_video(clip, spec, tmp_path / "out.mp4").path)
    means = [f.mean() for f in frames[36:48]]  # the source brightens; the fade takes it down to the black card
    assert means[-1] < means[0] / 4 and all(a >= b - 1 for a, b in zip(means, means[1:], strict=False))
    assert frames[-1].mean() < 3


def test_a_long_end_card_headline_stays_on_the_card(tmp_path: Path) -> None:
    source = write_clip(tmp_path / "source.mp4", 320, 180, 6)
    card = EndCard(
        seconds=0.25,
        image=png_bytes(400, 200, RED),
        colour="#203040",
        headline="A very long headline that has to wrap on the square card",
        call_to_action="Call now",
        fade=0,
    )
    last = frames_of(
        finish_video(source, FinishSpec(format=Format(320, 320), end_card=card), tmp_path / "out.mp4").path
    )[-1]
    assert near(last[318, 160], (32, 48, 64))  # the card's own colour below the text: the text ends above the edge
    assert not near(last[200, 160], (32, 48, 64)) and not near(last[200, 160], RED)  # the text's box is there


def test_a_headline_too_long_for_the_card_is_set_smaller_to_fit(tmp_path: Path) -> None:
    source = write_clip(tmp_path / "source.mp4", 320, 180, 6)
    words = " ".join(["Launch"] * 40)
    card = EndCard(seconds=0.25, colour="#203040", headline=words, call_to_action="Call now", fade=0)
    last = frames_of(finish_video(source, FinishSpec(end_card=card), tmp_path / "out.mp4").path)[-1]
    edges = np.concatenate([last[:4].reshape(-1, 3), last[-4:].reshape(-1, 3)])
    assert np.abs(edges - np.array((32, 48, 64))).max() < 24  # the card's colour all along its top and bottom
    assert (last[..., 0] > 200).sum() > 500  # and the white text between


def test_logo_sits_in_its_corner(tmp_path: Path) -> None:
    source = write_clip(tmp_path / "source.mp4", 320, 180, 24)
    spec = FinishSpec(
        format=Format(360, 640), logo=Logo(logo_png(), corner="bottom-right", margin=0.05, width=0.25, opacity=1.0)
    )
    middle = frames_of(finish_video(source, spec, tmp_path / "out.mp4").path)[12]
    # 90 px wide, 45 tall, 18 px in from the bottom right corner of 360x640
    assert near(middle[640 - 18 - 22, 360 - 18 - 45], YELLOW)
    for corner in ((10, 10), (10, 350), (630, 10)):
        assert not near(middle[corner], YELLOW)
    assert not near(middle[640 - 18 - 22, 360 - 18 - 100], YELLOW)


def test_logo_opacity_lets_the_frame_show_through(tmp_path: Path) -> None:
    source = write_clip(tmp_path / "source.mp4", 320, 180, 6)
    spec = FinishSpec(logo=Logo(logo_png(colour=(255, 255, 255)), corner="top-left", margin=0, width=0.5, opacity=0.5))
    frame = frames_of(finish_video(source, spec, tmp_path / "out.mp4").path)[3]
    assert near(frame[20, 40], tuple((np.array(BLUE) + 255) // 2), tolerance=16)


def test_crop_keeps_the_focal_point(tmp_path: Path) -> None:
    def square(index: int) -> np.ndarray:  # a red square at 85 % across, 30 % down
        picture = np.full((360, 640, 3), BLUE, np.uint8)
        picture[88:128, 524:564] = RED
        return picture

    source = write_clip(tmp_path / "source.mp4", 640, 360, 6, square)
    focused = Format(180, 320, mode="crop", focal_x=0.85, focal_y=0.3)
    frame = frames_of(finish_video(source, FinishSpec(format=focused), tmp_path / "out.mp4").path)[3]
    red = np.argwhere((frame[..., 0] > 180) & (frame[..., 2] < 80))
    assert len(red) > 200  # the square is in the crop...
    assert 60 < red[:, 1].mean() < 120  # ...near the middle of its 180 px width, where it can be
    centred = Format(180, 320, mode="crop")
    frame = frames_of(finish_video(source, FinishSpec(format=centred), tmp_path / "centred.mp4").path)[3]
    assert not ((frame[..., 0] > 180) & (frame[..., 2] < 80)).any()  # a centred crop loses it


def test_fit_shows_the_whole_frame_over_blurred_bars(tmp_path: Path) -> None:
    def halves(index: int) -> np.ndarray:
        picture = np.full((180, 320, 3), RED, np.uint8)
        picture[:, 160:] = YELLOW
        return picture

    source = write_clip(tmp_path / "source.mp4", 320, 180, 6, halves)
    frame = frames_of(finish_video(source, FinishSpec(format=Format(180, 320, mode="fit")), tmp_path / "out.mp4").path)[
        3
    ]
    # the whole picture, 180x102, in the middle: both halves show
    assert near(frame[160, 40], RED) and near(frame[160, 140], YELLOW)
    bar = frame[:80]
    assert bar.mean() > 60  # not black bars...
    assert near(bar[40, 90], (240, 125, 10), tolerance=60)  # ...but a blur of the middle, where red meets yellow
    assert not near(bar[40, 70], RED) and not near(bar[40, 110], YELLOW)  # soft, 20 px either side of the edge


def test_reframe_preview_is_what_the_export_shows(tmp_path: Path) -> None:
    def square(index: int) -> np.ndarray:
        picture = np.full((360, 640, 3), BLUE, np.uint8)
        picture[150:210, 60:120] = RED
        return picture

    source = write_clip(tmp_path / "source.mp4", 640, 360, 6, square)
    for fmt in (Format(180, 320, mode="crop", focal_x=0.15), Format(180, 320, mode="fit")):
        preview = np.asarray(reframe_preview(frame_at(source, 0.1), fmt), dtype=np.int16)
        exported = frames_of(finish_video(source, FinishSpec(format=fmt), tmp_path / "out.mp4").path)[2]
        assert preview.shape == exported.shape == (320, 180, 3)
        assert np.abs(preview - exported).mean() < 4


def test_burned_subtitles_change_pixels_only_while_they_show(clip: Path, tmp_path: Path) -> None:
    plain_frames = frames_of(finish_video(clip, FinishSpec(), tmp_path / "plain.mp4").path)
    captions = Subtitles((Caption(0.5, 1.0, "A caption long enough to wrap onto a second line of this narrow clip"),))
    captioned = frames_of(finish_video(clip, FinishSpec(subtitles=captions), tmp_path / "captioned.mp4").path)
    changed = [float(np.abs(a - b).mean()) for a, b in zip(plain_frames, captioned, strict=True)]
    assert all(changed[n] > 3 for n in range(12, 24))  # 0.5 s to 1 s
    assert all(changed[n] < 0.5 for n in [*range(0, 11), *range(26, 48)])


def test_a_caption_too_long_for_the_frame_is_set_smaller_not_cut(clip: Path, tmp_path: Path) -> None:
    larger = Format(640, 360)
    plain_frames = frames_of(finish_video(clip, FinishSpec(format=larger), tmp_path / "plain.mp4").path)
    long = Subtitles((Caption(0, 2, " ".join(["everything"] * 60)),))
    frame = frames_of(finish_video(clip, FinishSpec(format=larger, subtitles=long), tmp_path / "long.mp4").path)[12]
    changed = np.abs(frame - plain_frames[12]).max(axis=2) > 12
    rows = np.flatnonzero(changed.any(axis=1))
    assert rows.max() - rows.min() <= 360 * 0.4 + 2  # at most 40 % of the frame's height...
    assert rows.min() >= 360 * 0.48 - 2 and rows.max() <= 360 * 0.88 + 2  # ...in its lower part, whole


def test_soft_subtitles_are_a_track_and_an_srt_beside_the_clip(clip: Path, tmp_path: Path) -> None:
    captions = (Caption(0.2, 0.9, "First line"), Caption(1.2, 1.8, "Second, with a comma"))
    finished = finish_video(clip, FinishSpec(subtitles=Subtitles(captions, burn_in=False)), tmp_path / "out.mp4")
    assert finished.subtitle_path == tmp_path / "out.srt"
    assert parse_subtitles(finished.subtitle_path.read_bytes(), "out.srt") == captions
    with av.open(str(finished.path)) as container:
        assert [s.codec_context.name for s in container.streams.subtitles] == ["mov_text"]
        assert b"ftab" in container.streams.subtitles[0].codec_context.extradata  # a whole text sample description
        texts = [bytes(p)[2:].decode() for p in container.demux(container.streams.subtitles[0]) if p.size > 2]
    assert texts == ["First line", "Second, with a comma"]
    assert finished.steps == ["2 subtitles as a soft track and an .srt"]
    plain = frames_of(finish_video(clip, FinishSpec(), tmp_path / "plain.mp4").path)
    assert np.abs(frames_of(finished.path)[10] - plain[10]).mean() < 0.5  # nothing burned into the picture


def test_a_music_bed_gives_a_silent_clip_sound_through_the_end_card(clip: Path, tmp_path: Path) -> None:
    assert decode_mp4(clip).audio_codec is None
    spec = FinishSpec(music=MusicBed(wav_bytes(1.0), "bed.wav", fade_out=0.5), end_card=EndCard(seconds=1.0))
    finished = finish_video(clip, spec, tmp_path / "out.mp4")
    assert finished.has_audio and decode_mp4(finished.path).audio_codec == "aac"
    sound = sound_of(finished.path)
    assert len(sound) >= 2.9 * RATE  # the clip and the card (the 1 s bed starts again)
    loudness = [float(np.sqrt(np.mean(sound[int(s * RATE) : int((s + 0.25) * RATE)] ** 2))) for s in (0.5, 1.2, 2.2)]
    assert all(level > 0.05 for level in loudness)  # under the clip, after the bed looped, and under the card
    assert float(np.abs(sound[-int(0.05 * RATE) :]).max()) < 0.03  # faded out at the end


@pytest.mark.parametrize("kind", ["mp3", "m4a"])
def test_mp3_and_m4a_beds_are_read_too(clip: Path, tmp_path: Path, kind: str) -> None:
    spec = FinishSpec(music=MusicBed(music_bytes(kind, 2.0), f"bed.{kind}", fade_out=0))
    finished = finish_video(clip, spec, tmp_path / "out.mp4")
    sound = sound_of(finished.path)
    assert finished.has_audio and float(np.sqrt(np.mean(sound[RATE // 2 : RATE] ** 2))) > 0.05


def test_the_bed_ducks_where_the_clip_has_its_own_sound(tmp_path: Path) -> None:
    def first_half_tone(times: np.ndarray) -> np.ndarray:
        return np.where(times < 1.0, 0.3 * np.sin(2 * np.pi * 1000 * times), 0.0)

    source = write_clip(tmp_path / "source.mp4", 320, 180, 48, tone=first_half_tone)
    spec = FinishSpec(music=MusicBed(wav_bytes(2.0, pitch=200), "bed.wav", volume=0.5, duck=0.25, fade_out=0))
    sound = sound_of(finish_video(source, spec, tmp_path / "out.mp4").path)

    def bed_level(start: float) -> float:  # the bed's 200 Hz, apart from the clip's own 1 kHz
        piece = sound[int(start * RATE) : int((start + 0.5) * RATE)]
        spectrum = np.abs(np.fft.rfft(piece))
        return float(spectrum[round(200 * 0.5)])

    assert bed_level(0.25) < bed_level(1.3) / 2.5  # ducked to a quarter under the tone
    assert decode_mp4(source).audio_codec == "aac"


def test_the_source_is_never_changed(clip: Path, tmp_path: Path) -> None:
    before = digest(clip)
    spec = FinishSpec(
        trim=Trim(0.2, 1.0),
        format=Format(180, 320),
        logo=Logo(logo_png()),
        end_card=EndCard(headline="Try it"),
        music=MusicBed(wav_bytes(0.5), "bed.wav"),
    )
    finish_video(clip, spec, tmp_path / "out.mp4")
    assert digest(clip) == before
    with pytest.raises(FinishError, match="never overwritten"):
        finish_video(clip, spec, clip)
    assert digest(clip) == before


def test_progress_runs_to_one(clip: Path, tmp_path: Path) -> None:
    seen: list[float] = []
    finish_video(clip, FinishSpec(end_card=EndCard(seconds=0.5)), tmp_path / "out.mp4", on_progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == 60


def test_a_finish_stopped_part_way_leaves_nothing(clip: Path, tmp_path: Path) -> None:
    class Stopped(Exception):
        pass

    def stop_half_way(share: float) -> None:
        if share > 0.5:
            raise Stopped  # as a page's rerun stops its script mid-export

    spec = FinishSpec(subtitles=Subtitles((Caption(0, 1, "Hi"),), burn_in=False), music=MusicBed(wav_bytes(1), "a.wav"))
    with pytest.raises(Stopped):
        finish_video(clip, spec, tmp_path / "out" / "finished.mp4", on_progress=stop_half_way)
    assert list((tmp_path / "out").iterdir()) == []


def test_bitrate_choice_sets_the_stream_bitrate(tmp_path: Path) -> None:
    def noise(index: int) -> np.ndarray:
        return np.random.default_rng(index).integers(0, 255, (180, 320, 3), dtype=np.uint8)

    source = write_clip(tmp_path / "source.mp4", 320, 180, 48, noise)
    low = finish_video(source, FinishSpec(bitrate_kbps=300), tmp_path / "low.mp4")
    high = finish_video(source, FinishSpec(bitrate_kbps=3000), tmp_path / "high.mp4")
    low_kbps = low.path.stat().st_size * 8 / 2 / 1000
    assert low_kbps < 600 and high.path.stat().st_size > 3 * low.path.stat().st_size
    assert low.steps == ["300 kbps"]


def test_gif_is_made_under_its_limit(clip: Path, tmp_path: Path) -> None:
    def noise(index: int) -> np.ndarray:
        return np.random.default_rng(index).integers(0, 255, (180, 320, 3), dtype=np.uint8)

    source = write_clip(tmp_path / "noisy.mp4", 320, 180, 24, noise)
    loose = export_gif(source, tmp_path / "loose.gif", width=320, fps=12, max_megabytes=5)
    tight = export_gif(source, tmp_path / "tight.gif", width=320, fps=12, max_megabytes=0.25)
    assert tight.size_bytes <= 0.25 * 1024 * 1024 < loose.size_bytes
    assert tight.path.stat().st_size == tight.size_bytes and tight.width < 320
    with Image.open(tight.path) as gif:
        assert gif.format == "GIF" and gif.n_frames == 12 and gif.size == (tight.width, tight.height)


def test_gif_limit_nothing_meets_is_refused_and_writes_nothing(clip: Path, tmp_path: Path) -> None:
    with pytest.raises(FinishError, match="over the .* limit"):
        export_gif(clip, tmp_path / "out.gif", width=320, fps=24, max_megabytes=0.001)
    assert list(tmp_path.iterdir()) == []


def test_poster_frame_is_the_picture_at_that_moment(clip: Path) -> None:
    with Image.open(io.BytesIO(poster_frame(clip, 1.0))) as poster:
        assert poster.format == "PNG" and poster.size == (320, 180)
        assert abs(np.asarray(poster).mean() - (20 + 4 * 24)) < 3
    with pytest.raises(FinishError, match="outside the clip"):
        poster_frame(clip, 5.0)


def corrupt_png() -> bytes:
    return logo_png()[:60]


def huge_png() -> bytes:
    return encode_image(Image.new("1", (6000, 6000)))


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (FinishSpec(logo=Logo(corrupt_png())), "logo cannot be read as a PNG"),
        (FinishSpec(logo=Logo(b"")), "logo is empty"),
        (FinishSpec(logo=Logo(encode_image(Image.new("RGB", (40, 40)), "JPEG"))), "logo cannot be read as a PNG"),
        (FinishSpec(logo=Logo(huge_png())), "too large"),
        (FinishSpec(end_card=EndCard(image=b"not a picture")), "end card picture cannot be read"),
        (FinishSpec(end_card=EndCard(colour="sky")), "not a colour"),
        (FinishSpec(music=MusicBed(b"ID3 not really music", "song.mp3")), "song.mp3 cannot be read"),
        (FinishSpec(music=MusicBed(wav_bytes(0.5), "song.flac")), "MP3, WAV or M4A"),
        (FinishSpec(trim=Trim(1.5, 1.0)), "outside the clip"),
        (FinishSpec(trim=Trim(0.5, 9.0)), "outside the clip"),
        (FinishSpec(format=Format(1081, 1920)), "even number"),
        (FinishSpec(subtitles=Subtitles((Caption(2.0, 1.0, "backwards"),))), "end after it starts"),
        (FinishSpec(subtitles=Subtitles((Caption(0, 1, "x"),), font="/nonexistent.ttf")), "font"),
        (FinishSpec(bitrate_kbps=5), "bitrate"),
    ],
)
def test_bad_input_is_refused_in_words_and_leaves_nothing(
    clip: Path, tmp_path: Path, spec: FinishSpec, words: str
) -> None:
    target = tmp_path / "out" / "finished.mp4"
    with pytest.raises(FinishError, match=words):
        finish_video(clip, spec, target)
    assert not target.parent.exists() or list(target.parent.iterdir()) == []


def test_a_source_that_is_no_video_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42 but nothing else")
    with pytest.raises(FinishError, match="not a video that can be read"):
        finish_video(broken, FinishSpec(), tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()


SRT = """1
00:00:01,000 --> 00:00:02,500
<i>Hello</i> there

2
00:00:03,000 --> 00:00:04,250
Two lines
of text
"""

VTT = """WEBVTT

NOTE written by hand

intro
00:01.000 --> 00:02.500 align:center
Hello &amp; welcome

00:00:03.000 --> 00:00:04.250
<c.yellow>Bye</c>
"""


def test_srt_and_vtt_files_become_captions() -> None:
    assert parse_subtitles(SRT.encode("utf-8-sig"), "talk.srt") == (
        Caption(1.0, 2.5, "Hello there"),
        Caption(3.0, 4.25, "Two lines\nof text"),
    )
    assert parse_subtitles(VTT.encode(), "talk.vtt") == (
        Caption(1.0, 2.5, "Hello & welcome"),
        Caption(3.0, 4.25, "Bye"),
    )


@pytest.mark.parametrize(
    ("data", "name", "words"),
    [
        (SRT.replace("00:00:03,000 -->", "00:00:03 -->"), "talk.srt", "line 6: .* is not a time range"),
        (SRT.replace("00:00:02,500", "00:00:00,500"), "talk.srt", "line 2: the caption ends"),
        (VTT.removeprefix("WEBVTT"), "talk.vtt", "WEBVTT"),
        ("just some words\n", "talk.srt", "has no captions"),
        (SRT, "talk.txt", "upload an .srt or .vtt"),
    ],
)
def test_unreadable_subtitles_say_which_line(data: str, name: str, words: str) -> None:
    with pytest.raises(FinishError, match=words):
        parse_subtitles(data.encode(), name)


# The library level: a finish is a new item linked to its source.


@pytest.fixture
def library_with_clip(tmp_path: Path, clip: Path) -> tuple[Library, VideoRecord]:
    library = Library(tmp_path / "library")
    folder = library.folder_for("video_source1")
    folder.mkdir(parents=True)
    path = folder / "video.mp4"
    path.write_bytes(clip.read_bytes())
    source = library.add(
        VideoRecord(
            video_id="video_source1",
            provider="local",
            kind="generate",
            status="completed",
            prompt="**Blue** earbuds glow",
            model="previz",
            size="320x180",
            seconds="2",
            created_at=time.time(),
            completed_at=time.time(),
            video_path=library.relative(path),
            owner="ana",
        )
    )
    return library, source


def test_finish_adds_a_new_linked_item_and_keeps_the_source(library_with_clip: tuple[Library, VideoRecord]) -> None:
    library, source = library_with_clip
    source_file = library.path(source.video_path)
    before = digest(source_file)
    spec = FinishSpec(
        trim=Trim(0, 1.5), format=Format(180, 320), subtitles=Subtitles((Caption(0, 1, "Hi"),), burn_in=False)
    )
    made = finishing.finish(library, source.video_id, spec, actor=Actor("bo", signed_in=True))
    assert made.video_id != source.video_id and library.get(made.video_id) == made
    assert (made.kind, made.parent_video_id, made.owner, made.status) == ("finish", "video_source1", "bo", "completed")
    assert made.title == "Blue earbuds glow · 9:16" and made.remote_deleted
    assert (made.size, made.seconds) == ("180x320", "1.5")
    finished_file = library.path(made.video_path)
    assert finished_file != source_file and decode_mp4(finished_file).width == 180
    assert library.path(made.thumbnail_path).exists()
    assert made.extra["finish"]["steps"][:2] == ["trim 0–1.5 s", "9:16 180x320 (crop around the focal point)"]
    assert library.path(made.extra["subtitles_path"]).read_text().startswith("1\n00:00:00,000 --> 00:00:01,000")
    assert [c.video_id for c in library.children(source.video_id)] == [made.video_id]
    assert library.get(source.video_id) == source and digest(source_file) == before


def test_a_finished_cut_files_with_its_source(library_with_clip: tuple[Library, VideoRecord]) -> None:
    library, source = library_with_clip
    library.update(source.video_id, folder="Spring launch")
    made = finishing.finish(library, source.video_id, FinishSpec(format=Format(180, 320)))
    assert made.folder == "Spring launch", "the campaign's 9:16 cut shows under the campaign's folder"


def test_a_long_source_title_is_cut_once_so_the_preset_shows(library_with_clip: tuple[Library, VideoRecord]) -> None:
    library, source = library_with_clip
    long = library.update(source.video_id, prompt="A glass perfume bottle on a marble table, slow push in, soft light")
    made = finishing.finish(library, long.video_id, FinishSpec(format=Format(180, 320)))
    assert made.title == "A glass perfume bottle on a marble table, slow push… · 9:16"
    assert short_title(made.title, 60) == made.title, "shown whole where titles are cut at 60 (title_of)"


def test_a_finish_that_fails_adds_nothing(library_with_clip: tuple[Library, VideoRecord]) -> None:
    library, source = library_with_clip
    folders = sorted(library.files_dir.iterdir())
    with pytest.raises(FinishError, match="logo"):
        finishing.finish(library, source.video_id, FinishSpec(logo=Logo(corrupt_png())))
    with pytest.raises(FinishError, match="Choose at least one"):
        finishing.finish(library, source.video_id, FinishSpec())
    assert library.children(source.video_id) == [] and sorted(library.files_dir.iterdir()) == folders


def test_finish_many_makes_one_item_each_and_reports_the_ones_it_could_not(
    library_with_clip: tuple[Library, VideoRecord],
) -> None:
    library, source = library_with_clip
    seen: list[float] = []
    result = finishing.finish_many(
        library,
        [source.video_id, "video_missing", source.video_id],
        FinishSpec(format=Format(160, 160)),
        on_progress=seen.append,
    )
    assert [r.parent_video_id for r in result.made] == [source.video_id] * 2
    assert len({r.video_id for r in result.made}) == 2
    assert result.failed == [("video_missing", "No video 'video_missing' in the library.")]
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_gif_and_poster_exports_land_in_the_source_folder(library_with_clip: tuple[Library, VideoRecord]) -> None:
    library, source = library_with_clip
    gif = finishing.save_gif(library, source.video_id, width=160, fps=8, max_megabytes=1)
    poster = finishing.save_poster(library, source.video_id, 1.0)
    exports = library.folder_for(source.video_id) / "exports"
    assert gif.path.parent == exports == poster.parent
    assert Image.open(gif.path).format == "GIF" and Image.open(poster).format == "PNG"
    assert library.get(source.video_id) == source


def test_a_finished_video_reads_as_made_here_from_its_source(data_dir: Path, clip: Path) -> None:
    from tests.test_pages import new_session, open_page, texts

    library = Library(data_dir)
    folder = library.folder_for("video_source1")
    folder.mkdir(parents=True)
    (folder / "video.mp4").write_bytes(clip.read_bytes())
    library.add(
        VideoRecord(
            video_id="video_source1",
            provider="local",
            kind="generate",
            status="completed",
            prompt="Blue earbuds glow",
            model="previz",
            size="320x180",
            seconds="2",
            created_at=time.time(),
            completed_at=time.time(),
            video_path=library.relative(folder / "video.mp4"),
        )
    )
    made = finishing.finish(library, "video_source1", FinishSpec(trim=Trim(0, 1)))
    at = open_page(new_session(), "app_pages/video.py", video=made.video_id)
    shown = texts(at)
    assert "Finished in this studio from its source; this library keeps its copy." in shown
    assert "Deleted on the provider" not in shown
    assert "Finished here: trim 0–1 s" in shown and "This video (finished)" in shown
    assert "Original: Blue earbuds glow" in [link.proto.label for link in at.main.get("page_link")]
    at = open_page(at, "app_pages/video.py", video="video_source1")
    assert "Finished: Blue earbuds glow · finished" in [link.proto.label for link in at.main.get("page_link")]
    at = open_page(at, "app_pages/remix.py", video=made.video_id)
    assert "This finished video was made in this studio, so it is sent from this library as an MP4." in texts(at)
    at = open_page(at, "app_pages/gallery.py")
    assert any(":violet-badge[Finished]" in m.value for m in at.main.markdown if "Blue earbuds glow ·" in m.value)


def test_a_trim_past_the_first_seconds_starts_on_its_frame(tmp_path: Path) -> None:
    def shade(index: int) -> np.ndarray:
        return np.full((180, 320, 3), 20 + 3 * index, np.uint8)

    source = write_clip(tmp_path / "three.mp4", 320, 180, 72, shade)
    frames = frames_of(finish_video(source, FinishSpec(trim=Trim(2.0, 2.5)), tmp_path / "out.mp4").path)
    assert len(frames) == 12
    assert [round((f.mean() - 20) / 3) for f in (frames[0], frames[-1])] == [48, 59]


def test_an_odd_sized_source_comes_out_even(tmp_path: Path) -> None:
    source = tmp_path / "odd.mp4"
    with av.open(str(source), mode="w", format="mp4") as out:  # 4:4:4 H.264 may have odd sides; 4:2:0 may not
        video = out.add_stream("libx264", rate=24)
        video.width, video.height, video.pix_fmt = 321, 181, "yuv444p"
        for index in range(6):
            frame = av.VideoFrame.from_ndarray(np.full((181, 321, 3), BLUE, np.uint8), format="rgb24")
            frame.pts = index
            out.mux(video.encode(frame.reformat(format="yuv444p")))
        out.mux(video.encode(None))
    finished = finish_video(source, FinishSpec(logo=Logo(logo_png())), tmp_path / "out.mp4")
    decoded = decode_mp4(finished.path)
    assert (finished.width, finished.height) == (decoded.width, decoded.height) == (320, 180)
    assert decoded.pixel_format == "yuv420p" and decoded.frames == 6


# On the server: exports run on the worker's finishing thread, so they end with the page left or the tab closed.


def test_an_export_runs_in_the_background_and_lands_in_the_library(
    library_with_clip: tuple[Library, VideoRecord],
) -> None:
    library, source = library_with_clip
    queue = finishing.FinishQueue(library)
    try:
        task = queue.submit([source.video_id], FinishSpec(format=Format(180, 320)), actor=Actor("bo", signed_in=True))
        assert not task.ended, "submit hands the export over and returns; the page is not held"
        assert queue.running_for(source.video_id) == [task], "a page opened meanwhile sees it running"
        ended = wait_until(lambda: queue.get(task.task_id), lambda t: t.ended, what="the export to end", deadline=60)
        [made] = library.children(source.video_id)
        assert ended.made == (made.video_id,) and ended.failed == () and ended.progress == 1.0
        assert (made.kind, made.owner, made.size) == ("finish", "bo", "180x320")
        assert queue.running_for(source.video_id) == []
    finally:
        queue.stop()


def test_an_export_refused_at_once_queues_nothing(library_with_clip: tuple[Library, VideoRecord]) -> None:
    library, source = library_with_clip
    queue = finishing.FinishQueue(library)
    with pytest.raises(FinishError, match="Choose at least one"):
        queue.submit([source.video_id], FinishSpec())
    with pytest.raises(StudioError, match="No video 'video_missing'"):
        queue.submit(["video_missing"], FinishSpec(format=Format(160, 160)))
    assert queue.running_for(source.video_id) == [] and queue.running_for("video_missing") == []


def test_a_bad_clip_in_a_background_export_is_said_and_the_next_one_still_runs(
    library_with_clip: tuple[Library, VideoRecord],
) -> None:
    library, source = library_with_clip
    queue = finishing.FinishQueue(library)
    try:
        bad = queue.submit([source.video_id], FinishSpec(music=MusicBed(b"ID3 no song" * 50, "damaged.mp3")))
        good = queue.submit([source.video_id], FinishSpec(format=Format(160, 160)))
        ended = wait_until(lambda: queue.get(good.task_id), lambda t: t.ended, what="the exports to end", deadline=60)
        [(_, why)] = queue.get(bad.task_id).failed
        assert "damaged.mp3" in why and queue.get(bad.task_id).made == ()
        assert [c.video_id for c in library.children(source.video_id)] == list(ended.made)
    finally:
        queue.stop()


def test_stopping_the_server_ends_every_export_in_words_and_leaves_nothing_half_made(
    library_with_clip: tuple[Library, VideoRecord],
) -> None:
    library, source = library_with_clip
    before = sorted(library.files_dir.iterdir())
    queue = finishing.FinishQueue(library)
    spec = FinishSpec(format=Format(180, 320), end_card=EndCard(seconds=1.0))
    tasks = [queue.submit([source.video_id], spec) for _ in range(3)]
    queue.stop()
    assert all(t.ended for t in tasks), "no page is left watching an export that will never end"
    made = {c.video_id for c in library.children(source.video_id)}
    for task in tasks:  # the first may have finished before the stop; the others were abandoned, saying so
        assert task.made or "server stopped" in task.failed[0][1]
    assert sorted(library.files_dir.iterdir()) == sorted([*before, *(library.folder_for(i) for i in made)])
    with pytest.raises(StudioError, match="stopping"):
        queue.submit([source.video_id], spec)


def test_an_export_left_by_a_stopped_server_is_taken_up_by_the_next(
    library_with_clip: tuple[Library, VideoRecord],
) -> None:
    library, source = library_with_clip
    spec = FinishSpec(  # every kind of part a request keeps: numbers, text, pictures and sound, a tuple of lines
        trim=Trim(0, 1.5),
        format=Format(180, 320, mode="fit"),
        logo=Logo(logo_png(), corner="top-left"),
        subtitles=Subtitles((Caption(0, 0.5, "One"), Caption(0.5, 1.0, "Two")), burn_in=False),
        end_card=EndCard(seconds=0.5, headline="Spring", image=png_bytes(32, 18)),
        music=MusicBed(wav_bytes(1), "bed.wav"),
        bitrate_kbps=2000,
    )
    first = finishing.FinishQueue(library)
    tasks = [first.submit([source.video_id], spec, actor=Actor("bo", signed_in=True)) for _ in range(2)]
    first.stop()
    kept = sorted(p.name for p in first.folder.iterdir())
    made_before = {c.video_id for c in library.children(source.video_id)}
    assert len(kept) + len(made_before) == 2, "each export is either done or kept for the next server"
    for name in kept:
        task, read_back, attempts = finishing.read_request(first.folder / name)
        assert read_back == spec and task.owner == "bo" and task.source_ids == (source.video_id,)

    worker = Worker(library).start()  # the next server's worker: at start-up it takes up what was left, unasked
    try:
        wait_until(lambda: library.children(source.video_id), lambda made: len(made) == 2,
                   what="the kept exports to be done", deadline=120)
        assert set(kept) <= {t.task_id for t in tasks}  # the same exports, not new ones
        assert all(c.owner == "bo" and c.size == "180x320" for c in library.children(source.video_id))
        wait_until(lambda: list(first.folder.iterdir()), lambda left: left == [], what="the requests to go")
    finally:
        worker.stop()


def test_a_request_that_cannot_be_read_or_keeps_failing_is_dropped(
    library_with_clip: tuple[Library, VideoRecord],
) -> None:
    library, source = library_with_clip
    folder = library.data_dir / finishing.QUEUE_FOLDER
    (folder / "export_garbled").mkdir(parents=True)
    (folder / "export_garbled" / "task.json").write_text("{not json")
    task = finishing.FinishTask("export_doomed", (source.video_id,), "")
    finishing.write_request(folder / task.task_id, task, FinishSpec(format=Format(160, 160)))
    for _ in range(finishing.MAX_ATTEMPTS):  # each start died during it, as a server killed mid-export
        finishing.count_attempt(folder / task.task_id)
    queue = finishing.FinishQueue(library)
    try:
        assert list(folder.iterdir()) == [] and library.children(source.video_id) == []
        assert queue.running_for(source.video_id) == []
    finally:
        queue.stop()


def test_an_export_that_cannot_be_kept_on_disk_is_refused_in_words(
    library_with_clip: tuple[Library, VideoRecord],
) -> None:
    library, source = library_with_clip
    (library.data_dir / finishing.QUEUE_FOLDER).write_text("")  # where the requests go cannot hold one
    queue = finishing.FinishQueue(library)
    with pytest.raises(StudioError, match="The export could not be queued"):
        queue.submit([source.video_id], FinishSpec(format=Format(160, 160)))
    assert queue.running_for(source.video_id) == [] and library.children(source.video_id) == []
