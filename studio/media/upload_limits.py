"""What the studio accepts from a user's files, in one table: the uploaders, the error messages and the README
all read it, so they can never disagree.

The sizes match localsora's defaults (`localsora/config.py`: `max_image_bytes`, `max_video_bytes`), the
default backend; a test checks that they still do.
"""

from __future__ import annotations

from dataclasses import dataclass

MB = 1024 * 1024  # the studio's one megabyte, in limits and in every size it shows: 20 MB is 20 × 1024 × 1024 bytes


def megabytes_text(count: int) -> str:
    """`count` bytes in MB of 1024 × 1024 bytes, as limits are set: "20 MB" for the 20 MB limit (never "21 MB",
    what 1,000,000-byte megabytes make of it), "3.5 MB"."""
    return f"{count / MB:.1f}".removesuffix(".0") + " MB"


@dataclass(frozen=True)
class UploadLimit:
    """One kind of upload: the formats it takes and its largest size."""

    what: str  # "reference image", "video to edit"
    formats: tuple[str, ...]  # as people name them: "JPEG", "PNG"
    extensions: tuple[str, ...]  # what the file picker offers, no dot
    max_bytes: int

    @property
    def max_mb(self) -> int:
        return self.max_bytes // MB

    @property
    def formats_text(self) -> str:
        """"JPEG, PNG, WebP or GIF": the same words in the uploader, its help and every error."""
        if len(self.formats) == 1:
            return self.formats[0]
        return f"{', '.join(self.formats[:-1])} or {self.formats[-1]}"

    def refusal(self, size: int) -> str | None:
        """Why an upload of `size` bytes is refused, in words; None when it is within the limit."""
        if size <= self.max_bytes:
            return None
        return f"The {self.what} is over {megabytes_text(self.max_bytes)}, the largest taken: choose a smaller file."

    @property
    def summary(self) -> str:
        """"JPEG, PNG, WebP or GIF, up to 20 MB"."""
        return f"{self.formats_text}, up to {megabytes_text(self.max_bytes)}"


# A GIF is taken too: its first frame is the picture, and the fitted copy that is sent is always a PNG.
REFERENCE_IMAGE = UploadLimit("reference image", ("JPEG", "PNG", "WebP", "GIF"), ("jpg", "jpeg", "png", "webp", "gif"),
                              20 * MB)
SOURCE_VIDEO = UploadLimit("video to edit", ("MP4",), ("mp4",), 200 * MB)
# A batch holds at most 500 rows (studio.batch.MAX_ROWS): 5 MB is ample text for that.
BATCH_CSV = UploadLimit("batch CSV", ("CSV",), ("csv", "txt"), 5 * MB)
# Finishing (issue 23): a logo keeps its alpha only as a PNG; a music bed is a song, not a film's soundtrack.
LOGO_IMAGE = UploadLimit("logo", ("PNG",), ("png",), 5 * MB)
END_CARD_IMAGE = UploadLimit("end card picture", ("JPEG", "PNG", "WebP"), ("jpg", "jpeg", "png", "webp"), 20 * MB)
SUBTITLE_FILE = UploadLimit("subtitle file", ("SRT", "VTT"), ("srt", "vtt"), 1 * MB)
MUSIC_BED = UploadLimit("music bed", ("MP3", "WAV", "M4A"), ("mp3", "wav", "m4a"), 50 * MB)
UPLOADS = (REFERENCE_IMAGE, SOURCE_VIDEO, BATCH_CSV, LOGO_IMAGE, END_CARD_IMAGE, SUBTITLE_FILE, MUSIC_BED)


def markdown_table() -> str:
    """The README's table of what can be uploaded."""
    rows = ["| upload | formats | largest |", "|---|---|---|"]
    rows += [f"| {limit.what[0].upper()}{limit.what[1:]} | {limit.formats_text} | {limit.max_mb} MB |"
             for limit in UPLOADS]
    return "\n".join(rows)
