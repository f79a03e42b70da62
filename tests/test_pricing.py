"""studio.pricing: the dated list-price table and the labels people read."""

from __future__ import annotations

import datetime

import pytest

from studio.errors import InvalidInput
from studio.jobs import VideoRequest
from studio.pricing import (
    PRICES_READ_ON,
    PRICES_USD_PER_SECOND,
    CostEstimate,
    estimate_cost,
    format_usd,
    price_per_second,
)


def test_prices_are_dated() -> None:
    assert PRICES_READ_ON == "2026-09-01"
    datetime.date.fromisoformat(PRICES_READ_ON)


@pytest.mark.parametrize(
    ("model", "size", "usd"),
    [
        ("sora-2", "720x1280", 0.10),
        ("sora-2", "1280x720", 0.10),
        ("sora-2-pro", "720x1280", 0.30),
        ("sora-2-pro", "1280x720", 0.30),
        ("sora-2-pro", "1024x1792", 0.50),
        ("sora-2-pro", "1792x1024", 0.50),
    ],
)
def test_list_prices(model: str, size: str, usd: float) -> None:
    assert price_per_second(model, size, "openai") == usd
    assert PRICES_USD_PER_SECOND[model][size] == usd


@pytest.mark.parametrize(
    ("model", "size", "usd"),
    [
        ("sora-2-2025-10-06", "1280x720", 0.10),
        ("sora-2-pro-2025-10-06", "1792x1024", 0.50),
        ("sora-2-pro-2025-10-06", "720x1280", 0.30),
    ],
)
def test_dated_models_price_as_their_base_model(model: str, size: str, usd: float) -> None:
    assert price_per_second(model, size, "azure") == usd


def test_names_and_sizes_are_matched_forgivingly() -> None:
    assert price_per_second(" Sora-2 ", "1280 x 720", "openai") == 0.10
    assert price_per_second("sora-2-pro", "1792×1024", "openai") == 0.50


def test_the_table_cannot_be_changed_by_accident() -> None:
    with pytest.raises(TypeError):
        PRICES_USD_PER_SECOND["sora-2"]["1280x720"] = 0.0  # type: ignore[index]


def test_local_renderer_is_free_whatever_the_model() -> None:
    assert price_per_second("sora-2-pro", "1792x1024", "local") == 0.0
    assert price_per_second("anything", "640x480", "local") == 0.0
    estimate = estimate_cost("anything", "640x480", 12, "local", variants=4)
    assert estimate == CostEstimate(usd=0.0, billed_seconds=12, per_second=0.0, label="Free (local renderer)")


@pytest.mark.parametrize("model", ["veo-x", "my-sora-deployment", "sora-3", "sora-2-preview"])
def test_unknown_models_have_no_price(model: str) -> None:
    assert price_per_second(model, "1280x720", "gateway") is None
    estimate = estimate_cost(model, "1280x720", 8, "gateway")
    assert estimate.usd is None and estimate.per_second is None
    assert estimate.label == f"Price unknown for model '{model}'"
    assert "$" not in estimate.label


def test_known_model_at_an_unlisted_size_has_no_price() -> None:
    # sora-2 (not pro) has no 1792x1024 list price: say so, don't borrow pro's.
    assert price_per_second("sora-2", "1792x1024", "openai") is None
    estimate = estimate_cost("sora-2", "1792x1024", 8, "openai")
    assert estimate.usd is None
    assert estimate.label == "Price unknown for sora-2 at 1792x1024"


def test_single_job_estimate() -> None:
    estimate = estimate_cost("sora-2", "1280x720", 8, "openai")
    assert estimate == CostEstimate(usd=0.8, billed_seconds=8, per_second=0.10, label="$0.80 (8 s × $0.10/s)")


def test_variants_multiply() -> None:
    estimate = estimate_cost("sora-2", "720x1280", 8, "openai", variants=3)
    assert estimate.usd == 2.4  # exactly: no 2.4000000000000004
    assert estimate.billed_seconds == 8
    assert estimate.label == "$2.40 (3 variants × 8 s × $0.10/s)"


def test_pro_high_resolution_estimate() -> None:
    estimate = estimate_cost("sora-2-pro", "1024x1792", 12, "openai", variants=2)
    assert estimate.usd == 12.0
    assert estimate.label == "$12.00 (2 variants × 12 s × $0.50/s)"


def test_extension_is_priced_on_the_added_seconds() -> None:
    # The caller passes only the seconds an extension adds.
    assert estimate_cost("sora-2-pro", "1280x720", 20, "openai").label == "$6.00 (20 s × $0.30/s)"
    # A request knows which of its numbers is billed: a 4 s video extended by 20 s is 24 s long, and bills 20.
    extension = VideoRequest(prompt="on", model="sora-2-pro", size="1280x720", kind="extend", seconds="24",
                             added_seconds="20", source_video_id="video_abc")
    assert extension.billed_seconds == 20
    assert extension.cost("openai").label == "$6.00 (20 s × $0.30/s)"
    new_video = VideoRequest(prompt="on", model="sora-2-pro", size="1280x720", seconds="12", added_seconds="20")
    assert new_video.cost("openai").label == "$3.60 (12 s × $0.30/s)", "only an extension bills what it adds"


def test_seconds_may_be_the_sdk_string() -> None:
    assert estimate_cost("sora-2", "1280x720", "12", "openai").usd == 1.2


@pytest.mark.parametrize(
    ("seconds", "variants"), [(0, 1), (-4, 1), ("eight", 1), (8, 0), (8, True), (4.5, 1)]
)
def test_nonsense_counts_are_refused(seconds: object, variants: object) -> None:
    with pytest.raises(InvalidInput, match="at least 1"):
        estimate_cost("sora-2", "1280x720", seconds, "openai", variants=variants)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (0.4, "$0.40"),
        (12, "$12.00"),
        (0, "$0.00"),
        (0.8000000000000002, "$0.80"),
        (1234.5, "$1,234.50"),
        (2.675, "$2.68"),
    ],
)
def test_format_usd(amount: float, text: str) -> None:
    assert format_usd(amount) == text
