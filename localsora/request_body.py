"""The request-body adapter: a JSON or form body as one dict of fields and files, read within a size limit, in
front of the typed models of localsora.protocol, which check every field."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import Request
from pydantic import BaseModel
from starlette.datastructures import UploadFile
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser

from localsora import api_errors
from localsora.api_errors import APIError
from localsora.protocol import ValidationError, validate

if TYPE_CHECKING:
    from localsora.imitation import Dialect

ModelT = TypeVar("ModelT", bound=BaseModel)

MULTIPART_OVERHEAD = 1024 * 1024  # room for a form's boundaries and text fields beside the upload limit
# A form field named like `video[id]` is the SDK's encoding of {"video": {"id": ...}}.
NESTED_FIELD = re.compile(r"^([^\[\]]+)\[([^\[\]]+)\]$")
# Fields a form may repeat, each part one more item: the files of `inpaint_items`.
LIST_FIELDS = ("files",)
MAX_FORM_FILES = 10  # input_reference, and up to 8 placed files with room for one more


class Body:
    """A request's fields and files as one dict, from JSON or a form (multipart or urlencoded): only the
    content-type adapter in front of the typed models in localsora/protocol, which check every field.

    JSON values keep their types (a list stays a list); a form's nested names (`video[id]`) become objects, as
    the SDK encodes them. Uploads are closed when the request ends (middleware.CloseUploads calls
    `close_uploads`).
    """

    def __init__(self, values: dict[str, Any], from_form: bool, dialect: Dialect | None = None) -> None:
        self.values = values
        self.from_form = from_form
        self.dialect = dialect

    @classmethod
    async def read(cls, request: Request, max_bytes: int, dialect: Dialect) -> Body:
        body_limit = max_bytes + MULTIPART_OVERHEAD
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > body_limit:
            raise too_large(int(declared), max_bytes)
        content_type = request.headers.get("content-type", "")
        refused = dialect.refused_encoding(content_type)
        if refused is not None:
            raise refused
        if not content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            data = parse_json(await read_limited(request, body_limit, max_bytes) or b"{}")
            if not isinstance(data, dict):
                raise api_errors.bad_request("The JSON body must be an object.", code=None)
            # JSON null means "not given", as for an optional field.
            return cls({key: value for key, value in data.items() if value is not None}, False, dialect)
        return cls(await _read_form(request, content_type, body_limit, max_bytes), True, dialect)

    def parse(self, model: type[ModelT]) -> ModelT:
        """The body as `model`; a field of the wrong type or value is a 400 naming it (protocol.refusal), or
        what the dialect answers instead."""
        try:
            return validate(model, self.values, from_form=self.from_form)  # type: ignore[no-any-return]
        except ValidationError as exc:
            if self.dialect is None:
                raise
            raise self.dialect.invalid_body(exc, self.from_form) from None


async def _read_form(request: Request, content_type: str, body_limit: int, max_bytes: int) -> dict[str, Any]:
    # Parsed from a counted stream: a chunked upload (no Content-Length) stops at the limit, unspooled.
    stream = stream_limited(request, body_limit, max_bytes)
    parser: MultiPartParser | FormParser
    if content_type.startswith("multipart/form-data"):
        parser = MultiPartParser(request.headers, stream, max_files=MAX_FORM_FILES, max_fields=32)
    else:
        parser = FormParser(request.headers, stream)
    try:
        form = await parser.parse()  # on any error the parser closes the files it opened
    except MultiPartException as exc:
        raise api_errors.bad_request(f"We could not parse the multipart body: {exc.message}", code=None) from None
    request.state.uploads = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
    values: dict[str, Any] = {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile) and value.size is not None and value.size > max_bytes:
            raise api_errors.bad_request(
                f"The uploaded {key} is {api_errors.megabytes(value.size)}; "
                f"the limit is {api_errors.megabytes(max_bytes)}.",
                param=key, code="file_too_large",
            )
        if value == "":
            continue  # a form field left empty is a field not given
        nested = NESTED_FIELD.match(key)
        if key in LIST_FIELDS:
            values.setdefault(key, []).append(value)
        elif nested is None:
            values[key] = value
        elif isinstance(values.setdefault(nested[1], {}), dict):
            values[nested[1]][nested[2]] = value
        else:
            raise api_errors.bad_request(f"'{nested[1]}' was sent both as a value and as '{key[:80]}'.",
                                         param=nested[1])
    return values


async def close_uploads(request: Request) -> None:
    """Close the spooled files a form upload opened: the request is over, whether it succeeded or not."""
    for upload in getattr(request.state, "uploads", ()):
        await upload.close()


def parse_json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: nested thousands deep
        raise api_errors.bad_request("We could not parse the JSON body of your request.", code=None) from None


def too_large(size: int, max_bytes: int) -> APIError:
    return api_errors.bad_request(
        f"The request is {api_errors.megabytes(size)}; uploads are limited to {api_errors.megabytes(max_bytes)}.",
        code="file_too_large",
    )


async def stream_limited(request: Request, body_limit: int, max_bytes: int) -> AsyncGenerator[bytes, None]:
    """The request body, chunk by chunk, stopping with a 400 once more than `body_limit` bytes came."""
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > body_limit:
            raise too_large(received, max_bytes)
        yield chunk


async def read_limited(request: Request, body_limit: int, max_bytes: int) -> bytes:
    return b"".join([chunk async for chunk in stream_limited(request, body_limit, max_bytes)])
