"""studio.prompts: the builder's text form round-trips, free text stays free, limits are exact."""

from __future__ import annotations

import random
import re
from dataclasses import fields

import pytest

from components.plain_text import escape_markdown
from studio.errors import PromptRejected
from studio.prompts import (
    FIELD_HELP,
    FIELD_LABELS,
    FIELD_PLACEHOLDERS,
    FIELDS,
    PromptParts,
    compose,
    parse,
    prompt_too_long,
    short_title,
    validate_prompt,
)

FOX = PromptParts(
    shot_type="Wide shot",
    subject="a red fox",
    action="trotting through fresh snow",
    setting="a birch forest at dawn",
    lighting="soft golden backlight",
    camera_motion="slow dolly in",
    style="35 mm film, shallow depth of field",
    audio="crunching snow, distant birdsong",
)


def test_compose_reads_as_labelled_lines() -> None:
    assert compose(FOX) == (
        "Shot: Wide shot.\n"
        "Subject: a red fox.\n"
        "Action: trotting through fresh snow.\n"
        "Setting: a birch forest at dawn.\n"
        "Lighting: soft golden backlight.\n"
        "Camera: slow dolly in.\n"
        "Style: 35 mm film, shallow depth of field.\n"
        "Audio: crunching snow, distant birdsong."
    )


def test_compose_leaves_out_empty_fields() -> None:
    assert compose(PromptParts(subject="a lighthouse", camera_motion="slow orbit")) == (
        "Subject: a lighthouse.\nCamera: slow orbit."
    )
    assert compose(PromptParts()) == ""


@pytest.mark.parametrize(
    "parts",
    [
        FOX,
        PromptParts(subject="a lighthouse"),
        PromptParts(audio='she whispers: "Are you coming?"'),
        PromptParts(shot_type="Close-up", style="anime, cel shaded"),
        PromptParts(action="Camera: pans left", setting="Subject: nobody"),  # label-like values
        PromptParts(lighting="neon… flickering", audio="a scream!"),
        PromptParts(subject="a dog.", action="  runs   fast.. "),  # normalised on the way in
    ],
)
def test_round_trip(parts: PromptParts) -> None:
    assert parse(compose(parts)) == parts


@pytest.mark.parametrize("field", [f.name for f in fields(PromptParts)])
def test_round_trip_each_single_field(field: str) -> None:
    parts = PromptParts(**{field: "something specific, with a comma"})
    assert parse(compose(parts)) == parts


def test_round_trip_random_combinations() -> None:
    rng = random.Random(7)
    words = [
        "fox",
        "neon",
        "rain.",
        "  city ",
        "dawn\n",
        "slow",
        "pan:",
        "Shot:",
        "?",
        "!",
        "…",
        '"hi"',
        "x\ty",
    ]
    names = [f.name for f in fields(PromptParts)]
    for _ in range(500):
        values = {name: " ".join(rng.choices(words, k=rng.randint(0, 4))) for name in rng.sample(names, 4)}
        parts = PromptParts(**values)
        text = compose(parts)
        if parts == PromptParts():
            assert text == "" and parse(text) is None
        else:
            assert parse(text) == parts, text


def test_values_are_normalised_when_set() -> None:
    parts = PromptParts(subject="  a red\nfox.  ")
    assert parts.subject == "a red fox"
    parts.action = "runs\t\tfast..."
    assert parts.action == "runs fast"
    assert parse(compose(parts)) == parts


def test_parse_forgives_hand_edits() -> None:
    edited = "\n  camera: slow dolly in  \n\nSubject: a red fox\n"
    assert parse(edited) == PromptParts(subject="a red fox", camera_motion="slow dolly in")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n  ",
        "A red fox trots through fresh snow at dawn, shot on 35 mm film.",
        "Subject: a red fox.\nThen it starts to rain.",  # a free line among labelled ones
        "Subject: a red fox.\nSubject: a grey wolf.",  # a field twice
        "Mood: tense.",  # not a builder label
        "Subject:",  # a label with nothing after it
        "Wide shot: a red fox.",  # free-form label
    ],
)
def test_free_text_is_not_parsed(text: str) -> None:
    assert parse(text) is None


def test_field_metadata_covers_every_field_in_order() -> None:
    names = [f.name for f in fields(PromptParts)]
    assert names == [
        "shot_type",
        "subject",
        "action",
        "setting",
        "lighting",
        "camera_motion",
        "style",
        "audio",
    ]
    assert [spec.name for spec in FIELDS] == names
    assert list(FIELD_LABELS) == names
    assert all(FIELD_PLACEHOLDERS[name] and FIELD_HELP[name] for name in names)
    assert len(set(FIELD_LABELS.values())) == len(names)


def test_placeholders_compose_into_a_prompt_that_round_trips() -> None:
    example = PromptParts(**FIELD_PLACEHOLDERS)
    assert parse(compose(example)) == example


def test_validate_prompt_strips() -> None:
    assert validate_prompt("  A fox in snow.\n") == "A fox in snow."


@pytest.mark.parametrize("empty", ["", "   ", "\n\t\n"])
def test_validate_prompt_rejects_empty(empty: str) -> None:
    with pytest.raises(PromptRejected) as caught:
        validate_prompt(empty)
    assert str(caught.value) == "Write a prompt first: describe the shot you want."


def test_validate_prompt_rejects_too_long_with_exact_numbers() -> None:
    with pytest.raises(PromptRejected) as caught:
        validate_prompt("x" * 32512)
    assert str(caught.value) == "The prompt is 32,512 characters; the limit is 32,000. Shorten it by 512."


def test_validate_prompt_limit_is_inclusive_and_counts_after_stripping() -> None:
    assert validate_prompt("x" * 32000) == "x" * 32000
    assert validate_prompt("  " + "x" * 32000 + "  ") == "x" * 32000
    with pytest.raises(PromptRejected, match="Shorten it by 1."):
        validate_prompt("x" * 32001)


def test_validate_prompt_custom_limit() -> None:
    with pytest.raises(PromptRejected) as caught:
        validate_prompt("a" * 1500, max_chars=1000)
    assert str(caught.value) == "The prompt is 1,500 characters; the limit is 1,000. Shorten it by 500."


def test_short_title_cuts_at_a_word_with_an_ellipsis() -> None:
    prompt = "A glass bottle filling with sparkling water at golden hour, slow dolly in"
    assert short_title(prompt, 40) == "A glass bottle filling with sparkling…"
    assert short_title("Same product shot, but at night under neon blue \nlights", 48) == \
        "Same product shot, but at night under neon blue…"
    assert short_title("Short one\nwith a break", 60) == "Short one with a break"
    assert short_title("wa" * 40, 20) == "wawawawawawawawawaw…"  # one long word is cut, still with "…"
    assert len(short_title(prompt, 40)) <= 40


def test_titles_escape_markdown_and_streamlit_markup() -> None:
    typed = "**bold** [link](x) :red[sale] :material/home: $x^2$ <b>hi</b> & co"
    escaped = escape_markdown(typed)
    assert re.search(r"(?<!\\)[*\[:$<&]", escaped) is None, "every markup character is escaped"
    assert escaped.replace("\\", "") == typed, "only backslashes are added, so the text reads as typed"
    assert escape_markdown("# not a heading") == "\\# not a heading"
    assert escape_markdown("1. not a list") == "1\\. not a list"
    assert "http://" not in escape_markdown("see http://x.io"), "a bare URL is not turned into a link"


def test_prompt_too_long_says_by_how_much() -> None:
    assert prompt_too_long("x" * 32000) is None
    assert prompt_too_long("x" * 40000) == "The prompt is 40,000 characters; the limit is 32,000. Shorten it by 8,000."


def test_short_titles_drop_emphasis_markers_but_keep_stars_and_underscores_that_are_not_markers() -> None:
    assert short_title("**Bold launch** of the *new* bottle, __fast__ and ~~slow~~ _now_") == (
        "Bold launch of the new bottle, fast and slow now")
    assert short_title("snake_case_name, 2 * 3 * 4 and a*b*c") == "snake_case_name, 2 * 3 * 4 and a*b*c"
