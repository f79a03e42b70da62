"""The brand kit: one logo, its place, the colours, a font and the end card, saved once in the library and shared by
everyone on the server, so a finish applies the team's look in one click.

Who may change it: with sign-in configured, admins only; without sign-in (one person on loopback) anyone. The check
is here, in `save_brand_kit`, so no page can skip it. Pictures are kept as files in the library's data folder; the
settings as one JSON row of the library's shared settings.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, get_args

from PIL import Image, ImageOps, UnidentifiedImageError

from studio import errors
from studio.access import Actor
from studio.library import Library
from studio.media.finishing import Corner, EndCard, FinishSpec, Logo, branded_stills
from studio.media.upload_limits import END_CARD_IMAGE, LOGO_IMAGE, UploadLimit

SETTING = "brand_kit"  # its row in the library's shared settings
FOLDER = "brand"  # its pictures, under the library's data folder
FONT_FOLDERS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation"))
CORNERS: tuple[str, ...] = get_args(Corner)
CORNER_LABELS = {
    "top-left": "Top left",
    "top-right": "Top right",
    "bottom-left": "Bottom left",
    "bottom-right": "Bottom right",
}
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
HEADLINE_LIMIT = 80  # characters: an end card's line must fit a 1080 px wide card
MAX_END_CARD_SECONDS = 10.0


class BrandKitRefused(errors.StudioError):
    """Someone who is not an admin tried to change the shared brand kit on a server with sign-in."""

    title = "Only an admin can change the brand kit"


@dataclass(frozen=True)
class BrandKit:
    logo_file: str | None = None  # relative to the library's data folder: a PNG, alpha kept
    logo_corner: str = "bottom-right"
    logo_margin: float = 0.04  # of the frame's shorter side
    logo_width: float = 0.18  # of the frame's width
    logo_opacity: float = 0.85
    background: str = "#000000"  # the end card's colour (and the bars around its image)
    text_colour: str = "#ffffff"
    font: str = ""  # a TrueType file's name among `available_fonts()`; "": the finisher's default
    end_card_image_file: str | None = None
    headline: str = ""
    call_to_action: str = ""
    end_card_seconds: float = 0.0  # 0: no end card
    saved_by: str = ""
    saved_at: float = 0.0

    @property
    def is_empty(self) -> bool:
        """Nothing a finish would use: no logo and no end card."""
        return self.logo_file is None and self.end_card_seconds <= 0


def available_fonts(folders: tuple[Path, ...] = FONT_FOLDERS) -> dict[str, Path]:
    """The TrueType fonts on this machine a finish can draw with, by file name ("DejaVuSans-Bold.ttf"); empty when
    none are installed (the finisher then uses its own default)."""
    found: dict[str, Path] = {}
    for folder in folders:
        if folder.is_dir():
            found.update((path.name, path) for path in sorted(folder.glob("*.ttf")))
    return dict(sorted(found.items()))


def font_path(kit: BrandKit) -> str | None:
    """The kit's font as a file the finisher can open; None (its default) when unset or no longer installed."""
    found = available_fonts().get(kit.font) if kit.font else None
    return str(found) if found is not None else None


def may_change_brand_kit(actor: Actor | None) -> bool:
    """Admins with sign-in; anyone without it (names are labels there); None is the server itself."""
    return actor is None or not actor.signed_in or actor.admin


def load_brand_kit(library: Library) -> BrandKit:
    """The saved kit, or an empty one. Fields a newer or older studio wrote are read where known, ignored else."""
    saved = library.shared_setting(SETTING)
    if saved is None:
        return BrandKit()
    try:
        values = json.loads(saved)
    except json.JSONDecodeError:
        return BrandKit()
    known = {f.name for f in fields(BrandKit)}
    return BrandKit(**{k: v for k, v in values.items() if k in known}) if isinstance(values, dict) else BrandKit()


def save_brand_kit(
    library: Library,
    kit: BrandKit,
    *,
    actor: Actor | None,
    logo: bytes | None = None,
    end_card_image: bytes | None = None,
    now: float | None = None,
) -> BrandKit:
    """Check and save `kit` for everyone on this server, with a new logo or end-card picture when given (kept as
    files; the ones they replace are removed). Refused with BrandKitRefused when `actor` may not change it, and
    with InvalidInput, naming the field, when a value cannot be used; nothing is saved then."""
    if not may_change_brand_kit(actor):
        raise BrandKitRefused(
            "The brand kit is shared by everyone on this server: only an admin can change it. "
            "You can still apply it to your videos."
        )
    kit = _checked(kit)
    before = load_brand_kit(library)
    if logo is not None:
        kit = replace(kit, logo_file=_keep_picture(library, "logo", _checked_picture(logo, LOGO_IMAGE, "PNG")))
    if end_card_image is not None:
        kit = replace(
            kit,
            end_card_image_file=_keep_picture(
                library, "end-card", _checked_picture(end_card_image, END_CARD_IMAGE, None)
            ),
        )
    kit = replace(
        kit, saved_by=actor.name if actor is not None else "", saved_at=now if now is not None else time.time()
    )
    library.save_shared_setting(SETTING, json.dumps(asdict(kit)))
    for old in {before.logo_file, before.end_card_image_file} - {kit.logo_file, kit.end_card_image_file, None}:
        _remove_picture(library, old)
    return kit


def finish_parts(library: Library, kit: BrandKit) -> FinishSpec:
    """What the kit adds to a finish: its logo and its end card (None where the kit has none), as a FinishSpec that
    `with_brand` lays over another."""
    return _parts(kit, _read_picture(library, kit.logo_file), _read_picture(library, kit.end_card_image_file))


def _parts(kit: BrandKit, logo_png: bytes | None, end_card_image: bytes | None) -> FinishSpec:
    logo = (
        None
        if logo_png is None
        else Logo(
            png=logo_png,
            corner=kit.logo_corner,  # type: ignore[arg-type]
            margin=kit.logo_margin,
            width=kit.logo_width,
            opacity=kit.logo_opacity,
        )
    )
    end_card = None
    if kit.end_card_seconds > 0:
        end_card = EndCard(
            seconds=kit.end_card_seconds,
            colour=kit.background,
            image=end_card_image,
            headline=kit.headline,
            call_to_action=kit.call_to_action,
            text_colour=kit.text_colour,
            font=font_path(kit),
        )
    return FinishSpec(logo=logo, end_card=end_card)


def with_brand(spec: FinishSpec, library: Library, kit: BrandKit) -> FinishSpec:
    """`spec` with the kit's logo and end card in place of its own, where the kit has them."""
    parts = finish_parts(library, kit)
    return replace(spec, logo=parts.logo or spec.logo, end_card=parts.end_card or spec.end_card)


def picture(library: Library, relative: str | None) -> bytes | None:
    """A kit picture's bytes, for a preview; None when unset or gone."""
    return _read_picture(library, relative)


PREVIEW_SIZE = (480, 270)  # px: a 16:9 frame, small enough to redraw on every change in Settings


def brand_preview(
    kit: BrandKit, *, logo: bytes | None, end_card_image: bytes | None, frame: Image.Image | None = None
) -> tuple[Image.Image, Image.Image | None]:
    """What the kit does to a clip, drawn small by the export's own code: a frame (`frame`, else a plain grey one)
    with the logo in its corner, and the end card (None when the kit has none). Pictures that cannot be read are
    left out of the preview (saving the kit says why)."""
    shot = (
        ImageOps.fit(frame.convert("RGB"), PREVIEW_SIZE)
        if frame is not None
        else Image.new("RGB", PREVIEW_SIZE, "#7a8490")
    )
    readable = [data if _picture_or_none(data) is not None else None for data in (logo, end_card_image)]
    parts = _parts(kit, *readable)
    return branded_stills(shot, parts.logo, parts.end_card)


def _picture_or_none(data: bytes | None) -> Image.Image | None:
    if not data:
        return None
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None
    return image


# ---------------------------------------------------------------- checks and files


def _checked(kit: BrandKit) -> BrandKit:
    problems = []
    if kit.logo_corner not in CORNERS:
        problems.append(f"the logo's corner must be one of {', '.join(CORNERS)}")
    for name, low, high in (
        ("logo_margin", 0.0, 0.25),
        ("logo_width", 0.02, 0.6),
        ("logo_opacity", 0.05, 1.0),
        ("end_card_seconds", 0.0, MAX_END_CARD_SECONDS),
    ):
        value = getattr(kit, name)
        if not isinstance(value, int | float) or not low <= value <= high:
            problems.append(f"the {name.replace('_', ' ')} must be between {low:g} and {high:g}")
    for name in ("background", "text_colour"):
        if not _COLOUR.match(getattr(kit, name)):
            problems.append(f"the {name.replace('_', ' ')} must be a colour like #1a2b3c")
    if kit.font and kit.font not in available_fonts():
        problems.append(f"the font {kit.font!r} is not installed on this server")
    for name in ("headline", "call_to_action"):
        if len(getattr(kit, name)) > HEADLINE_LIMIT:
            problems.append(f"the {name.replace('_', ' ')} must be at most {HEADLINE_LIMIT} characters")
    if problems:
        raise errors.InvalidInput(f"The brand kit was not saved: {'; '.join(problems)}.")
    return replace(kit, headline=" ".join(kit.headline.split()), call_to_action=" ".join(kit.call_to_action.split()))


def _checked_picture(data: bytes, limit: UploadLimit, must_be: str | None) -> bytes:
    if (too_big := limit.refusal(len(data))) is not None:
        raise errors.InvalidInput(f"{too_big} Nothing was saved.")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            kind = image.format
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise errors.InvalidInput(
            f"The {limit.what} cannot be read as a picture ({limit.formats_text}). Nothing was saved."
        ) from exc
    if must_be and kind != must_be or kind not in {f.upper() for f in limit.formats}:
        raise errors.InvalidInput(
            f"The {limit.what} must be {limit.formats_text}; this one is {kind}. Nothing was saved."
        )
    return data


def _keep_picture(library: Library, stem: str, data: bytes) -> str:
    folder = library.data_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{stem}-{hashlib.sha256(data).hexdigest()[:16]}"
    partial = target.with_name(f".{target.name}.part")
    partial.write_bytes(data)
    os.replace(partial, target)
    return library.relative(target)


def _inside(library: Library, relative: str) -> Path | None:
    # A kit row names its files relative to the data folder; one pointing elsewhere is read as unset.
    path = (library.data_dir / relative).resolve()
    return path if path.parent == (library.data_dir / FOLDER).resolve() else None


def _read_picture(library: Library, relative: str | None) -> bytes | None:
    path = _inside(library, relative) if relative else None
    try:
        return path.read_bytes() if path is not None else None
    except OSError:
        return None


def _remove_picture(library: Library, relative: str) -> None:
    if (path := _inside(library, relative)) is not None:
        path.unlink(missing_ok=True)


def kit_values(kit: BrandKit) -> dict[str, Any]:
    """The kit's editable values (what a form shows and sends back), without who saved it and when."""
    return {k: v for k, v in asdict(kit).items() if k not in ("saved_by", "saved_at")}
