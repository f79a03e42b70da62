"""A finished video's files (MP4, thumbnail, spritesheet), with Range checked, and downloads cut on purpose when
the cut_downloads fault asks for it."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, Response, StreamingResponse

from localsora import api_errors
from localsora.api_errors import APIError
from localsora.faults import FaultInjector
from localsora.routes import Service, errors, include_router
from localsora.serving import MediaFile

log = logging.getLogger("localsora")
router = APIRouter()

BYTE_RANGE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")
MAX_OFFSET_DIGITS = 18  # a byte offset of 19 digits is past 8 EiB
_FILE = {"schema": {"type": "string", "format": "binary"}}
MEDIA = {"content": {"video/mp4": _FILE, "image/webp": _FILE, "image/jpeg": _FILE},
         "description": "The file: an MP4, a WebP thumbnail or a JPEG spritesheet."}


@router.get("/v1/videos/{video_id}/content", response_class=Response,
            responses={200: MEDIA, 206: {"description": "Part of the file, as the Range header asked."},
                       **errors(400, 401, 404, 416, 429, 500)})
async def video_content(video_id: str, request: Request, service: Service, variant: str | None = None) -> Response:
    media = service.content(video_id, variant)
    if request.headers.get("range") is not None:
        check_range(request.headers["range"], media.path.stat().st_size)
    faults: FaultInjector = request.app.state.faults
    if faults.take_download_cut():
        return cut_download(request, media)
    return FileResponse(media.path, media_type=media.media_type, filename=media.filename,
                        content_disposition_type=media.disposition)


def check_range(header: str, size: int) -> None:
    """Refuse a Range header with the contract's error body before the file response would answer in plain text.

    A range that starts past the end (or asks for the last 0 bytes) is a 416 with `Content-Range: bytes */SIZE`.
    An unparseable one (`bytes=5-1`, `bytes=abc`, `items=0-1`) is a 400: RFC 9110 would also allow serving the
    whole file, but a client that sent a broken Range is better told so.
    """
    unit, _, spec = header.partition("=")
    parts = [BYTE_RANGE.match(part) for part in spec.split(",")]
    malformed = unit.strip().lower() != "bytes" or not all(m and (m[1] or m[2]) for m in parts)
    # A number longer than any file's size is outside it; int() of one over 4,300 digits would raise.
    too_long = not malformed and any(len(m[1]) > MAX_OFFSET_DIGITS or len(m[2]) > MAX_OFFSET_DIGITS
                                     for m in parts)  # type: ignore[union-attr]
    if not malformed and not too_long:
        malformed = any(m[1] and m[2] and int(m[1]) > int(m[2]) for m in parts)  # type: ignore[index]
    if malformed:
        raise api_errors.bad_request(f"Invalid Range header {header[:80]!r}: expected bytes=START-END, bytes=START- "
                                     "or bytes=-LENGTH.", param="Range", code="invalid_range")
    satisfiable = not too_long and any(
        int(m[1]) < size if m[1] else int(m[2]) > 0 and size > 0 for m in parts)  # type: ignore[index]
    if not satisfiable:
        raise APIError(416, f"The range {header[:80]!r} is outside the file's {size:,} bytes.", param="Range",
                       code="range_not_satisfiable", headers={"Content-Range": f"bytes */{size}"})


def cut_download(request: Request, media: MediaFile) -> StreamingResponse:
    """The whole file's headers (Content-Length included) and about half its body; `middleware.DropCutConnections`
    then leaves the response unfinished, so the server drops the connection (the cut_downloads fault)."""
    size = media.path.stat().st_size
    request.state.download_cut = True
    log.info("cutting the download of %s halfway (injected fault)", media.path)

    def half() -> Iterator[bytes]:
        with open(media.path, "rb") as file:
            yield file.read(size // 2)

    return StreamingResponse(half(), media_type=media.media_type, headers={"content-length": str(size)})


def attach_router(app: FastAPI) -> None:
    include_router(app, router)
