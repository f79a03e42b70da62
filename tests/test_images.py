"""studio.media.images against real files made with Pillow (and a few PNGs and an ICC profile made by hand)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms

from studio.errors import ImageRejected, InvalidInput
from studio.media.images import (
    DEFAULT_MAX_BYTES,
    MAX_PIXELS,
    MIN_SIDE,
    FittedImage,
    ImageInfo,
    fit,
    inspect_image,
    parse_size,
    suggest_orientation,
)
from tests.media import encode_image

RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)
YELLOW = (255, 255, 0)
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


# ------------------------------------------------------------------ helpers


encode = encode_image  # the name these tests read best with


def quadrants(width: int, height: int) -> Image.Image:
    """Red top left, green top right, blue bottom left, yellow bottom right."""
    image = Image.new("RGB", (width, height))
    half_w, half_h = width // 2, height // 2
    image.paste(RED, (0, 0, half_w, half_h))
    image.paste(GREEN, (half_w, 0, width, half_h))
    image.paste(BLUE, (0, half_h, half_w, height))
    image.paste(YELLOW, (half_w, half_h, width, height))
    return image


def decoded(fitted: FittedImage) -> Image.Image:
    image = Image.open(io.BytesIO(fitted.data))
    image.load()
    return image


def near(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bilevel_png(width: int, height: int) -> bytes:
    """A real, complete 1-bit PNG; all black, so it compresses to almost nothing.

    Written by hand because Pillow would need a byte per pixel in memory to make it.
    """
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed pixels
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return PNG_MAGIC + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b"")


def noisy(width: int, height: int, seed: int = 1) -> Image.Image:
    """Random pixels: compress badly, so the pixel data fills most of the file."""
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def swapped_primaries_icc() -> bytes:
    """An RGB ICC profile whose "red" channel is sRGB's green and whose "green" is sRGB's red.

    A pixel (255, 0, 0) tagged with it is green once colour-managed, so a
    test can tell whether the profile was honoured.
    """

    def s15f16(*values: float) -> bytes:
        return b"".join(struct.pack(">i", round(v * 65536)) for v in values)

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ " + bytes(4) + s15f16(x, y, z)

    ascii_text = b"swapped red/green\x00"
    desc = (
        b"desc" + bytes(4) + struct.pack(">I", len(ascii_text)) + ascii_text + bytes(8) + bytes(3) + bytes(67)
    )
    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, round(2.2 * 256)) + bytes(2)
    d50 = (0.9642, 1.0, 0.8249)
    srgb_red, srgb_green, srgb_blue = (
        (0.4361, 0.2225, 0.0139),
        (0.3851, 0.7169, 0.0971),
        (0.1431, 0.0606, 0.7141),
    )
    tags = [
        (b"desc", desc),
        (b"wtpt", xyz(*d50)),
        (b"rXYZ", xyz(*srgb_green)),
        (b"gXYZ", xyz(*srgb_red)),
        (b"bXYZ", xyz(*srgb_blue)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data = struct.pack(">I", len(tags)), b""
    for signature, body in tags:
        body += bytes(-len(body) % 4)
        table += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (
        struct.pack(">I4sI4s4s4s", size, bytes(4), 0x02100000, b"mntr", b"RGB ", b"XYZ ")
        + bytes(12)  # date
        + b"acsp"
        + bytes(4 + 4 + 4 + 4 + 8 + 4)  # platform, flags, manufacturer, model, attributes, intent
        + s15f16(*d50)
        + bytes(4 + 44)  # creator, profile id and reserved
    )
    assert len(header) == 128
    return header + table + data


# -------------------------------------------------------------- parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1280x720", (1280, 720)),
        (" 720 X 1280 ", (720, 1280)),
        ("1792×1024", (1792, 1024)),
        ((1024, 1792), (1024, 1792)),
    ],
)
def test_parse_size_reads_sizes(text: str | tuple[int, int], expected: tuple[int, int]) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize(
    "junk", ["", "big", "1280x", "x720", "1280x720x3", "0x720", "1280x0", "99999x720", "12.5x9"]
)
def test_parse_size_rejects_junk_with_an_example(junk: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_size(junk)
    message = str(caught.value)
    assert "1280x720" in message or "between 1 and" in message


def test_parse_size_rejects_a_malformed_tuple() -> None:
    with pytest.raises(InvalidInput):
        parse_size((1280, "720"))  # type: ignore[arg-type]


# ---------------------------------------------------------- exact sizes

SOURCES = {"portrait": (300, 500), "landscape": (500, 300), "square": (400, 400)}
TARGETS = ["720x1280", "1280x720", "1024x1792"]


@pytest.mark.parametrize("mode", ["cover", "contain", "stretch"])
@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize("target", TARGETS)
def test_every_mode_produces_exactly_the_target_size(mode: str, source: str, target: str) -> None:
    data = encode(quadrants(*SOURCES[source]))
    fitted = fit(data, target, mode)  # type: ignore[arg-type]
    expected = parse_size(target)
    assert (fitted.width, fitted.height) == expected
    assert decoded(fitted).size == expected
    assert (fitted.source_width, fitted.source_height) == SOURCES[source]


def test_odd_sizes_are_exact_too() -> None:
    data = encode(quadrants(333, 777))
    for mode in ("cover", "contain", "stretch"):
        assert decoded(fit(data, "1001x67", mode)).size == (1001, 67)  # type: ignore[arg-type]


# ------------------------------------------------------------ cover focus


def test_cover_focal_point_chooses_which_side_is_kept() -> None:
    # 800x400 into a portrait frame: only a 225 px wide strip of the width survives.
    data = encode(quadrants(800, 400))
    left = decoded(fit(data, "720x1280", "cover", focal=(0.0, 0.0)))
    right = decoded(fit(data, "720x1280", "cover", focal=(1.0, 1.0)))
    assert near(left.getpixel((360, 320)), RED)
    assert near(left.getpixel((360, 960)), BLUE)
    assert near(right.getpixel((360, 320)), GREEN)
    assert near(right.getpixel((360, 960)), YELLOW)


def test_cover_centre_keeps_the_middle() -> None:
    data = encode(quadrants(800, 400))
    middle = decoded(fit(data, "720x1280", "cover"))  # default focal (0.5, 0.5)
    assert near(middle.getpixel((100, 320)), RED)
    assert near(middle.getpixel((620, 320)), GREEN)


def test_cover_focal_point_works_vertically() -> None:
    data = encode(quadrants(400, 800))
    top = decoded(fit(data, "1280x720", "cover", focal=(0.5, 0.0)))
    bottom = decoded(fit(data, "1280x720", "cover", focal=(0.5, 1.0)))
    assert near(top.getpixel((320, 360)), RED) and near(top.getpixel((960, 360)), GREEN)
    assert near(bottom.getpixel((320, 360)), BLUE) and near(bottom.getpixel((960, 360)), YELLOW)


@pytest.mark.parametrize("focal", [(1.5, 0.5), (-0.1, 0.5), (0.5, float("nan"))])
def test_focal_point_outside_the_picture_is_refused(focal: tuple[float, float]) -> None:
    with pytest.raises(InvalidInput, match="focal point"):
        fit(encode(quadrants(200, 200)), "1280x720", "cover", focal=focal)


# ---------------------------------------------------------------- contain


def test_contain_with_black_has_black_bars_and_the_whole_picture() -> None:
    fitted = decoded(fit(encode(quadrants(400, 400)), "1280x720", "contain", background="#000000"))
    # The square becomes 720x720 at x = 280..1000; the rest is bars.
    assert fitted.getpixel((10, 360)) == BLACK
    assert fitted.getpixel((1270, 360)) == BLACK
    assert near(fitted.getpixel((460, 180)), RED)
    assert near(fitted.getpixel((820, 180)), GREEN)
    assert near(fitted.getpixel((460, 540)), BLUE)
    assert near(fitted.getpixel((820, 540)), YELLOW)


def test_contain_with_a_colour_fills_the_bars_with_it() -> None:
    fitted = decoded(fit(encode(quadrants(400, 800)), "720x1280", "contain", background="#ff00ff"))
    # 400x800 becomes 640x1280: 40 px bars left and right.
    assert fitted.getpixel((5, 640)) == (255, 0, 255)
    assert fitted.getpixel((715, 640)) == (255, 0, 255)
    assert near(fitted.getpixel((200, 320)), RED)


def test_contain_with_blur_fills_the_bars_with_the_picture_darkened() -> None:
    fitted = decoded(fit(encode(quadrants(400, 400)), "1280x720", "contain", background="blur"))
    left_bar = fitted.getpixel((10, 100))
    right_bar = fitted.getpixel((1270, 100))
    assert sum(left_bar) > 60 and sum(right_bar) > 60, "bars should not be black"
    # The blurred copy is the same picture: the left bar top is reddish, the right bar top greenish.
    assert left_bar[0] > left_bar[1] + 40
    assert right_bar[1] > right_bar[0] + 40
    # ...and darker than the real picture, which is untouched in the middle.
    assert max(left_bar) < 230
    assert near(fitted.getpixel((460, 180)), RED)


def test_unknown_background_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not a colour"):
        fit(encode(quadrants(200, 200)), "1280x720", "contain", background="sparkly")


# ---------------------------------------------------------------- stretch


def test_stretch_keeps_the_whole_picture_distorted() -> None:
    fitted = decoded(fit(encode(quadrants(400, 400)), "1280x720", "stretch"))
    assert near(fitted.getpixel((320, 180)), RED)
    assert near(fitted.getpixel((960, 180)), GREEN)
    assert near(fitted.getpixel((320, 540)), BLUE)
    assert near(fitted.getpixel((960, 540)), YELLOW)


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(InvalidInput, match="cover, contain or stretch"):
        fit(encode(quadrants(200, 200)), "1280x720", "zoom")  # type: ignore[arg-type]


# ----------------------------------------------------------------- output


def test_png_output_is_a_png() -> None:
    fitted = fit(encode(quadrants(300, 300)), "1280x720")
    assert fitted.data.startswith(PNG_MAGIC)
    assert (fitted.mime, fitted.filename) == ("image/png", "reference.png")
    assert fitted.as_upload() == ("reference.png", fitted.data, "image/png")
    assert decoded(fitted).mode == "RGB"


def test_jpeg_output_is_a_jpeg() -> None:
    fitted = fit(encode(quadrants(300, 300)), "1280x720", output_format="JPEG")
    assert fitted.data.startswith(JPEG_MAGIC)
    assert (fitted.mime, fitted.filename) == ("image/jpeg", "reference.jpg")
    assert fitted.as_upload() == ("reference.jpg", fitted.data, "image/jpeg")
    image = decoded(fitted)
    assert image.format == "JPEG" and image.mode == "RGB"


# ------------------------------------------------------- colour handling


def test_cmyk_jpeg_colours_come_out_right_not_inverted() -> None:
    cmyk = Image.new("CMYK", (200, 200), (0, 255, 255, 0))  # red in print terms
    cmyk.paste((255, 0, 0, 0), (100, 0, 200, 200))  # cyan on the right
    data = encode(cmyk, "JPEG", quality=95)
    assert inspect_image(data).mode == "CMYK"
    fitted = decoded(fit(data, "200x200", "stretch"))
    assert near(fitted.getpixel((40, 100)), RED, 20)
    assert near(fitted.getpixel((160, 100)), (0, 255, 255), 20)


def test_embedded_icc_profile_is_honoured() -> None:
    # In this profile the first channel means green, so a "red" pixel must come out green.
    profile = swapped_primaries_icc()
    ImageCms.ImageCmsProfile(io.BytesIO(profile))  # the hand-made profile itself is valid
    data = encode(Image.new("RGB", (128, 128), RED), "PNG", icc_profile=profile)
    fitted = decoded(fit(data, "128x128", "stretch"))
    red, green, blue = fitted.getpixel((64, 64))
    assert green > 200 and red < 60 and blue < 60


def test_sixteen_bit_grey_stays_mid_grey() -> None:
    grey16 = Image.fromarray(np.full((200, 200), 32768, dtype=np.uint16))
    data = encode(grey16, "PNG")
    assert inspect_image(data).mode.startswith("I")
    pixel = decoded(fit(data, "256x256", "stretch")).getpixel((128, 128))
    assert near(pixel, (128, 128, 128), 2), f"16-bit mid grey became {pixel}"


def test_sixteen_bit_gradient_keeps_its_range() -> None:
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (100, 1))
    fitted = decoded(fit(encode(Image.fromarray(ramp), "PNG"), "256x100", "stretch"))
    assert fitted.getpixel((0, 50))[0] < 5
    assert 110 < fitted.getpixel((128, 50))[0] < 145
    assert fitted.getpixel((255, 50))[0] > 250


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (Image.new("L", (100, 100), 100), (100, 100, 100)),
        (Image.new("1", (100, 100), 1), WHITE),
        (
            Image.new("RGB", (100, 100), (10, 120, 200)).convert("P", palette=Image.Palette.ADAPTIVE),
            (10, 120, 200),
        ),
    ],
    ids=["greyscale", "1-bit", "palette"],
)
def test_other_modes_become_the_same_rgb(image: Image.Image, expected: tuple[int, int, int]) -> None:
    pixel = decoded(fit(encode(image), "200x200", "stretch")).getpixel((100, 100))
    assert near(pixel, expected, 3)


def half_transparent(mode: str) -> Image.Image:
    """Left half transparent, right half opaque red (or its nearest in `mode`)."""
    rgba = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    rgba.paste((255, 0, 0, 255), (100, 0, 200, 200))
    if mode == "RGBA":
        return rgba
    if mode == "LA":
        return rgba.convert("LA")
    if mode == "P":
        palette = Image.new("P", (200, 200), 0)
        palette.putpalette([0, 255, 0, 255, 0, 0])  # index 0 green (transparent), 1 red
        palette.paste(1, (100, 0, 200, 200))
        palette.info["transparency"] = 0
        return palette
    keyed = Image.new("RGB", (200, 200), (0, 255, 0))  # colour-keyed green
    keyed.paste(RED, (100, 0, 200, 200))
    keyed.info["transparency"] = (0, 255, 0)
    return keyed


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "RGB-key"])
@pytest.mark.parametrize("output_format", ["PNG", "JPEG"])
def test_transparency_is_flattened_onto_white(mode: str, output_format: str) -> None:
    source = half_transparent(mode)
    data = (
        encode(source, "PNG", transparency=source.info["transparency"])
        if "transparency" in source.info
        else encode(source)
    )
    fitted = decoded(fit(data, "400x400", "stretch", output_format=output_format))  # type: ignore[arg-type]
    assert fitted.mode == "RGB"
    assert near(fitted.getpixel((50, 200)), WHITE, 6), "transparent area should be white, not black"
    opaque = fitted.getpixel((350, 200))
    expected = (76, 76, 76) if mode == "LA" else RED  # LA is grey: red's luminance
    assert near(opaque, expected, 12)


# ------------------------------------------------------ orientation, frames


def test_exif_rotated_photo_is_turned_upright() -> None:
    # Stored sideways, 3000x2000, red on the left. Orientation 6 means "turn 90° clockwise",
    # so people see a 2000x3000 portrait with red on top.
    stored = Image.new("RGB", (3000, 2000), BLUE)
    stored.paste(RED, (0, 0, 1500, 2000))
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(stored, "JPEG", quality=90, exif=exif.tobytes())

    info = inspect_image(data)
    assert (info.width, info.height) == (2000, 3000)

    fitted = fit(data, "720x1280", "cover")
    assert (fitted.source_width, fitted.source_height) == (2000, 3000)
    upright = decoded(fitted)
    assert near(upright.getpixel((360, 200)), RED, 20)
    assert near(upright.getpixel((360, 1080)), BLUE, 20)
    assert "exif" not in upright.info or 0x0112 not in upright.getexif()


def test_big_jpeg_reports_its_real_size_and_fits() -> None:
    # Large enough for the reduced-scale JPEG decode to kick in.
    data = encode(quadrants(4000, 3000), "JPEG", quality=85)
    fitted = fit(data, "1280x720", "cover")
    assert (fitted.source_width, fitted.source_height) == (4000, 3000)
    image = decoded(fitted)
    assert image.size == (1280, 720)
    assert near(image.getpixel((320, 180)), RED, 20)
    assert near(image.getpixel((960, 540)), YELLOW, 20)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animated_image_uses_the_first_frame(fmt: str) -> None:
    frames = [Image.new("RGB", (120, 120), colour) for colour in (RED, GREEN, BLUE)]
    options: dict[str, object] = {"save_all": True, "append_images": frames[1:], "duration": 100, "loop": 0}
    if fmt == "WEBP":
        options["lossless"] = True
    data = encode(frames[0], fmt, **options)
    info = inspect_image(data)
    assert info.frames == 3
    fitted = decoded(fit(data, "240x240", "stretch"))
    assert near(fitted.getpixel((120, 120)), RED, 10)


def test_phone_mpo_jpeg_is_accepted() -> None:
    # Many phones write MPO: a JPEG with a second picture appended.
    main = quadrants(800, 600)
    data = encode(main, "MPO", save_all=True, append_images=[Image.new("RGB", (160, 120), BLACK)])
    info = inspect_image(data)
    assert (info.format, info.frames, info.width, info.height) == ("MPO", 2, 800, 600)
    fitted = decoded(fit(data, "1280x720", "stretch"))
    assert near(fitted.getpixel((320, 180)), RED, 20)


def test_inspect_describes_the_file() -> None:
    info = inspect_image(encode(Image.new("RGBA", (300, 200), (1, 2, 3, 4))))
    assert info == ImageInfo(width=300, height=200, format="PNG", mode="RGBA", frames=1)


# ------------------------------------------------------------- rejections


def assert_rejected(data: bytes, *phrases: str, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Both entry points refuse the file with ImageRejected and a message naming the problem."""
    for call in (lambda: inspect_image(data, max_bytes), lambda: fit(data, "1280x720", max_bytes=max_bytes)):
        with pytest.raises(ImageRejected) as caught:
            call()
        message = str(caught.value)
        for phrase in phrases:
            assert phrase in message, f"{phrase!r} not in {message!r}"


def test_empty_input_is_rejected() -> None:
    assert_rejected(b"", "empty")


def test_text_file_is_rejected() -> None:
    assert_rejected(b"Campaign brief: launch video, 8 seconds, upbeat.\n", "not an image we can read")


@pytest.mark.parametrize(("fmt", "name"), [("TIFF", "TIFF"), ("BMP", "BMP")])
def test_other_image_formats_are_named(fmt: str, name: str) -> None:
    assert_rejected(encode(quadrants(200, 200), fmt), name, "JPEG or PNG")


def test_truncated_png_is_rejected_as_damaged() -> None:
    data = encode(noisy(300, 300))
    assert_rejected(data[: len(data) // 2], "damaged or incomplete")


def test_truncated_jpeg_is_rejected_as_damaged() -> None:
    data = encode(noisy(300, 300), "JPEG", quality=90)
    assert_rejected(data[: len(data) // 2], "damaged or incomplete")


def test_corrupt_png_data_is_rejected_as_damaged() -> None:
    data = bytearray(encode(noisy(300, 300)))
    idat = data.index(b"IDAT")
    data[idat + 200 : idat + 600] = bytes(400)  # overwrite compressed pixels inside the stream
    assert_rejected(bytes(data), "damaged or incomplete")


def test_decompression_bomb_over_our_limit_is_rejected_before_decoding() -> None:
    data = bilevel_png(8000, 8000)  # 64 megapixels in a few kilobytes
    assert len(data) < 20_000
    assert MAX_PIXELS < 8000 * 8000
    assert_rejected(data, "8000x8000", "64.0 megapixels", "50 megapixels")


def test_decompression_bomb_over_pillows_limit_is_rejected() -> None:
    data = bilevel_png(20000, 20000)  # 400 megapixels: Pillow itself refuses to open it
    assert_rejected(data, "50 megapixels")


def test_one_pixel_image_is_rejected_as_too_small() -> None:
    assert_rejected(encode(Image.new("RGB", (1, 1), RED)), "1x1 px", f"at least {MIN_SIDE} px")


def test_thin_image_is_rejected_as_too_small() -> None:
    assert_rejected(encode(Image.new("RGB", (500, 40), RED)), "500x40 px", f"at least {MIN_SIDE} px")


def test_smallest_allowed_image_fits() -> None:
    assert decoded(fit(encode(Image.new("RGB", (MIN_SIDE, MIN_SIDE), RED)), "1280x720")).size == (1280, 720)


def test_over_limit_file_is_rejected_before_decoding() -> None:
    data = encode(noisy(100, 100))
    assert len(data) > 20_000
    assert_rejected(data, "KB", "the limit is 10 KB", max_bytes=10 * 1024)


def test_over_limit_message_reads_in_megabytes() -> None:
    # Padding after IEND: only the size check can see it, and it must come first.
    size = round(25.3 * 1024 * 1024)
    data = encode(quadrants(100, 100))
    data += bytes(size - len(data))
    assert_rejected(data, "The image is 25.3 MB; the limit is 20 MB.")


# ------------------------------------------------------- suggest_orientation


def test_suggest_orientation_follows_the_photo() -> None:
    sizes = ["720x1280", "1280x720"]
    assert suggest_orientation(3000, 4000, sizes) == "720x1280"
    assert suggest_orientation(4000, 3000, sizes) == "1280x720"


def test_suggest_orientation_with_the_pro_sizes() -> None:
    pro = ["720x1280", "1280x720", "1024x1792", "1792x1024"]
    assert suggest_orientation(1080, 1920, pro) in ("720x1280", "1024x1792")
    assert suggest_orientation(1792, 1024, pro) == "1792x1024"  # exact ratio beats 16:9
    assert suggest_orientation(4000, 3000, pro) in ("1280x720", "1792x1024")


def test_suggest_orientation_tie_goes_to_the_first_offered() -> None:
    assert suggest_orientation(1000, 1000, ["1280x720", "720x1280"]) == "1280x720"
    assert suggest_orientation(1000, 1000, ["720x1280", "1280x720"]) == "720x1280"


def test_suggest_orientation_skips_entries_that_are_not_sizes() -> None:
    assert suggest_orientation(3000, 4000, ["auto", "1280x720", "720x1280"]) == "720x1280"
    with pytest.raises(InvalidInput):
        suggest_orientation(3000, 4000, ["auto"])
    with pytest.raises(InvalidInput):
        suggest_orientation(3000, 4000, [])


def test_a_webp_too_big_to_decode_within_budget_is_refused_and_the_same_jpeg_is_fitted() -> None:
    # WebP has no reduced decode, so 24 MP would take ~400 MB; the message says how to send it instead.
    picture = Image.new("RGB", (6000, 4000), RED)
    assert_rejected(encode(picture, "WEBP"), "6000x4000", "24.0 megapixels", "read whole", "save it as JPEG")
    fitted = fit(encode(picture, "JPEG"), "1280x720")
    assert (fitted.width, fitted.height) == (1280, 720) and (fitted.source_width, fitted.source_height) == (6000, 4000)
