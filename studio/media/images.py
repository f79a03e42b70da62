"""Reference images: validate an upload and fit it to the exact video size.

The Videos API rejects a reference image whose size differs from the output
size (a 400), so every reference goes through `fit` before it is sent. The
result is always an 8-bit RGB PNG or JPEG, flattened onto white (video
references have no alpha), with EXIF orientation applied and no metadata.

Pure Pillow: no Streamlit, no network, no global Pillow settings changed.
"""

from __future__ import annotations

import io
import logging
import math
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from PIL import ExifTags, Image, ImageCms, ImageColor, ImageFilter, ImageOps, UnidentifiedImageError

from studio.errors import ImageRejected, InvalidInput
from studio.media.upload_limits import MB, REFERENCE_IMAGE, megabytes_text

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_PIXELS",
    "MAX_TARGET_SIDE",
    "MIN_SIDE",
    "FitMode",
    "FittedImage",
    "ImageInfo",
    "Size",
    "fit",
    "inspect_image",
    "parse_size",
    "suggest_orientation",
]

log = logging.getLogger(__name__)

Size = tuple[int, int]  # (width, height)
FitMode = Literal["cover", "contain", "stretch"]

DEFAULT_MAX_BYTES = REFERENCE_IMAGE.max_bytes
MIN_SIDE = 64
# Decoded size cap. Checked from the header, before any pixel is decoded, so a
# tiny file that claims 20000x20000 costs nothing.
MAX_PIXELS = 50_000_000
# Largest target side `fit` will produce; stops a typo like "12800x7200" from
# allocating gigabytes.
MAX_TARGET_SIDE = 8192
# A fit stays within about 300 MB: the whole decode is the peak for formats with no reduced decode. Bytes a
# pixel at that peak, measured with bench/fit.py: libwebp plus Pillow's copy ~16, 16-bit and 32-bit modes ~22
# (the widened copy), other PNG/GIF/WebP modes ~8 (RGBA and a converted copy).
DECODE_BUDGET_BYTES = 280_000_000
WEBP_DECODE_BYTES_PER_PIXEL = 16
WIDE_DECODE_BYTES_PER_PIXEL = 22
DECODE_BYTES_PER_PIXEL = 8

_FIT_MODES: tuple[str, ...] = ("cover", "contain", "stretch")
# Only the decoders we need: fewer parsers exposed to untrusted uploads. The
# JPEG decoder also opens MPO files (many phone JPEGs carry a second picture);
# their format then reads "MPO".
_OPEN_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
_ACCEPTED = REFERENCE_IMAGE.formats_text  # the uploader lists the same formats
# What a broken or hostile file can raise while Pillow parses or decodes it.
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    struct.error,
)
# LANCZOS after a cheap integer reduce: with a gap of 3 the result is
# indistinguishable from a plain LANCZOS resize, and much faster on big photos.
_REDUCING_GAP = 3.0
_JPEG_QUALITY = 92
_BLUR_SCALE = 8  # the blurred background is built at 1/8 size: cheap and smooth
_BLUR_RADIUS = 3.0  # at that 1/8 scale
_BLUR_BRIGHTNESS = 0.6  # darken it so the real picture stands out
_KB = 1024


# --------------------------------------------------------------------- sizes


_SIZE_RE = re.compile(r"^\s*(\d+)\s*[x×*]\s*(\d+)\s*$", re.IGNORECASE)


def parse_size(size: str | Size) -> Size:
    """Turn "1280x720" (or (1280, 720)) into (width, height), or raise InvalidInput."""
    if isinstance(size, str):
        match = _SIZE_RE.match(size)
        if match is None:
            raise InvalidInput(
                f"'{size.strip()}' is not a video size; write it as WIDTHxHEIGHT, for example 1280x720.",
                code="invalid_size",
            )
        width, height = int(match.group(1)), int(match.group(2))
    elif (
        isinstance(size, tuple)
        and len(size) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in size)
    ):
        width, height = size
    else:
        raise InvalidInput(
            f"{size!r} is not a video size; write it as WIDTHxHEIGHT, for example 1280x720.",
            code="invalid_size",
        )
    if not (1 <= width <= MAX_TARGET_SIDE and 1 <= height <= MAX_TARGET_SIDE):
        raise InvalidInput(
            f"The size {width}x{height} is out of range; each side must be between 1 and "
            f"{MAX_TARGET_SIDE} px.",
            code="invalid_size",
        )
    return width, height


def suggest_orientation(width: int, height: int, sizes: Sequence[str]) -> str:
    """Return the offered size whose aspect ratio is closest to width x height.

    Ratios are compared on a log scale, so 2:1 and 1:2 are equally far from
    square. On a tie the size listed first wins, so the caller's order (the
    provider profile's) decides. Entries that are not sizes (a gateway's free
    text) are skipped; InvalidInput if none is usable.
    """
    if width <= 0 or height <= 0:
        raise InvalidInput(f"The image size {width}x{height} is not valid.", code="invalid_size")
    target = math.log(width / height)
    best: str | None = None
    best_distance = math.inf
    for candidate in sizes:
        try:
            w, h = parse_size(candidate)
        except InvalidInput:
            continue  # not a size (e.g. "auto"): it cannot match an aspect ratio
        distance = abs(math.log(w / h) - target)
        if distance < best_distance - 1e-12:
            best, best_distance = candidate, distance
    if best is None:
        raise InvalidInput(
            "No video size to choose from; pick a size like 1280x720 first.", code="invalid_size"
        )
    return best


# --------------------------------------------------------------- inspection


@dataclass(frozen=True)
class ImageInfo:
    """What an upload is. width and height are as displayed (after EXIF orientation)."""

    width: int
    height: int
    format: str  # Pillow format name, e.g. "PNG", "JPEG", "MPO"
    mode: str  # Pillow mode of the file, e.g. "RGBA", "CMYK", "I;16", "P"
    frames: int  # > 1 for an animated image; only the first frame is used


def inspect_image(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> ImageInfo:
    """Validate an upload completely (every byte is decoded) and describe it.

    Raises ImageRejected for empty, oversized, unreadable, damaged, too large
    (pixels) or too small images.
    """
    # A 1/8-scale JPEG decode still reads every byte of the stream, so it
    # catches the same damage as a full decode, three times faster.
    _image, info, _orientation = _open_and_load(data, max_bytes, draft_size=lambda _displayed: (1, 1))
    return info


# ---------------------------------------------------------------- fitting


@dataclass(frozen=True)
class FittedImage:
    """A reference image of exactly the target size, ready to upload."""

    data: bytes
    mime: str  # "image/png" or "image/jpeg"
    filename: str  # "reference.png" or "reference.jpg"
    width: int
    height: int
    source_width: int  # the upload, as displayed (after EXIF orientation)
    source_height: int
    transparency_filled: bool = False  # the upload had see-through pixels; they are white in `data`

    def as_upload(self) -> tuple[str, bytes, str]:
        """The (filename, bytes, mime) tuple the SDK takes as `input_reference`."""
        return self.filename, self.data, self.mime


def fit(
    image: bytes,
    size: str | Size,
    mode: FitMode = "cover",
    *,
    focal: tuple[float, float] = (0.5, 0.5),
    background: str = "blur",
    output_format: Literal["PNG", "JPEG"] = "PNG",
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> FittedImage:
    """Fit an uploaded image to exactly `size`.

    - cover: scale to fill the frame and crop the overflow, keeping the
      `focal` point (fractions of width and height; (0, 0) is top left) as
      central as the picture allows.
    - contain: scale to fit inside and fill the bars with `background`:
      "blur" (a blurred, darkened copy of the picture) or a colour like "#000000".
    - stretch: scale each axis independently (distorts).
    """
    target = parse_size(size)
    if mode not in _FIT_MODES:
        raise InvalidInput(
            f"Unknown fit mode '{mode}'; choose cover, contain or stretch.", code="invalid_fit_mode"
        )
    fx, fy = _check_focal(focal)
    fill = _parse_background(background)
    fmt = _check_output_format(output_format)

    def draft_size(oriented: Size) -> Size:
        # The smallest decode that still covers what this mode needs at full quality.
        sw, sh = oriented
        tw, th = target
        if mode == "stretch":
            return tw, th
        pick = max if mode == "cover" else min
        scale = pick(tw / sw, th / sh)
        return math.ceil(sw * scale), math.ceil(sh * scale)

    loaded, info, _orientation = _open_and_load(image, max_bytes, draft_size=draft_size)
    try:
        # Phones store the sensor's orientation and a tag saying how to rotate it.
        oriented = ImageOps.exif_transpose(loaded)
    except _DECODE_ERRORS as exc:
        raise _damaged() from exc
    source = _resizable(oriented)
    icc = oriented.info.get("icc_profile")
    transparent = _has_transparency(source)

    if mode == "cover":
        picture = _cover(source, target, (fx, fy))
    elif mode == "stretch":
        picture = source.resize(target, Image.Resampling.LANCZOS, reducing_gap=_REDUCING_GAP)
    else:
        picture = _contain(source, target, fill, (fx, fy), icc)
    result = _to_flat_rgb(picture, icc)
    if result.size != target:  # every branch above is exact; guard the API's hard rule anyway
        raise AssertionError(f"fit produced {result.size}, expected {target}")

    out = io.BytesIO()
    if fmt == "PNG":
        # optimize=True costs seconds for a few percent; level 6 is zlib's default balance.
        result.save(out, "PNG", optimize=False, compress_level=6)
        mime, filename = "image/png", "reference.png"
    else:
        result.save(out, "JPEG", quality=_JPEG_QUALITY)
        mime, filename = "image/jpeg", "reference.jpg"
    return FittedImage(
        data=out.getvalue(),
        mime=mime,
        filename=filename,
        width=target[0],
        height=target[1],
        source_width=info.width,
        source_height=info.height,
        transparency_filled=transparent,
    )


def _check_focal(focal: tuple[float, float]) -> tuple[float, float]:
    try:
        fx, fy = (float(v) for v in focal)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            "The focal point must be two numbers between 0 and 1.", code="invalid_focal"
        ) from exc
    if not (0.0 <= fx <= 1.0 and 0.0 <= fy <= 1.0):  # also rejects NaN
        raise InvalidInput(
            f"The focal point ({fx:g}, {fy:g}) is outside the picture; both values must be between 0 and 1.",
            code="invalid_focal",
        )
    return fx, fy


def _parse_background(background: str) -> tuple[int, int, int] | None:
    """None for "blur", else an RGB colour."""
    if background.strip().lower() == "blur":
        return None
    try:
        rgb = ImageColor.getrgb(background.strip())
    except ValueError as exc:
        raise InvalidInput(
            f"The background '{background}' is not a colour; use \"blur\" or a colour like #000000.",
            code="invalid_background",
        ) from exc
    return rgb[0], rgb[1], rgb[2]


def _check_output_format(output_format: str) -> Literal["PNG", "JPEG"]:
    fmt = output_format.strip().upper()
    if fmt == "PNG":
        return "PNG"
    if fmt in ("JPEG", "JPG"):
        return "JPEG"
    raise InvalidInput(
        f"Unknown output format '{output_format}'; choose PNG or JPEG.", code="invalid_output_format"
    )


def _cover(source: Image.Image, target: Size, focal: tuple[float, float]) -> Image.Image:
    sw, sh = source.size
    tw, th = target
    scale = max(tw / sw, th / sh)
    # The source region that ends up in the frame, centred on the focal point,
    # then slid back inside the picture.
    cw, ch = min(sw, tw / scale), min(sh, th / scale)
    left = min(max(focal[0] * sw - cw / 2, 0.0), sw - cw)
    top = min(max(focal[1] * sh - ch / 2, 0.0), sh - ch)
    return source.resize(
        target, Image.Resampling.LANCZOS, box=(left, top, left + cw, top + ch), reducing_gap=_REDUCING_GAP
    )


def _contain(
    source: Image.Image,
    target: Size,
    fill: tuple[int, int, int] | None,
    focal: tuple[float, float],
    icc: bytes | None,
) -> Image.Image:
    sw, sh = source.size
    tw, th = target
    scale = min(tw / sw, th / sh)
    fw = min(tw, max(1, round(sw * scale)))
    fh = min(th, max(1, round(sh * scale)))
    picture = _to_flat_rgb(source.resize((fw, fh), Image.Resampling.LANCZOS, reducing_gap=_REDUCING_GAP), icc)
    if fill is None:
        # Cover a small copy, blur it there (cheap), and let the upscale smooth it further.
        small = (max(1, round(tw / _BLUR_SCALE)), max(1, round(th / _BLUR_SCALE)))
        back = _to_flat_rgb(_cover(source, small, focal), icc)
        back = back.filter(ImageFilter.GaussianBlur(_BLUR_RADIUS))
        back = back.resize(target, Image.Resampling.BICUBIC)
        canvas = back.point(lambda v: round(v * _BLUR_BRIGHTNESS))
    else:
        canvas = Image.new("RGB", target, fill)
    canvas.paste(picture, ((tw - fw) // 2, (th - fh) // 2))
    return canvas


# --------------------------------------------------------- decoding (shared)


def _open_and_load(
    data: bytes,
    max_bytes: int,
    *,
    draft_size: Callable[[Size], Size] | None = None,
) -> tuple[Image.Image, ImageInfo, int]:
    """Open, check and fully decode the first frame. Returns (image, info, EXIF orientation).

    The image is as stored (not yet rotated). `draft_size` maps the displayed
    size to the smallest size the caller needs, which lets big JPEGs decode
    at 1/2, 1/4 or 1/8 scale.
    """
    if not data:
        raise ImageRejected(f"The file is empty. Choose a {_ACCEPTED} image.", code="empty_file")
    if len(data) > max_bytes:
        shown, limit = _format_bytes(len(data)), _format_bytes(max_bytes)
        if shown == limit:  # rounding would print the same number twice
            shown, limit = f"{len(data):,} bytes", f"{max_bytes:,} bytes"
        raise ImageRejected(
            f"The image is {shown}; the limit is {limit}. Export a smaller JPEG and try again.",
            code="file_too_large",
        )

    try:
        image = Image.open(io.BytesIO(data), formats=_OPEN_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own (larger) limit tripped on the header; the warning arrives
        # here only if the process turned warnings into errors.
        raise _too_many_pixels(None) from exc
    except UnidentifiedImageError as exc:
        raise ImageRejected(_unreadable_message(data), code="unsupported_format") from exc
    except _DECODE_ERRORS as exc:
        raise _damaged() from exc

    # Header only so far: reject a decompression bomb before decoding a pixel.
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise _too_many_pixels(image.size)
    decode_limit = _decode_pixel_limit(image)
    if width * height > decode_limit:
        raise _too_many_pixels(image.size, decode_limit, image.format)

    try:
        frames = int(getattr(image, "n_frames", 1))  # leaves the file on the first frame
        if draft_size is not None and image.format in ("JPEG", "MPO"):
            _apply_draft(image, draft_size)
        image.load()  # the full decode: truncated or corrupt data fails here
        orientation = _orientation(image)
        if draft_size is not None and image.format not in ("JPEG", "MPO"):
            image = _reduce_decoded(image, draft_size, orientation)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_many_pixels(None) from exc
    except _DECODE_ERRORS as exc:
        raise _damaged() from exc

    if orientation in (5, 6, 7, 8):  # rotated by 90 degrees: the displayed sides swap
        width, height = height, width
    if min(width, height) < MIN_SIDE:
        raise ImageRejected(
            f"The image is {width}x{height} px; it must be at least {MIN_SIDE} px on each side.",
            code="image_too_small",
        )
    info = ImageInfo(
        width=width,  # the file's size, even when draft() decoded a reduced copy
        height=height,
        format=image.format or "unknown",
        mode=image.mode,  # draft(None, ...) never changes the mode
        frames=frames,
    )
    return image, info, orientation


def _apply_draft(image: Image.Image, draft_size: Callable[[Size], Size]) -> None:
    """Let libjpeg decode at 1/2, 1/4 or 1/8 scale when the target is that much smaller."""
    rotated = _orientation(image) in (5, 6, 7, 8)  # JPEG EXIF is in the header: no decode needed
    w, h = image.size
    need_w, need_h = draft_size((h, w) if rotated else (w, h))
    if rotated:
        need_w, need_h = need_h, need_w
    # libjpeg then picks the largest 1/2, 1/4 or 1/8 scale that still covers
    # `want`, and the LANCZOS pass after it shrinks by less than 2x.
    want = (max(1, need_w), max(1, need_h))
    if want[0] < w and want[1] < h:
        image.draft(None, want)


def _decode_pixel_limit(image: Image.Image) -> int:
    """The most pixels this file may have for its decode to stay within DECODE_BUDGET_BYTES. JPEG decodes at a
    reduced scale (draft); WebP and PNG decode whole, and some modes take several bytes a pixel on the way."""
    if image.format in ("JPEG", "MPO"):
        return MAX_PIXELS
    if image.format == "WEBP":
        per_pixel = WEBP_DECODE_BYTES_PER_PIXEL
    elif image.mode.startswith("I") or image.mode == "F":
        per_pixel = WIDE_DECODE_BYTES_PER_PIXEL
    else:
        per_pixel = DECODE_BYTES_PER_PIXEL
    return DECODE_BUDGET_BYTES // per_pixel


def _reduce_decoded(image: Image.Image, draft_size: Callable[[Size], Size], orientation: int) -> Image.Image:
    """Shrink a decoded picture by a whole factor that still covers what the fit needs, so the steps after it
    (rotate, crop, convert, blur) work on a small copy. PNG, WebP and GIF have no reduced decode as JPEG has:
    without this a 40 MP WebP took 671 MB in copies. Only plain 8-bit modes: a palette or a colour key would
    blend wrongly, and those go through `_resizable` first."""
    if image.mode not in ("L", "LA", "RGB", "RGBA") or "transparency" in image.info:
        return image
    rotated = orientation in (5, 6, 7, 8)
    w, h = image.size
    need_w, need_h = draft_size((h, w) if rotated else (w, h))
    if rotated:
        need_w, need_h = need_h, need_w
    factor = min(w // max(1, need_w), h // max(1, need_h))
    if factor < 2:
        return image
    reduced = image.reduce(factor)
    reduced.info = dict(image.info)  # the EXIF orientation and the ICC profile still apply
    reduced.format = image.format
    return reduced


def _orientation(image: Image.Image) -> int:
    value = image.getexif().get(ExifTags.Base.Orientation, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _resizable(image: Image.Image) -> Image.Image:
    """Convert to a mode that resamples correctly, keeping alpha and CMYK for later.

    Palette and 1-bit images resample as nearest-neighbour, a colour-key
    transparency breaks under resampling, and Pillow clips 16-bit greys
    to white when converting to 8-bit: fix those here, at source size.
    """
    mode = image.mode
    has_key = "transparency" in image.info
    if mode.startswith("I;16") or mode == "I":
        return _sixteen_bit_to_8(image)
    if mode == "PA" or (has_key and mode in ("P", "1", "L", "RGB")):
        return image.convert("RGBA")  # Pillow applies the colour key as alpha here
    if mode == "P":
        return image.convert("RGB")
    if mode == "1":
        return image.convert("L")
    if mode in ("L", "LA", "RGB", "RGBA", "CMYK"):
        return image
    try:
        return image.convert("RGB")
    except ValueError as exc:
        raise ImageRejected(
            f"This image uses a colour format we can't convert ({mode}). Save it as an RGB JPEG or PNG "
            "and try again.",
            code="unsupported_colour_mode",
        ) from exc


def _sixteen_bit_to_8(image: Image.Image) -> Image.Image:
    """Scale 0..65535 to 0..255 (rounded), rather than Pillow's clip at 255."""
    import numpy as np  # here, not above: only 16-bit pictures need it, and the studio starts faster without it

    values = np.asarray(image)
    wide = np.clip(values.astype(np.int32), 0, 65535)  # "I" holds 32-bit ints; PNG fills 16; 65535*255 fits
    grey = ((wide * 255 + 32767) // 65535).astype(np.uint8)
    transparency = image.info.get("transparency")
    if isinstance(transparency, int):
        alpha = np.where(values == transparency, 0, 255).astype(np.uint8)
        return Image.fromarray(np.dstack([grey, alpha]), "LA")
    return Image.fromarray(grey, "L")


def _has_transparency(image: Image.Image) -> bool:
    """Whether any pixel of a `_resizable` image is at all see-through (an alpha channel alone is not enough)."""
    if image.mode not in ("RGBA", "LA"):
        return False
    return image.getchannel("A").getextrema()[0] < 255


def _to_flat_rgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """Any mode `_resizable` returns -> RGB in sRGB, transparency flattened onto white."""
    if image.mode == "CMYK":
        return _with_profile(image, icc, "CMYK") or image.convert("RGB")
    colour = image.mode in ("RGB", "RGBA")  # an embedded profile on L/LA is a grey one: no use here
    if image.mode in ("RGBA", "LA"):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    elif image.mode != "RGB":
        image = image.convert("RGB")
    return (_with_profile(image, icc, "RGB") or image) if colour else image


@lru_cache(maxsize=1)
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _with_profile(image: Image.Image, icc: bytes | None, mode: str) -> Image.Image | None:
    """Convert through the embedded ICC profile to sRGB; None when there is none to use.

    This is what makes CMYK print files and wide-gamut (Display P3) photos
    look as they did in the designer's tools. A broken profile falls back to
    the plain conversion, with a log line, rather than rejecting the picture.
    """
    if not icc:
        return None
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        space = source.profile.xcolor_space.strip()
        if space != mode:
            log.debug("Ignoring an embedded %s ICC profile on a %s image", space, mode)
            return None
        return ImageCms.profileToProfile(
            image,
            source,
            _srgb(),
            renderingIntent=ImageCms.Intent.PERCEPTUAL,
            outputMode="RGB",
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as exc:
        log.warning("Ignoring an unusable embedded ICC profile: %s", exc)
        return None


# ------------------------------------------------------------------ messages


def _damaged() -> ImageRejected:
    return ImageRejected(
        "This image file is damaged or incomplete, so we can't read it. Re-export or re-download it "
        "and try again.",
        code="corrupt_image",
    )


def _too_many_pixels(size: Size | None, limit_pixels: int = MAX_PIXELS, image_format: str | None = None,
                     ) -> ImageRejected:
    limit = f"the limit is {MAX_PIXELS / 1_000_000:g} megapixels"
    if limit_pixels < MAX_PIXELS:  # a format decoded whole: say so, and what to do about it
        limit = (f"a {image_format or 'picture'} in this mode is read whole, so the limit for it is "
                 f"{limit_pixels / 1_000_000:.0f} megapixels (save it as JPEG to send up to "
                 f"{MAX_PIXELS / 1_000_000:g})")
    if size is None:
        return ImageRejected(
            f"The image has too many pixels to open safely; {limit}. Resize it and try again.",
            code="too_many_pixels",
        )
    w, h = size
    return ImageRejected(
        f"The image is {w}x{h} px ({w * h / 1_000_000:.1f} megapixels); {limit}. Resize it and try again.",
        code="too_many_pixels",
    )


_BMP_HEADER_SIZES = tuple(n.to_bytes(4, "little") for n in (12, 40, 52, 56, 64, 108, 124))

# File signatures of formats people upload by mistake, to name them in the message.
_OTHER_FORMATS: tuple[tuple[Callable[[bytes], bool], str], ...] = (
    (lambda d: d[4:8] == b"ftyp" and b"avif" in d[8:32], "an AVIF image"),
    (
        lambda d: d[4:8] == b"ftyp" and d[8:12] in (b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1"),
        "an HEIC photo (the iPhone default)",
    ),
    (lambda d: d[:4] in (b"II*\x00", b"MM\x00*"), "a TIFF image"),
    # "BM" alone is too common a start for text; also require a BMP info-header size.
    (lambda d: d[:2] == b"BM" and d[14:18] in _BMP_HEADER_SIZES, "a BMP image"),
    (lambda d: d[:4] == b"8BPS", "a Photoshop file"),
    (lambda d: d[:5] == b"%PDF-", "a PDF"),
    (lambda d: b"<svg" in d[:1024].lower(), "an SVG drawing"),
)


def _unreadable_message(data: bytes) -> str:
    for matches, name in _OTHER_FORMATS:
        if matches(data):
            return f"This file is {name}, which we can't read. Export it as JPEG or PNG and try again."
    return f"This file is not an image we can read ({_ACCEPTED})."


def _format_bytes(count: int) -> str:
    if count >= MB:
        return megabytes_text(count)
    if count >= _KB:
        return f"{_trim(count / _KB)} KB"
    return f"{count:,} bytes"


def _trim(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text
