"""Typed studio errors, each carrying a message a marketer can act on.

Pages show `str(error)`. Nothing here knows about HTTP or the SDK; the
mapping from SDK exceptions lives in `studio.provider.error_mapping`.
"""

from __future__ import annotations


class StudioError(Exception):
    """Base class: `message` is shown to the user as is."""

    title = "Something went wrong"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self) -> str:
        return self.message


class InvalidInput(StudioError):
    """Input rejected before anything was sent to the provider."""

    title = "Check your input"


class ImageRejected(InvalidInput):
    """The reference image cannot be used (not an image, too big, too small...)."""

    title = "Reference image rejected"


class PromptRejected(InvalidInput):
    title = "Check your prompt"


class ModerationBlocked(StudioError):
    title = "Blocked by moderation"


class SizeMismatch(StudioError):
    title = "Image size does not match"


class UnsupportedParameter(StudioError):
    title = "Not supported by this provider"


class RateLimited(StudioError):
    title = "Rate limited"

    def __init__(self, message: str, *, retry_after: float, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class AccessDenied(StudioError):
    """A bad key, or a key without access to this model or resource."""

    title = "Access denied"


class NotFound(StudioError):
    """Unknown id, deleted, or expired on the provider."""

    title = "Not found"


class BackendUnreachable(StudioError):
    title = "Backend unreachable"


class ServerError(StudioError):
    title = "Provider error"


class JobTimedOut(StudioError):
    title = "Timed out"


class CannotSave(StudioError):
    """A file could not be written here: the disk is full, or the folder cannot be written. Tried again later."""

    title = "Could not save"


class ModeNotOffered(UnsupportedParameter):
    """The server has no route for this mode (it answered 404 or 405); the studio stops offering it."""

    title = "Not offered by this server"
