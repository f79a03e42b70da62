"""studio.catalog: what the studio knows without asking a server, tied to localsora's own defaults.

localsora never imports the studio and the studio never imports localsora, so each keeps its copy of Sora 2's
facts; these tests are where the two meet, and each assertion names the fact that drifted.
"""

from __future__ import annotations

import pytest

from localsora import catalog as localsora_catalog
from localsora.config import Settings
from studio import catalog
from studio.errors import InvalidInput
from studio.media.sizes import check_free_size
from studio.media.upload_limits import REFERENCE_IMAGE, SOURCE_VIDEO
from studio.pricing import PRICES_USD_PER_SECOND, price_per_second
from studio.provider.profiles import ProviderOffer, load_providers


def test_models_and_sizes_match_localsora() -> None:
    studio_models = {model: tuple(sizes) for model, sizes in catalog.SORA_SIZES.items()}
    assert studio_models == localsora_catalog.DEFAULT_MODELS, \
        "models and their sizes drifted: studio/catalog.py SORA_SIZES vs localsora/catalog.py DEFAULT_MODELS"


def test_durations_match_localsora() -> None:
    assert catalog.DURATIONS == localsora_catalog.DURATIONS, \
        "durations of a new video drifted: studio/catalog.py DURATIONS vs localsora/catalog.py DURATIONS"
    assert catalog.EXTENSION_DURATIONS == localsora_catalog.EXTENSION_DURATIONS, \
        "seconds an extension adds drifted: studio/catalog.py vs localsora/catalog.py EXTENSION_DURATIONS"
    settings = Settings()
    assert (settings.durations, settings.extension_durations) == (catalog.DURATIONS, catalog.EXTENSION_DURATIONS), \
        "localsora's default --durations / --extension-durations no longer come from its catalog"


def test_free_size_bounds_match_localsora() -> None:
    assert (catalog.FREE_SIDE_MIN, catalog.FREE_SIDE_MAX) == \
        (localsora_catalog.FREE_SIDE_MIN, localsora_catalog.FREE_SIDE_MAX), \
        "free-size bounds drifted: studio/catalog.py FREE_SIDE_MIN/MAX vs localsora/catalog.py"


@pytest.mark.parametrize(("alias", "model"), sorted(localsora_catalog.MODEL_ALIASES.items()))
def test_every_localsora_snapshot_name_resolves_to_its_model(alias: str, model: str) -> None:
    assert catalog.base_model(alias) == model, \
        f"dated snapshot {alias!r}: localsora serves it as {model!r}, the studio's rule reads it as " \
        f"{catalog.base_model(alias)!r}"
    assert catalog.sizes_of(alias) == catalog.SORA_SIZES[model], f"dated snapshot {alias!r} makes other sizes"
    for size, usd in PRICES_USD_PER_SECOND[model].items():
        assert price_per_second(alias, size, "openai") == usd, f"dated snapshot {alias!r} is priced apart at {size}"


@pytest.mark.parametrize("name", ["sora-2-preview", "sora-2-latest", "sora-2-2025-13-40", "sora-2-20251006",
                                  "sora-3-2025-10-06", "my-sora-deployment", "2025-10-06", ""])
def test_the_snapshot_rule_takes_only_a_real_date(name: str) -> None:
    assert catalog.base_model(name) is None, f"{name!r} is no dated snapshot of a catalog model"
    assert catalog.sizes_of(name) is None


def test_the_snapshot_rule_keeps_base_models_and_forgives_typing() -> None:
    assert catalog.base_model("sora-2-pro") == "sora-2-pro", "sora-2-pro is a model, not a snapshot of sora-2"
    assert catalog.base_model(" Sora-2-Pro-2025-10-06 ") == "sora-2-pro"
    assert catalog.base_model("SORA-2") == "sora-2"


def test_the_studio_profiles_fall_back_on_the_catalog() -> None:
    local = load_providers({})["local"].capabilities
    assert dict(local.sizes) == localsora_catalog.DEFAULT_MODELS, \
        "the local profile's models, before localsora is asked, drifted from localsora's defaults"
    assert (local.durations, local.extension_durations) == \
        (localsora_catalog.DURATIONS, localsora_catalog.EXTENSION_DURATIONS), \
        "the local profile's durations, before localsora is asked, drifted from localsora's defaults"
    assert ProviderOffer(sizes={}).sizes_for("any") == catalog.EVERY_SIZE


def test_named_models_take_their_sizes_from_the_catalog() -> None:
    config = {"SORA_STUDIO_COMPATIBLE_URL": "http://gpu-box:8000",
              "SORA_STUDIO_MODELS": "sora-2-2025-10-06, sora-2-pro, wan-2.2"}
    sizes = load_providers(config)["compatible"].capabilities.sizes
    assert sizes == {"sora-2-2025-10-06": catalog.SORA_SIZES["sora-2"], "sora-2-pro": catalog.SORA_SIZES["sora-2-pro"],
                     "wan-2.2": catalog.EVERY_SIZE}
    azure = load_providers({"AZURE_OPENAI_DEPLOYMENT": "sora-2-pro-2025-10-06"})["azure"].capabilities
    assert azure.sizes == {"sora-2-pro-2025-10-06": catalog.SORA_SIZES["sora-2-pro"]}


def test_upload_limits_match_localsora() -> None:
    # Also checked in a browser (tests/test_e2e_marketer.py); here it runs with every quick test.
    settings = Settings()
    assert REFERENCE_IMAGE.max_bytes == settings.max_image_bytes, \
        "largest reference image drifted: studio/media/upload_limits.py vs localsora's max_image_bytes"
    assert SOURCE_VIDEO.max_bytes == settings.max_video_bytes, \
        "largest video upload drifted: studio/media/upload_limits.py vs localsora's max_video_bytes"


@pytest.mark.parametrize("typed", ["16x16", "4096x16", "16x4096", "4096x4096"])
def test_a_free_size_at_the_bounds_is_taken(typed: str) -> None:
    assert check_free_size(typed) == typed


@pytest.mark.parametrize("typed", ["15x16", "16x15", "4098x16", "16x4098", "14x16"])
def test_a_free_size_past_the_bounds_is_refused_and_says_the_range(typed: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_free_size(typed)
    assert str(caught.value) == f"{typed} is out of range: each side must be 16 to 4096 pixels."
    assert caught.value.code == "invalid_size"
