"""Frames as YUV 4:2:0 planes, the one picture format every engine hands to the writer."""

from __future__ import annotations

import io
from typing import NamedTuple

import av
import numpy as np
from av.video.reformatter import Colorspace, Interpolation
from PIL import Image

# The stream is tagged BT.709, limited range, and every conversion here uses that matrix.
BT709 = 1
LIMITED_RANGE = 1


class Planes(NamedTuple):
    """A picture in YUV 4:2:0: luma at full size, chroma at half. Rows may be views with padding."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray

    @property
    def width(self) -> int:
        return self.y.shape[1]

    @property
    def height(self) -> int:
        return self.y.shape[0]

    def video_frame(self) -> av.VideoFrame:
        # Shares the arrays' memory (and keeps them alive as long as the frame lives): no copy.
        return av.VideoFrame.from_dlpack((self.y, self.u, self.v), format="yuv420p")

    def crop(self, left: int, top: int, width: int, height: int) -> Planes:
        """A view; an odd offset puts chroma half a chroma pixel off, which nobody can see."""
        cl, ct = left // 2, top // 2
        return Planes(
            self.y[top : top + height, left : left + width],
            self.u[ct : ct + height // 2, cl : cl + width // 2],
            self.v[ct : ct + height // 2, cl : cl + width // 2],
        )

    def copy(self) -> Planes:
        return Planes(self.y.copy(), self.u.copy(), self.v.copy())


def frame_planes(frame: av.VideoFrame) -> Planes:
    return Planes(*(plane_array(plane) for plane in frame.planes))


def plane_array(plane: av.video.plane.VideoPlane) -> np.ndarray:
    return np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]


def scaled_plane(plane: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bilinear resize of one 8-bit plane by swscale, several times faster than Pillow."""
    frame = av.VideoFrame.from_numpy_buffer(plane, format="gray")
    scaled = frame.reformat(width=width, height=height, interpolation=Interpolation.BILINEAR, threads=1)
    return plane_array(scaled.planes[0])


def clamp(value: int, low: int, high: int) -> int:
    return min(max(value, low), high)


def even(value: float) -> int:
    return 2 * round(value / 2)


def yuv_planes(image: np.ndarray) -> Planes:
    """BT.709 limited-range planes of a float RGB image, all three at the image's own size."""
    image = np.clip(image, 0, 1)
    luma = image @ np.array((0.2126, 0.7152, 0.0722), np.float32)
    return Planes(
        (16.5 + 219 * luma).astype(np.uint8),
        (128.5 + 224 / 1.8556 * (image[..., 2] - luma)).astype(np.uint8),
        (128.5 + 224 / 1.5748 * (image[..., 0] - luma)).astype(np.uint8),
    )


def yuv(rgb: tuple[float, ...]) -> tuple[int, int, int]:
    """One colour (0..1 floats) in BT.709 limited range."""
    planes = yuv_planes(np.array(rgb, np.float32).reshape(1, 1, 3))
    return int(planes.y[0, 0]), int(planes.u[0, 0]), int(planes.v[0, 0])


def to_image(frame: Planes, long_side: int) -> Image.Image:
    scale = long_side / max(frame.width, frame.height)
    width, height = max(2, even(frame.width * scale)), max(2, even(frame.height * scale))
    rgb = frame.video_frame().reformat(
        width=width, height=height, format="rgb24", src_colorspace=Colorspace.ITU709, interpolation="AREA"
    )
    return rgb.to_image()


def encoded_image(image: Image.Image, format: str, **options: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def planes_from_rgb(rgb: np.ndarray, width: int, height: int) -> Planes:
    """An RGB uint8 (H, W, 3) picture scaled to width x height, as BT.709 planes of our own."""
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    converted = frame.reformat(
        width=width, height=height, format="yuv420p", interpolation=Interpolation.BICUBIC,
        dst_colorspace=Colorspace.ITU709, dst_color_range=LIMITED_RANGE,
    )
    return frame_planes(converted).copy()


def rgb_from_planes(frame: Planes) -> np.ndarray:
    """The planes as an RGB uint8 (H, W, 3) array at their own size: what image and video models take."""
    rgb = frame.video_frame().reformat(format="rgb24", src_colorspace=Colorspace.ITU709)
    return rgb.to_ndarray()
