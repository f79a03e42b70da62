"""The one writer every engine shares: an H.264 MP4 (with AAC sound when the engine makes any), a WebP
thumbnail and a JPEG spritesheet, written beside each other under temporary names and renamed into place.
"""

from __future__ import annotations

import contextlib
import math
import os
import queue
import threading
import uuid
from collections.abc import Callable, Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from localsora.frames import BT709, LIMITED_RANGE, Planes, encoded_image, to_image

AUDIO_RATE = 48_000
VIDEO_NAME, THUMBNAIL_NAME, SPRITESHEET_NAME = "video.mp4", "thumbnail.webp", "spritesheet.jpg"
THUMBNAIL_LONG_SIDE = 640
SPRITE_TILE_LONG_SIDE = 256
SPRITE_COLUMNS, SPRITE_TILES = 4, 16


def write_clip(
    out_dir: Path,
    frames: Iterable[Planes],
    total: int,
    *,
    width: int,
    height: int,
    fps: int,
    audio: Callable[[], np.ndarray] | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> None:
    """Encode `total` frames into video.mp4, thumbnail.webp and spritesheet.jpg in `out_dir`.

    `on_frame(done)` runs after each frame is encoded; an exception from it (a cancel) stops the write
    and leaves nothing behind. The files appear only when all three are complete, the video last.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex
    finals = (THUMBNAIL_NAME, SPRITESHEET_NAME, VIDEO_NAME)  # the video goes last: its arrival means "done"
    temporaries = {name: out_dir / f".{name}.{token}.part" for name in finals}
    writer: Mp4Writer | None = None
    try:
        stills = Stills(total)
        writer = Mp4Writer(temporaries[VIDEO_NAME], width, height, fps, audio)
        done = 0
        for frame in frames:
            if done >= total:
                break
            stills.take(done, frame)
            writer.add(frame)
            done += 1
            if on_frame is not None:
                on_frame(done)
        if done != total:
            raise ValueError(f"The engine made {done} frames; {total} were planned.")
        writer.finish()
        stills.finish()
        temporaries[THUMBNAIL_NAME].write_bytes(stills.thumbnail)
        temporaries[SPRITESHEET_NAME].write_bytes(stills.spritesheet)
        for name in finals:
            os.replace(temporaries[name], out_dir / name)
    except BaseException:
        if writer is not None:
            writer.abort()
        for path in temporaries.values():
            path.unlink(missing_ok=True)
        raise


def clip_samples(frames: int, fps: int) -> int:
    """The audio samples, at AUDIO_RATE, that last exactly as long as `frames` frames at `fps`."""
    return frames * AUDIO_RATE // fps


def fitted_audio(waveform: np.ndarray, rate: int, samples: int) -> np.ndarray:
    """A model's waveform ((channels, n) or (n,), at `rate`) as the writer takes it: float32 stereo (2, samples)
    at AUDIO_RATE, resampled linearly, then cut or padded with silence to `samples`, so the track ends with the
    video."""
    wave = np.asarray(waveform, np.float32)
    wave = wave.reshape(1, -1) if wave.ndim == 1 else wave.reshape(wave.shape[-2], wave.shape[-1])
    if wave.shape[0] != 2:  # mono to both sides; more channels folded to their mean
        wave = np.repeat(wave.mean(axis=0, keepdims=True), 2, axis=0)
    length = round(wave.shape[1] * AUDIO_RATE / rate)
    if length != wave.shape[1] and wave.shape[1] > 1:
        times = np.arange(length) * (rate / AUDIO_RATE)
        wave = np.stack([np.interp(times, np.arange(wave.shape[1]), side) for side in wave]).astype(np.float32)
    out = np.zeros((2, samples), np.float32)
    kept = min(samples, wave.shape[1])
    out[:, :kept] = np.clip(wave[:, :kept], -1.0, 1.0)
    return out


class Mp4Writer:
    """H.264 + AAC into a faststart MP4. The audio is made and encoded on a thread of its own."""

    def __init__(
        self, path: Path, width: int, height: int, fps: int, audio: Callable[[], np.ndarray] | None
    ) -> None:
        """`audio` makes float32 (2, samples) at AUDIO_RATE; None writes a clip with no sound track."""
        self.fps = fps
        self.container = av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"})
        self.video = self.container.add_stream(
            "libx264", rate=fps, options={"preset": "ultrafast", "crf": "23"}
        )
        self.video.width, self.video.height, self.video.pix_fmt = width, height, "yuv420p"
        codec = self.video.codec_context
        codec.colorspace = codec.color_primaries = codec.color_trc = BT709
        codec.color_range = LIMITED_RANGE
        self.sound = None
        if audio is not None:
            self.sound = self.container.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
            self.sound.bit_rate = 128_000
        self.container.start_encoding()  # opens both encoders here, before the audio thread uses one
        self.count = 0
        self.audio_packets: queue.SimpleQueue[av.Packet | None] = queue.SimpleQueue()
        self.audio_error: BaseException | None = None
        self.audio_done = audio is None
        self.stopping = threading.Event()
        self.audio_thread = threading.Thread(
            target=self._encode_audio, args=(audio,), name="localsora-audio", daemon=True
        )
        if audio is not None:
            self.audio_thread.start()

    def _encode_audio(self, make_audio: Callable[[], np.ndarray]) -> None:
        # PyAV lets go of the GIL while encoding, so this runs alongside the drawing and x264.
        assert self.sound is not None
        try:
            audio = make_audio()
            step = self.sound.codec_context.frame_size or 1024
            for start in range(0, audio.shape[1], step):
                if self.stopping.is_set():
                    return
                frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(audio[:, start : start + step]), format="fltp", layout="stereo"
                )
                frame.sample_rate, frame.pts, frame.time_base = AUDIO_RATE, start, Fraction(1, AUDIO_RATE)
                for packet in self.sound.encode(frame):
                    self.audio_packets.put(packet)
            for packet in self.sound.encode(None):
                self.audio_packets.put(packet)
        except BaseException as exc:  # handed to the rendering thread, which raises it
            self.audio_error = exc
        finally:
            self.audio_packets.put(None)

    def add(self, frame: Planes) -> None:
        picture = frame.video_frame()
        picture.pts, picture.time_base = self.count, Fraction(1, self.fps)
        self.container.mux(self.video.encode(picture))
        self.count += 1
        self._mux_audio(wait=False)

    def _mux_audio(self, wait: bool) -> None:
        """Mux the audio packets ready so far (all of them when `wait`); the muxer interleaves by time."""
        while not self.audio_done:
            try:
                packet = self.audio_packets.get(block=wait)
            except queue.Empty:
                return
            if packet is None:
                self.audio_done = True
            else:
                self.container.mux(packet)

    def finish(self) -> None:
        self.container.mux(self.video.encode(None))
        if self.audio_thread.is_alive():
            self.audio_thread.join()
        self._mux_audio(wait=True)
        if self.audio_error is not None:
            raise self.audio_error
        self.container.close()

    def abort(self) -> None:
        self.stopping.set()
        if self.audio_thread.is_alive():
            self.audio_thread.join()
        # The half-written file is deleted next, so a failure to close it cleanly changes nothing.
        with contextlib.suppress(Exception):
            self.container.close()


class Stills:
    """The thumbnail and the spritesheet, made on the drawing thread from frames as they go by."""

    def __init__(self, total: int) -> None:
        tiles = min(SPRITE_TILES, total)
        self.sheet_indices = {round(i * (total - 1) / max(1, tiles - 1)) for i in range(tiles)}
        self.thumbnail_index = total // 2
        self.tiles: list[Image.Image] = []
        self.thumbnail = b""
        self.spritesheet = b""

    def take(self, index: int, frame: Planes) -> None:
        if index in self.sheet_indices:
            self.tiles.append(to_image(frame, SPRITE_TILE_LONG_SIDE))
        if index == self.thumbnail_index:
            # method 0 is WebP's fastest effort: a third of the default's time, for a barely larger file.
            self.thumbnail = encoded_image(to_image(frame, THUMBNAIL_LONG_SIDE), "WEBP", quality=82, method=0)

    def finish(self) -> None:
        columns = min(SPRITE_COLUMNS, len(self.tiles))
        tile_w, tile_h = self.tiles[0].size
        sheet = Image.new("RGB", (columns * tile_w, math.ceil(len(self.tiles) / columns) * tile_h))
        for i, tile in enumerate(self.tiles):
            sheet.paste(tile, ((i % columns) * tile_w, (i // columns) * tile_h))
        self.spritesheet = encoded_image(sheet, "JPEG", quality=80)
