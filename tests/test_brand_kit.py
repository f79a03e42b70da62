"""The brand kit (studio/brand_kit.py): saved once in the library and read by every session of the server, changed
only by admins when sign-in is configured, and turned into the logo and end card of a finish."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio import errors
from studio.access import Actor
from studio.brand_kit import (
    PREVIEW_SIZE,
    BrandKit,
    BrandKitRefused,
    available_fonts,
    brand_preview,
    finish_parts,
    load_brand_kit,
    may_change_brand_kit,
    save_brand_kit,
    with_brand,
)
from studio.library import Library
from studio.media.finishing import FinishSpec, Format, Logo, finish_video
from studio.media.upload_limits import LOGO_IMAGE
from tests.media import png_bytes
from tests.test_finishing import frames_of, write_clip

ADMIN = Actor("carol", signed_in=True, admin=True)
MEMBER = Actor("ann", signed_in=True)
LABEL = Actor("anyone")  # no sign-in: a name typed on loopback


def logo_png() -> bytes:
    image = Image.new("RGBA", (64, 32), (255, 0, 0, 0))
    image.paste((255, 0, 0, 255), (8, 8, 56, 24))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


KIT = BrandKit(
    logo_corner="top-left",
    logo_margin=0.05,
    logo_width=0.2,
    logo_opacity=0.9,
    background="#112233",
    text_colour="#fafafa",
    font="DejaVuSans-Bold.ttf",
    headline="  Spring   launch ",
    call_to_action="Shop now",
    end_card_seconds=2.5,
)


def test_a_saved_kit_is_read_back_by_another_session_of_the_same_server(tmp_path: Path) -> None:
    saved = save_brand_kit(Library(tmp_path), KIT, actor=ADMIN, logo=logo_png(), now=1000.0)
    kit = load_brand_kit(Library(tmp_path))  # another Library on the folder: another session, or a restart
    assert kit == saved
    assert kit.headline == "Spring launch", "runs of spaces go"
    assert (kit.saved_by, kit.saved_at, kit.logo_corner, kit.background) == ("carol", 1000.0, "top-left", "#112233")
    assert kit.logo_file is not None and (tmp_path / kit.logo_file).read_bytes() == logo_png()


def test_a_new_logo_replaces_the_old_file_and_keeping_it_keeps_it(tmp_path: Path) -> None:
    library = Library(tmp_path)
    first = save_brand_kit(library, KIT, actor=LABEL, logo=logo_png())
    kept = save_brand_kit(library, first, actor=LABEL)  # saved again without a new logo: the same one
    assert kept.logo_file == first.logo_file and (tmp_path / first.logo_file).exists()
    other = png_bytes(40, 40)
    second = save_brand_kit(library, kept, actor=LABEL, logo=other)
    assert (tmp_path / second.logo_file).read_bytes() == other
    assert not (tmp_path / first.logo_file).exists(), "the replaced logo's file is removed"
    dropped = save_brand_kit(library, replace(second, logo_file=None), actor=LABEL)  # "Remove the saved logo"
    assert dropped.logo_file is None and not (tmp_path / second.logo_file).exists()
    assert finish_parts(library, dropped).logo is None


def test_under_sign_in_only_an_admin_may_change_it_and_a_refusal_saves_nothing(tmp_path: Path) -> None:
    library = Library(tmp_path)
    save_brand_kit(library, KIT, actor=ADMIN)
    with pytest.raises(BrandKitRefused, match="only an admin"):
        save_brand_kit(library, BrandKit(headline="Mine now"), actor=MEMBER, logo=logo_png())
    assert load_brand_kit(library).headline == "Spring launch"
    assert not list((tmp_path / "brand").glob("logo-*")), "no logo file kept from the refused save"
    assert may_change_brand_kit(LABEL) and may_change_brand_kit(None) and may_change_brand_kit(ADMIN)
    assert not may_change_brand_kit(MEMBER)
    save_brand_kit(library, BrandKit(headline="Anyone's"), actor=LABEL)  # without sign-in names are labels
    assert load_brand_kit(library).headline == "Anyone's"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"background": "blue"}, "background must be a colour"),
        ({"logo_opacity": 1.5}, "logo opacity must be between"),
        ({"logo_corner": "middle"}, "corner must be one of"),
        ({"font": "Comic.ttf"}, "not installed"),
        ({"end_card_seconds": 60.0}, "end card seconds must be between"),
    ],
)
def test_a_value_it_cannot_use_is_refused_in_words_and_nothing_changes(
    tmp_path: Path, change: dict, words: str
) -> None:
    library = Library(tmp_path)
    save_brand_kit(library, KIT, actor=LABEL)
    with pytest.raises(errors.InvalidInput, match=words):
        save_brand_kit(library, BrandKit(**{**KIT.__dict__, **change}), actor=LABEL)
    assert load_brand_kit(library).background == "#112233"


def test_a_logo_that_is_not_a_png_or_too_big_is_refused(tmp_path: Path) -> None:
    library = Library(tmp_path)
    with pytest.raises(errors.InvalidInput, match="logo must be PNG; this one is JPEG"):
        save_brand_kit(library, KIT, actor=LABEL, logo=png_bytes(32, 32, fmt="JPEG"))
    with pytest.raises(errors.InvalidInput, match="cannot be read as a picture"):
        save_brand_kit(library, KIT, actor=LABEL, logo=b"not a picture")
    with pytest.raises(errors.InvalidInput, match="logo is over 5 MB, the largest taken"):
        save_brand_kit(library, KIT, actor=LABEL, logo=b"\x89PNG" + bytes(LOGO_IMAGE.max_bytes))
    assert load_brand_kit(library) == BrandKit()


def test_the_kit_makes_the_logo_and_end_card_of_a_finish(tmp_path: Path) -> None:
    library = Library(tmp_path)
    kit = save_brand_kit(library, KIT, actor=LABEL, logo=logo_png(), end_card_image=png_bytes(100, 50))
    parts = finish_parts(library, kit)
    assert parts.logo == Logo(png=logo_png(), corner="top-left", margin=0.05, width=0.2, opacity=0.9)
    card = parts.end_card
    assert card is not None
    assert (card.seconds, card.colour, card.text_colour) == (2.5, "#112233", "#fafafa")
    assert (card.headline, card.call_to_action, card.image) == ("Spring launch", "Shop now", png_bytes(100, 50))
    assert card.font == str(available_fonts()["DejaVuSans-Bold.ttf"])
    # Laid over a spec, the kit's parts join what the spec already has.
    spec = FinishSpec(format=Format(1080, 1920), bitrate_kbps=4000)
    branded = with_brand(spec, library, kit)
    assert (branded.format, branded.bitrate_kbps, branded.logo, branded.end_card) == (
        spec.format,
        4000,
        parts.logo,
        card,
    )


def test_an_empty_kit_adds_nothing_and_a_missing_font_falls_back_to_the_default(tmp_path: Path) -> None:
    library = Library(tmp_path)
    assert load_brand_kit(library).is_empty and finish_parts(library, BrandKit()) == FinishSpec()
    # A font removed from the server since the kit was saved: the finisher's own default, not a failure.
    library.save_shared_setting("brand_kit", '{"font": "Gone.ttf", "end_card_seconds": 1.0, "surprise": 1}')
    kit = load_brand_kit(library)
    assert kit.font == "Gone.ttf"
    assert finish_parts(library, kit).end_card.font is None


def test_a_kit_row_cannot_point_at_files_outside_its_folder(tmp_path: Path) -> None:
    library = Library(tmp_path)
    (tmp_path / "secret.png").write_bytes(logo_png())
    for outside in ("secret.png", "brand/../secret.png", "/etc/hostname"):
        library.save_shared_setting("brand_kit", f'{{"logo_file": "{outside}"}}')
        assert finish_parts(library, load_brand_kit(library)).logo is None


def test_no_fonts_installed_leaves_an_empty_choice(tmp_path: Path) -> None:
    assert available_fonts((tmp_path / "none",)) == {}


def test_the_settings_preview_shows_the_logo_in_its_corner_and_the_end_card(tmp_path: Path) -> None:
    kit = BrandKit(
        logo_corner="bottom-right",
        logo_margin=0.0,
        logo_width=0.25,
        logo_opacity=1.0,
        background="#0000ff",
        headline="Spring launch",
        end_card_seconds=2.0,
    )
    shot, card = brand_preview(kit, logo=png_bytes(64, 64, color=(255, 0, 0)), end_card_image=None)
    width, height = shot.size
    assert shot.getpixel((width - 5, height - 5)) == (255, 0, 0), "the logo sits in the bottom-right corner"
    assert shot.getpixel((5, 5)) != (255, 0, 0), "and nowhere else"
    assert card is not None and card.getpixel((3, 3)) == (0, 0, 255), "the card in the kit's background"
    assert len(card.crop((0, height // 3, width, height // 2)).getcolors(4096) or ()) > 1, "its headline is drawn"
    assert brand_preview(replace(kit, end_card_seconds=0), logo=b"broken", end_card_image=None)[1] is None


def test_the_preview_is_what_an_export_with_the_kit_shows(tmp_path: Path) -> None:
    kit = BrandKit(
        logo_corner="top-left",
        logo_margin=0.05,
        logo_width=0.3,
        logo_opacity=0.8,
        background="#203040",
        headline="A headline long enough that the end card has to wrap it over lines",
        call_to_action="Shop the spring range now",
        end_card_seconds=1.0,
    )
    width, height = PREVIEW_SIZE
    clip = write_clip(tmp_path / "clip.mp4", width, height, 24, lambda _: np.full((height, width, 3), 90, np.uint8))
    logo = logo_png()
    exported = frames_of(finish_video(clip, with_brand(FinishSpec(), *_kit_library(tmp_path, kit, logo)),
                                      tmp_path / "out.mp4").path)
    shot, card = brand_preview(kit, logo=logo, end_card_image=None, frame=Image.new("RGB", PREVIEW_SIZE, (90,) * 3))
    assert card is not None
    # Up to the encoder's loss, pixel for pixel: the logo's place, size and opacity, and the card's wrapped text.
    assert np.abs(exported[0] - np.asarray(shot, np.int16)).mean() < 3, "the logo as the export lays it"
    assert np.abs(exported[-1] - np.asarray(card, np.int16)).mean() < 3, "the end card as the export draws it"


def _kit_library(tmp_path: Path, kit: BrandKit, logo: bytes) -> tuple[Library, BrandKit]:
    library = Library(tmp_path / "library")
    return library, save_brand_kit(library, kit, actor=None, logo=logo)
