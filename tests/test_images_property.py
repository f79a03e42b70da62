"""Property test of studio.media.images (issue 10): whatever bytes arrive, `fit` gives an exact image or a studio error.

Inputs: random bytes, 0-byte files, real images in every Pillow mode (saved in a format that can hold it, or in
one the studio does not read: TIFF, BMP), the same images truncated or with bytes flipped, and headers that
declare huge sizes (PNG, GIF, JPEG claiming 100000x100000). Targets: all three fit modes, random sizes (some out
of range), both output formats, blur or a colour behind `contain`.

`fit` and `inspect_image` take bytes, never a file name, so a "wrong extension" reaches them only as content
that is not what the name said: the TIFF, BMP and random-byte cases.

The property: `fit` returns bytes that Pillow reopens in the promised format at exactly the target size, or it
raises InvalidInput (ImageRejected for the picture itself), a StudioError. Any other exception fails the test.
An upload that `inspect_image` accepts is one that `fit` can fit. Bounded by example count, not by time: the
2 s / 300 MB per-call bounds belong to a benchmark, not to this test.
"""

from __future__ import annotations

import io
import os
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from studio.errors import ImageRejected, InvalidInput, StudioError
from studio.media.images import MAX_TARGET_SIDE, FittedImage, fit, inspect_image
from tests.media import encode_image

# A modest, fixed budget so the suite stays fast; SORA_PROPERTY_EXAMPLES=2000 for a longer hunt by hand.
EXAMPLES = int(os.environ.get("SORA_PROPERTY_EXAMPLES", "300"))
pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # the huge headers
BOUNDED = settings(
    max_examples=EXAMPLES,
    deadline=None,  # no timing in tests
    database=None,  # write nothing into the work tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

# Every mode Pillow can write to a file, and every format that takes it (Pillow converts some on the way:
# WEBP and GIF store 16-bit and float pictures as 8-bit). TIFF and BMP are formats the studio does not read.
SAVES_AS = {
    "1": ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"),
    "L": ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"),
    "LA": ("PNG", "WEBP", "GIF", "TIFF"),
    "P": ("PNG", "WEBP", "GIF", "BMP", "TIFF"),
    "PA": ("WEBP", "TIFF"),
    "RGB": ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"),
    "RGBA": ("PNG", "WEBP", "GIF", "BMP", "TIFF"),
    "RGBX": ("JPEG", "WEBP", "TIFF"),
    "CMYK": ("JPEG", "WEBP", "TIFF"),
    "YCbCr": ("JPEG", "WEBP", "TIFF"),
    "LAB": ("WEBP", "TIFF"),
    "HSV": ("WEBP",),
    "I": ("WEBP", "GIF", "TIFF"),
    "F": ("WEBP", "GIF", "TIFF"),
    "I;16": ("PNG", "WEBP", "GIF", "TIFF"),
    "I;16B": ("PNG", "WEBP", "GIF", "TIFF"),
    "I;16L": ("WEBP", "GIF", "TIFF"),
    "RGBa": ("WEBP",),
}
MODES = tuple(SAVES_AS)
OPENED = {"PNG": "PNG", "JPEG": "JPEG"}


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def huge_png(width: int, height: int, bit_depth: int, colour: int, with_data: bool) -> bytes:
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0))
    data = png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) if with_data else b""
    return b"\x89PNG\r\n\x1a\n" + header + data + png_chunk(b"IEND", b"")


def huge_gif(width: int, height: int) -> bytes:
    screen = struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
    return b"GIF89a" + screen + frame + b"\x3b"


def huge_jpeg(width: int, height: int) -> bytes:
    """A baseline JPEG whose SOF0 claims width x height, taken from a real 8x8 JPEG."""
    data = encode_image(Image.new("L", (8, 8), 128), "JPEG")
    sof = data.index(b"\xff\xc0")
    return data[: sof + 5] + struct.pack(">HH", height, width) + data[sof + 9:]


@st.composite
def pictures(draw: st.DrawFn) -> bytes:
    """A real image in any Pillow mode, in a format that holds that mode."""
    mode = draw(st.sampled_from(MODES))
    side = st.one_of([st.integers(64, 240)] * 7 + [st.integers(1, 63)])  # mostly usable, sometimes too small
    width, height = draw(side), draw(side)
    seed = draw(st.integers(0, 2**32 - 1))
    pixels = np.random.default_rng(seed).integers(0, 256, size=(height, width, 4), dtype=np.uint8)
    base = Image.fromarray(pixels, "RGBA")
    if mode in ("I", "F") or mode.startswith("I;16"):
        wide = pixels[..., 0].astype(np.int32) * 257  # spread over 0..65535
        image = Image.fromarray(wide.astype(np.float32), "F") if mode == "F" else Image.fromarray(wide, "I")
        if mode.startswith("I;16"):
            image = image.convert(mode)
    elif mode == "PA":
        image = base.convert("P").convert("PA")
    elif mode in ("P", "1", "LAB", "HSV", "RGBX", "YCbCr", "CMYK"):
        image = base.convert("RGB").convert(mode)
    else:
        image = base.convert(mode)
    assert image.mode == mode
    fmt = draw(st.sampled_from(SAVES_AS[mode]))
    options: dict[str, object] = {}
    if draw(st.booleans()) and fmt == "PNG" and mode in ("P", "L", "RGB"):  # a colour key
        options["transparency"] = 0 if mode in ("P", "L") else (0, 0, 0)
    if fmt == "JPEG" and draw(st.booleans()):
        exif = Image.Exif()
        exif[0x0112] = draw(st.integers(0, 10))  # Orientation, including out-of-range values
        options["exif"] = exif.tobytes()
    return encode_image(image, fmt, **options)


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """A real image cut short, or with some bytes overwritten."""
    data = draw(pictures())
    if draw(st.booleans()):
        return data[: draw(st.integers(0, max(0, len(data) - 1)))]
    buffer = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        buffer[draw(st.integers(0, len(buffer) - 1))] = draw(st.integers(0, 255))
    return bytes(buffer)


huge_sides = st.integers(1, 2**31 - 1) | st.sampled_from([100_000, 65_535, 10_000])
uploads = st.one_of(  # one_of picks a branch evenly: real pictures get four branches of eight
    st.just(b""),
    st.binary(max_size=4096),
    pictures(),
    pictures(),
    pictures(),
    pictures(),
    damaged(),
    st.builds(huge_png, huge_sides, huge_sides, st.sampled_from([1, 8, 16]), st.sampled_from([0, 2, 3, 4, 6]),
              st.booleans()),
    st.builds(huge_gif, st.integers(1, 65_535), st.integers(1, 65_535)),
    st.builds(huge_jpeg, st.integers(1, 65_535), st.integers(1, 65_535)),
)
# Mostly valid sizes, kept small so many cases fit in the budget; some out of range or malformed.
good_sides = st.tuples(st.integers(1, 400), st.integers(1, 400))
targets = st.one_of(
    good_sides,
    good_sides,
    good_sides,
    st.builds("{}x{}".format, st.integers(1, 400), st.integers(1, 400)),
    st.tuples(st.integers(-5, MAX_TARGET_SIDE + 5), st.integers(-5, 3)),
    st.text(max_size=12),
)
fit_modes = st.sampled_from(["cover", "contain", "stretch"])


def check(result: FittedImage, target: object, output_format: str) -> None:
    opened = Image.open(io.BytesIO(result.data))
    opened.load()  # every byte decodes
    assert opened.format == OPENED[output_format]
    assert opened.mode == "RGB"
    assert opened.size == (result.width, result.height)
    if isinstance(target, tuple):
        assert opened.size == target
    else:
        assert f"{opened.width}x{opened.height}" == str(target).strip().lower().replace(" ", "")


@BOUNDED
@given(
    upload=uploads,
    target=targets,
    mode=fit_modes,
    output_format=st.sampled_from(["PNG", "JPEG"]),
    background=st.sampled_from(["blur", "#000000", "white"]),
    focal=st.tuples(st.floats(0, 1), st.floats(0, 1)),
)
@example(upload=huge_png(100_000, 100_000, 8, 2, True), target=(64, 64), mode="cover", output_format="PNG",
         background="blur", focal=(0.5, 0.5))
@example(upload=huge_gif(65_535, 65_535), target="1280x720", mode="contain", output_format="PNG",
         background="blur", focal=(0.5, 0.5))
@example(upload=huge_jpeg(65_535, 65_535), target=(720, 1280), mode="stretch", output_format="JPEG",
         background="#000000", focal=(0.0, 1.0))
@example(upload=b"", target=(64, 64), mode="contain", output_format="JPEG", background="blur", focal=(0.5, 0.5))
def test_fit_gives_an_exact_image_or_a_studio_error(upload: bytes, target: object, mode: str, output_format: str,
                                                    background: str, focal: tuple[float, float]) -> None:
    try:
        result = fit(upload, target, mode, focal=focal, background=background,  # type: ignore[arg-type]
                     output_format=output_format)  # type: ignore[arg-type]
    except InvalidInput as error:  # ImageRejected for the picture, InvalidInput for a bad size
        assert isinstance(error, StudioError) and str(error) and error.code
        event(f"refused: {error.code}")
        return
    check(result, target, output_format)
    event(f"fitted ({mode})")


@BOUNDED
@given(upload=uploads, target=st.tuples(st.integers(1, 300), st.integers(1, 300)), mode=fit_modes)
def test_what_inspect_accepts_fit_can_fit(upload: bytes, target: tuple[int, int], mode: str) -> None:
    try:
        info = inspect_image(upload)
    except ImageRejected as error:
        assert str(error) and error.code
        event(f"refused: {error.code}")
        return
    event(f"accepted: {info.format} {info.mode}")
    assert info.width > 0 and info.height > 0 and info.frames >= 1
    result = fit(upload, target, mode, output_format="PNG")  # type: ignore[arg-type]
    check(result, target, "PNG")
    assert (result.source_width, result.source_height) == (info.width, info.height)
