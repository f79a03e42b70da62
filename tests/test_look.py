"""Reading a prompt's look: palette, camera motion, time of day and seed."""

from __future__ import annotations

import hashlib

import pytest

from localsora.engines.previz.look import MOTIONS, TIME_PALETTES, TIMES_OF_DAY, _seed_palette, read_look


@pytest.mark.parametrize(
    ("prompt", "motion"),
    [
        ("Slow pan left across the bay", "pan_left"),
        ("the camera pans to the right", "pan_right"),
        ("A pan over rooftops", "pan_right"),
        ("Tilt up to the sky", "tilt_up"),
        ("TILT DOWN to the river", "tilt_down"),
        ("zoom in on the eyes", "zoom_in"),
        ("Zoom out to reveal the city", "zoom_out"),
        ("a slow push in", "zoom_in"),
        ("dolly out from the table", "dolly_out"),
        ("dolly shot of a kitchen", "dolly_in"),
        ("tracking shot through the market", "dolly_in"),
        ("orbit around the statue", "orbit"),
        ("an arc shot of the dancers", "orbit"),
        ("a 360 view of the car", "orbit"),
        ("locked-off shot of a door", "static"),
        ("static camera, a candle burns", "static"),
        ("on a tripod, rain on glass", "static"),
        ("a cat asleep on a sofa", "dolly_in"),
    ],
)
def test_camera_words_set_the_motion(prompt: str, motion: str) -> None:
    assert read_look(prompt).motion == motion


def test_camera_words_are_whole_words() -> None:
    assert read_look("Japan in spring, a panorama").motion == "dolly_in"  # neither is "pan"
    assert read_look("a 360-degree view").motion == "orbit"


def test_the_first_camera_move_mentioned_wins() -> None:
    assert read_look("zoom in, then pan left").motion == "zoom_in"
    assert read_look("pan left, then zoom in").motion == "pan_left"


@pytest.mark.parametrize(
    ("prompt", "time_of_day"),
    [
        ("sunrise over the lake", "dawn"),
        ("a misty morning", "morning"),
        ("high noon in the desert", "noon"),
        ("wheat at golden hour", "golden hour"),
        ("a red sunset", "sunset"),
        ("twilight in Paris", "dusk"),
        ("city lights at midnight", "night"),
        ("a cat on a sofa", None),
    ],
)
def test_time_of_day(prompt: str, time_of_day: str | None) -> None:
    assert read_look(prompt).time_of_day == time_of_day


def test_golden_hour_is_not_the_colour_gold() -> None:
    assert read_look("golden hour").palette == TIME_PALETTES["golden hour"]
    assert read_look("golden hour, gold").palette != TIME_PALETTES["golden hour"]


def test_palette_shape_and_values() -> None:
    for prompt in ("", "a cat", "neon pastel red blue night", "black and white noir"):
        palette = read_look(prompt).palette
        assert 3 <= len(palette) <= 5
        assert all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c in palette)


def average(prompt: str) -> tuple[float, float, float]:
    palette = read_look(prompt).palette
    return tuple(sum(c[i] for c in palette) / len(palette) for i in range(3))  # type: ignore[return-value]


def test_colour_words_move_the_palette() -> None:
    red, green, blue = average("a red scene"), average("a green scene"), average("a blue scene")
    assert red[0] > red[1] and red[0] > red[2]
    assert green[1] > green[0] and green[1] > green[2]
    assert blue[2] > blue[0] and blue[2] > blue[1]


def test_colour_words_blend_with_time_of_day() -> None:
    night, blue_night = average("night"), average("blue night")
    assert blue_night[2] - blue_night[0] > night[2] - night[0]
    assert read_look("purple sunset").palette != read_look("sunset").palette


def test_whole_words_only_for_colours() -> None:
    look = read_look("redwood forest, bluebell")
    assert list(look.palette) == _seed_palette(look.seed)  # no colour word in it


def test_monochrome_is_grey() -> None:
    for prompt in ("black and white street", "monochrome portrait", "a red car in greyscale"):
        assert all(r == g == b for r, g, b in read_look(prompt).palette)


def test_pastel_is_lighter_and_neon_is_more_saturated() -> None:
    assert sum(average("pastel pink")) > sum(average("pink"))
    neon = read_look("neon city").palette
    assert any(max(c) - min(c) > 150 for c in neon)


def test_seed_is_a_stable_hash() -> None:
    expected = int.from_bytes(hashlib.sha256(b"a cat").digest()[:8], "big")
    assert read_look("a cat").seed == expected
    assert read_look("a cat") == read_look("a cat")
    assert read_look("a cat").seed != read_look("a dog").seed


def test_plain_prompts_get_different_pleasant_palettes() -> None:
    assert read_look("a cat").palette != read_look("a dog").palette
    for prompt in ("a cat", "a dog", "a chair"):
        palette = read_look(prompt).palette
        assert sum(palette[0]) > sum(palette[-1])  # sky lighter than ground


def test_vocabulary() -> None:
    assert read_look("x").motion in MOTIONS
    assert set(TIMES_OF_DAY) == {"dawn", "morning", "noon", "golden hour", "sunset", "dusk", "night"}
