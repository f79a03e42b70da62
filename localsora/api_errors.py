"""OpenAI-shaped API errors with the real status codes. The dialect (localsora.imitation) turns one into its
body, `{"error": {"message", "type", "param", "code"}}` for the contract (protocol.ErrorResponse)."""

from __future__ import annotations

from typing import Any


class APIError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}
        self.details = details  # FastAPI's list of validation errors, for a dialect that answers with it


def bad_request(message: str, *, param: str | None = None, code: str | None = "invalid_value") -> APIError:
    return APIError(400, message, param=param, code=code)


def not_found(message: str, *, param: str | None = None, code: str | None = "not_found") -> APIError:
    return APIError(404, message, param=param, code=code)


def unauthorized() -> APIError:
    return APIError(
        401,
        "Incorrect API key provided. localsora was started with --api-key; send that key as the bearer token.",
        code="invalid_api_key",
    )


def rate_limited(message: str, retry_after: float) -> APIError:
    seconds = max(1, round(retry_after + 0.5))
    return APIError(
        429, message, type="requests", code="rate_limit_exceeded",
        headers={"Retry-After": str(seconds), "Retry-After-Ms": str(int(retry_after * 1000))},
    )


def disk_full(where: str) -> APIError:
    """507 Insufficient Storage: the request was fine, and the server had no room to keep what it sent or made."""
    return APIError(507, f"The disk is full: localsora could not write to {where}. Free some space there and try "
                         "again; nothing of this request was kept.", type="server_error", code="disk_full")


def server_error(message: str = "The server had an error while processing your request (injected fault).") -> APIError:
    return APIError(500, message, type="server_error", code="server_error")


def megabytes(size: int) -> str:
    """A size in MB of 1024 x 1024 bytes, as the limits are set (20 MiB says "20 MB", not "21.0 MB")."""
    return f"{size / 2**20:.1f}".removesuffix(".0") + " MB"
