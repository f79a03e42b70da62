"""SDK exceptions and failed jobs, turned into typed studio errors with messages a marketer can act on."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from studio import errors
from studio.provider.sdk import openai

if TYPE_CHECKING:
    from studio.provider.profiles import Provider

DEFAULT_RETRY_AFTER = 30.0


def caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """True when `kind` is anywhere in the exception's cause chain (e.g. a DNS failure under a connect error)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def retry_after_seconds(response_headers: object) -> float:
    """Seconds to wait from `Retry-After-Ms` or `Retry-After`; a safe default when neither is usable."""
    get = getattr(response_headers, "get", None)
    if get is None:
        return DEFAULT_RETRY_AFTER
    try:
        if get("retry-after-ms"):
            return max(0.0, float(get("retry-after-ms")) / 1000)
        if get("retry-after"):
            return max(0.0, float(get("retry-after")))
    except (TypeError, ValueError):
        pass
    return DEFAULT_RETRY_AFTER


def _body(exc: openai.APIStatusError) -> dict:
    body = exc.body if isinstance(exc.body, dict) else {}
    inner = body.get("error") if isinstance(body.get("error"), dict) else body
    return inner if isinstance(inner, dict) else {}


def from_sdk(exc: Exception, provider: Provider) -> errors.StudioError:
    """Classify an exception raised by a `client.videos` call."""
    where = f"{provider.label} ({provider.host})"
    if isinstance(exc, errors.StudioError):
        return exc
    if isinstance(exc, openai.APITimeoutError):
        return errors.BackendUnreachable(
            f"Backend unreachable: {where} did not answer in time. Active jobs resume when it is back.")
    if isinstance(exc, openai.APIConnectionError):
        why = "its host name does not resolve" if caused_by(exc, socket.gaierror) else "nothing answers there"
        return errors.BackendUnreachable(
            f"Backend unreachable: {where}: {why}. Active jobs resume when it is back.")
    if not isinstance(exc, openai.APIStatusError):
        return errors.ServerError(f"{where} sent an answer that is not a video server's. Check its base URL in "
                                  "Settings; it usually ends in /v1.")

    body = _body(exc)
    message = str(body.get("message") or exc.message)
    code = body.get("code") if isinstance(body.get("code"), str) else None
    param = body.get("param") if isinstance(body.get("param"), str) else None

    if isinstance(exc, openai.RateLimitError):
        wait = retry_after_seconds(exc.response.headers)
        return errors.RateLimited(f"Rate limited: retrying in {wait:.0f} s. ({message})", retry_after=wait,
                                  code=code)
    if isinstance(exc, openai.AuthenticationError):
        return errors.AccessDenied(
            f"Key rejected (401): {provider.label} did not accept the API key. Check it in Settings.", code=code)
    if isinstance(exc, openai.PermissionDeniedError):
        return errors.AccessDenied(
            f"No access (403): the key works but cannot use this model or video. {message}", code=code)
    if isinstance(exc, openai.NotFoundError):
        if code == "video_expired" or "expired" in message.lower():
            return errors.NotFound(f"Expired on the provider: {message} The library copy, if any, is kept.",
                                   code=code)
        return errors.NotFound(f"Not found on the provider: {message}", code=code)
    if exc.status_code == 400 or isinstance(exc, openai.BadRequestError):
        if code == "moderation_blocked" or "moderation" in message.lower():
            return errors.ModerationBlocked(moderation_message(message), code=code)
        if param == "input_reference" and ("match" in message.lower() or "size" in (code or "")):
            return errors.SizeMismatch(
                f"The reference image must be exactly the video size. {message} Fit it to the size first.",
                code=code)
        if param in ("model", "size", "seconds") or code in ("unsupported_value", "invalid_value"):
            return errors.UnsupportedParameter(f"{provider.label} does not accept that: {message}", code=code)
        return errors.InvalidInput(f"The provider rejected the request: {message}", code=code)
    if exc.status_code >= 500:
        return errors.ServerError(
            f"{provider.label} had an error ({exc.status_code}). Try again in a moment. ({message})", code=code)
    return errors.ServerError(f"{provider.label} answered {exc.status_code}: {message}", code=code)


def moderation_message(detail: str = "") -> str:
    extra = f" ({detail})" if detail else ""
    return f"Blocked by moderation: rephrase the prompt, or change the reference image, and try again.{extra}"


def from_job_failure(code: str | None, message: str | None) -> errors.StudioError:
    """A job that ran and failed (`video.error`)."""
    message = message or "The provider did not say why."
    if code == "moderation_blocked":
        # The advice only: the job keeps the provider's own words, and its card shows them once, in full.
        return errors.ModerationBlocked(moderation_message(), code=code)
    return errors.ServerError(f"The job failed ({code or 'unknown error'}): {message}", code=code)
