"""End to end: finishing a clip in a real Chromium, on the real app and a real localsora (issue 23). The brand kit's
logo and end card applied with one click, subtitles from an .srt, a music bed and the 9:16 preset; the MP4 and a
GIF downloaded from the browser and read back with PyAV and Pillow, as a user's player would read them."""

from __future__ import annotations

import io
import math
import re
import struct
import wave
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from studio.brand_kit import BrandKit, save_brand_kit
from studio.library import Library, VideoRecord
from studio.media.upload_limits import SUBTITLE_FILE
from tests.e2e_support import E2E_LOCALSORA_ARGS, StudioApp, finished_video, wait_idle

pytestmark = pytest.mark.e2e
LOCALSORA_ARGS = E2E_LOCALSORA_ARGS
PROMPT = "A bottle of sparkling water on a kitchen table, slow dolly in"
CLIP_SECONDS = 4.0
KEPT_SECONDS = 3.0  # trimmed to its first 3 s
CARD_SECONDS = 2.0
LOGO_WIDTH, LOGO_MARGIN = 0.2, 0.04  # of the frame's width, and of its shorter side
FINISH_DONE = 180_000  # ms: the longest a 6 s 1080x1920 finish may take on two busy cores before the test gives up


def red_logo() -> bytes:
    """An opaque red square: its pixels are easy to find in a frame."""
    out = io.BytesIO()
    Image.new("RGBA", (64, 64), (255, 0, 0, 255)).save(out, format="PNG")
    return out.getvalue()


def music_wav(seconds: float = 8.0, rate: int = 44_100) -> bytes:
    """A loud 440 Hz tone: heard under the end card, where the clip has no sound of its own."""
    frames = b"".join(
        struct.pack("<h", int(16_000 * math.sin(2 * math.pi * 440 * n / rate))) for n in range(int(seconds * rate))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(frames)
    return out.getvalue()


SRT = "1\n00:00:00,200 --> 00:00:02,500\nFresh from the spring\n\n2\n00:00:02,600 --> 00:00:03,800\nNow in stores\n"


@pytest.fixture(scope="module")
def source(studio: StudioApp, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VideoRecord]:
    """A finished 4 s clip, and a brand kit saved on the server (as an admin would, in Settings)."""
    record = finished_video(studio, PROMPT, size="1280x720")
    save_brand_kit(
        Library(studio.data_dir),
        BrandKit(
            logo_corner="bottom-right",
            logo_margin=LOGO_MARGIN,
            logo_width=LOGO_WIDTH,
            logo_opacity=1.0,
            background="#102030",
            headline="Sparkling spring",
            call_to_action="Shop now",
            end_card_seconds=CARD_SECONDS,
        ),
        actor=None,
        logo=red_logo(),
    )
    yield record


def upload(page: Page, label: str, name: str, data: bytes, mime: str) -> None:
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text=label)
    uploader.locator("input[type=file]").set_input_files({"name": name, "mimeType": mime, "buffer": data})
    expect(uploader.get_by_text(name)).to_be_visible()
    wait_idle(page)


def open_finish(page: Page, studio: StudioApp, record: VideoRecord) -> None:
    page.goto(f"{studio.url}/?video={record.video_id}")  # the home page: /gallery would ask /gallery/_stcore/...
    wait_idle(page)
    page.get_by_text("Finish: logo, end card, subtitles, formats").click()
    wait_idle(page)


def choose(page: Page, label: str, option: str) -> None:
    """Pick `option` in the selectbox `label`; a click that lands while the panel is still being drawn opens
    nothing, so it is tried again."""
    for _ in range(3):
        page.get_by_label(label).click()
        try:
            page.get_by_role("option", name=option).click(timeout=5_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    else:
        raise AssertionError(f"{label!r} never offered {option!r}")
    wait_idle(page)


def tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name).click()
    wait_idle(page)


def finishes_of(library: Library, source: VideoRecord) -> list[str]:
    return [r.video_id for r in library.children(source.video_id) if r.kind == "finish"]


def decoded(path: Path) -> tuple[int, int, float, bool, np.ndarray, np.ndarray | None, list[str]]:
    """Width, height, duration, whether it has sound, the frame at the clip's middle, the sound under the card, and
    the lines of its subtitle track."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        duration = float(container.duration or 0) / av.time_base
        middle = next(f for f in container.decode(video) if f.time is not None and f.time >= KEPT_SECONDS / 2)
        frame = middle.to_ndarray(format="rgb24")
        has_audio = bool(container.streams.audio)
    under_card = None
    if has_audio:
        with av.open(str(path)) as container:
            chunks = [
                f.to_ndarray().astype(np.float32)
                for f in container.decode(audio=0)
                if f.time is not None and KEPT_SECONDS + 0.1 <= f.time <= KEPT_SECONDS + 0.4
            ]
            under_card = np.concatenate([c.reshape(-1) for c in chunks]) if chunks else None
    subtitles = []
    with av.open(str(path)) as container:
        for track in container.streams.subtitles:
            for packet in container.demux(track):
                sample = bytes(packet)
                if len(sample) > 2:  # a mov_text sample: its text's length in two bytes, then the text
                    subtitles.append(sample[2 : 2 + int.from_bytes(sample[:2], "big")].decode())
    width, height = video.codec_context.width, video.codec_context.height
    return width, height, duration, has_audio, frame, under_card, subtitles


def test_a_clip_finished_for_reels_with_the_brand_kit_subtitles_and_music(
    page: Page, studio: StudioApp, source: VideoRecord, tmp_path: Path
) -> None:
    open_finish(page, studio, source)
    page.get_by_role("button", name="Apply brand kit").click()
    wait_idle(page)
    tab(page, "Trim")
    out_point = page.get_by_role("slider", name="Keep from, to (seconds) — end")
    out_point.focus()
    for _ in range(round((CLIP_SECONDS - KEPT_SECONDS) * 10)):  # 0.1 s a step
        out_point.press("ArrowLeft")
    wait_idle(page)
    expect(out_point).to_have_attribute("aria-valuetext", f"{KEPT_SECONDS:.1f} s")
    tab(page, "Format")
    page.get_by_text("9:16 · Reels, TikTok, Shorts").click()
    wait_idle(page)
    frame = page.frame_locator("iframe").first.locator("img")  # the clickable source frame
    frame.click(position={"x": 5, "y": (frame.bounding_box() or {"height": 2})["height"] / 2})
    expect(page.get_by_text(re.compile(r"now [0-3]% across, 50% down"))).to_be_visible()  # the crop keeps the left
    wait_idle(page)
    tab(page, "Subtitles")
    upload(page, "Subtitles file", "captions.srt", SRT.encode(), "application/x-subrip")
    expect(page.get_by_text("2 lines read from captions.srt")).to_be_visible()
    page.get_by_text("As a subtitle track, with a .srt beside it").click()  # a player's CC button shows them
    wait_idle(page)
    tab(page, "End card")
    expect(page.get_by_label("Headline")).to_have_value("Sparkling spring")  # the kit's, applied in one click
    tab(page, "Music and bitrate")
    upload(page, "Music bed", "bed.wav", music_wav(), "audio/wav")
    page.get_by_role("button", name="Export MP4").click()
    expect(page.get_by_text("Finished: a new video")).to_be_visible(timeout=FINISH_DONE)
    wait_idle(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the finished MP4").click()
    target = tmp_path / "finished.mp4"
    download.value.save_as(target)

    width, height, duration, has_audio, frame, under_card, subtitles = decoded(target)
    assert (width, height) == (1080, 1920)
    assert abs(duration - (KEPT_SECONDS + CARD_SECONDS)) < 0.3, f"the trimmed clip and its card: {duration:.2f} s"
    assert has_audio, "the music bed is in the file"
    assert subtitles == ["Fresh from the spring", "Now in stores"], "the subtitles are a track of the file"
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the subtitles (.srt)").click()
    assert "Now in stores" in Path(download.value.path()).read_text(), "and a sidecar .srt"
    assert under_card is not None and float(np.sqrt(np.mean(under_card**2))) > 0.01, "the music plays under the card"
    # The logo: the kit's red square, 20% of the width, 4% of the shorter side in from the bottom-right corner.
    side, margin = round(1080 * LOGO_WIDTH), round(1080 * LOGO_MARGIN)
    red = frame[1920 - margin - side + 20 : 1920 - margin - 20, 1080 - margin - side + 20 : 1080 - margin - 20]
    assert red[..., 0].mean() > 200 and red[..., 1].mean() < 60 and red[..., 2].mean() < 60, "the logo in its corner"
    top_left = frame[margin : margin + side, margin : margin + side]
    assert not (top_left[..., 0].mean() > 200 and top_left[..., 1].mean() < 60), "and not in another corner"
    # A new item, linked to its source; the source itself unchanged.
    library = Library(studio.data_dir)
    [made_id] = finishes_of(library, source)
    assert library.get(source.video_id).video_path == source.video_path
    page.get_by_role("link", name="Open the finished video").click()
    wait_idle(page)
    expect(page.get_by_text(f"id {made_id}")).to_be_visible()


def test_a_gif_under_its_size_limit_and_a_poster_frame_download(
    page: Page, studio: StudioApp, source: VideoRecord, tmp_path: Path
) -> None:
    open_finish(page, studio, source)
    choose(page, "GIF width", "320 px")
    limit = page.get_by_role("spinbutton", name="GIF at most (MB)")
    limit.fill("1")
    limit.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Make GIF").click()
    wait_idle(page, timeout=FINISH_DONE)
    button = page.get_by_role("button", name="Download GIF")
    expect(button).to_be_visible()
    with page.expect_download() as download:
        button.click()
    target = tmp_path / "clip.gif"
    download.value.save_as(target)
    assert target.stat().st_size <= 1024 * 1024, f"{target.stat().st_size} bytes is over the 1 MB asked for"
    with Image.open(target) as gif:
        assert gif.format == "GIF" and gif.n_frames > 5 and gif.width == 320
    with page.expect_download() as download:
        page.get_by_role("button", name="Poster PNG").click()
    with Image.open(download.value.path()) as poster:
        assert (poster.format, poster.size) == ("PNG", (1280, 720)), "the frame, at the clip's own size"


def test_bad_uploads_are_refused_in_words_and_what_was_chosen_is_kept(
    page: Page, studio: StudioApp, source: VideoRecord
) -> None:
    library = Library(studio.data_dir)
    before = finishes_of(library, source)
    open_finish(page, studio, source)
    page.get_by_role("button", name="Apply brand kit").click()
    wait_idle(page)
    tab(page, "Music and bitrate")
    upload(page, "Music bed", "damaged.mp3", b"ID3 this is no song" * 50, "audio/mpeg")
    page.get_by_role("button", name="Export MP4").click()
    wait_idle(page, timeout=FINISH_DONE)
    expect(page.get_by_text("damaged.mp3 cannot be read as MP3 music")).to_be_visible()
    assert finishes_of(library, source) == before, "a failed export adds nothing to the library"
    tab(page, "Subtitles")
    upload(page, "Subtitles file", "huge.srt", SRT.encode() * (SUBTITLE_FILE.max_bytes // len(SRT) + 1), "text/plain")
    expect(page.get_by_text(SUBTITLE_FILE.refusal(SUBTITLE_FILE.max_bytes + 1)).first).to_be_visible()
    expect(page.get_by_role("button", name="Export MP4")).to_be_disabled()
    tab(page, "End card")
    expect(page.get_by_label("Headline")).to_have_value("Sparkling spring")  # what was chosen is still there
