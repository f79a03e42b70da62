"""Previz sound: a soft pad in the look's key, or the source clip's own sound, as float32 stereo."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from localsora.encode import AUDIO_RATE
from localsora.engines.previz.look import Look
from localsora.media import MediaInfo, decoded_audio


def synth_audio(look: Look, samples: int) -> np.ndarray:
    """A soft pad: root, fifth and octave under a slow swell; bright looks sit an octave higher."""
    t = np.arange(samples, dtype=np.float64) / AUDIO_RATE
    brightness = float(np.mean(look.palette)) / 255
    semitone = (0, 3, 5, 7, 10)[look.seed % 5] + (12 if brightness > 0.55 else 0)
    semitone -= 5 if look.time_of_day == "night" else 0
    root = 110.0 * 2 ** (semitone / 12)
    swell = 0.8 + 0.2 * np.sin(2 * math.pi * 0.2 * t + (look.seed >> 8) % 7)
    channels = []
    for detune in (0.9985, 1.0015):  # a slight detune between the ears makes it wide
        partials = ((1, 0.5), (1.5, 0.22), (2, 0.16), (3, 0.05))
        wave = sum(level * np.sin(2 * math.pi * root * ratio * detune * t) for ratio, level in partials)
        channels.append(wave * swell * 0.3)
    audio = np.array(channels, np.float32)
    _fade_ends(audio, min(round(0.3 * AUDIO_RATE), samples // 4))
    return audio


def _fade_ends(audio: np.ndarray, length: int) -> None:
    if length > 0:
        ramp = np.linspace(0, 1, length, dtype=np.float32)
        audio[:, :length] *= ramp
        audio[:, -length:] *= ramp[::-1]


def source_audio(path: Path, info: MediaInfo, look: Look, samples: int) -> np.ndarray:
    """The source's sound as 48 kHz stereo, cut or padded to `samples`; a synthesized pad if it has none."""
    if not info.has_audio:
        return synth_audio(look, samples)
    decoded = decoded_audio(path, AUDIO_RATE)[:, :samples]
    audio = np.zeros((2, samples), np.float32)
    audio[:, : decoded.shape[1]] = decoded
    _fade_ends(audio, min(round(0.01 * AUDIO_RATE), samples // 4))  # no click where it was cut
    return audio


def crossfade(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    length = min(round(0.25 * AUDIO_RATE), first.shape[1], second.shape[1])
    joined = np.concatenate([first, second], axis=1)
    if length:
        ramp = np.linspace(0, 1, length, dtype=np.float32)
        seam = first.shape[1]
        joined[:, seam - length : seam] *= ramp[::-1]
        joined[:, seam : seam + length] *= ramp
    return joined
