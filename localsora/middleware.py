"""One ASGI middleware per concern, in front of the routes: request id, the Host and Origin checks, HEAD, bearer
key, the dialect's missing routes, injected faults, the rate limit on job-creating requests, the bytes in flight
and stalled bodies, closing uploads, and cut downloads.

`create_app` stacks them so a request meets them in this order: the Host check, the Origin check, HEAD as GET,
the key check, then a route the dialect lacks, then an injected fault, then the rate limit, then the upload
budget and the body timeout, then the handler. Every answer, a refusal too, carries `x-request-id`, and a form's
uploads are closed when the request ends. Each is plain ASGI, so a refusal is sent as is and the handler's
response streams through untouched.
"""

from __future__ import annotations

import asyncio
import ipaddress
import secrets

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from localsora import api_errors
from localsora.config import LOOPBACK_NAMES, Settings
from localsora.faults import FaultInjector
from localsora.imitation import Dialect
from localsora.rate_limit import RateLimiter
from localsora.request_body import close_uploads

JOB_CREATING = ("/v1/videos", "/v1/videos/edits", "/v1/videos/extensions")  # and every /remix


class _RefusingMiddleware:
    """A middleware that may answer a request itself instead of passing it on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self.refusal(Request(scope)) if scope["type"] == "http" else None
        if refusal is None:
            await self.app(scope, receive, send)
        else:
            await refusal(scope, receive, send)

    def refusal(self, request: Request) -> Response | None:
        raise NotImplementedError


def split_host(host: str) -> tuple[str, int | None]:
    """'name:8000' -> ('name', 8000); '[::1]:8000' -> ('::1', 8000); no port or a bad one -> None for it."""
    name, port = host.strip().lower(), ""
    if name.startswith("["):
        name, _, rest = name[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif name.count(":") == 1:
        name, _, port = name.partition(":")
    return name.rstrip("."), int(port) if port.isdigit() and len(port) <= 5 else None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class AllowedHosts(_RefusingMiddleware):
    """A 400 for a `Host` the server was not bound under (DNS rebinding: a hostile name resolved to this machine).

    Answered: the loopback names and the bound address, on the server's port or with none; with a wildcard bind
    (0.0.0.0, ::), any IP address (a literal address cannot be rebound); and `--allowed-hosts`."""

    def __init__(self, app: ASGIApp, *, settings: Settings, dialect: Dialect) -> None:
        super().__init__(app)
        bound = settings.host.strip("[]").lower()
        self.own_names = {*LOOPBACK_NAMES, bound}
        self.any_address = bound in ("0.0.0.0", "::")
        self.port = settings.port
        self.allowed = {split_host(entry) for entry in settings.allowed_hosts}
        self.any_host = "*" in settings.allowed_hosts
        self.dialect = dialect

    def answers(self, host: str) -> bool:
        name, port = split_host(host)
        if self.any_host or (name, port) in self.allowed or (name, None) in self.allowed:
            return True
        on_our_port = port in (self.port, None)
        return on_our_port and (name in self.own_names or (self.any_address and _is_ip(name)))

    def refusal(self, request: Request) -> Response | None:
        host = request.headers.get("host", "")
        if self.answers(host):
            return None
        return self.dialect.error(api_errors.APIError(
            400, f"This server does not answer for the host {host[:100]!r}: start it with --allowed-hosts "
                 f"{split_host(host)[0][:100] or 'NAME'} to allow that name.", param="Host", code="invalid_host"))


class AllowedOrigins(_RefusingMiddleware):
    """A 403 for a browser request from another site (CSRF: a page's form or fetch aimed at this server).

    A request with no `Origin` (the SDK, curl) passes, as does the server's own origin and `--allowed-origins`;
    the Host was checked before, so "own" cannot be a rebound name."""

    def __init__(self, app: ASGIApp, *, settings: Settings, dialect: Dialect) -> None:
        super().__init__(app)
        self.allowed = {origin.rstrip("/").lower() for origin in settings.allowed_origins}
        self.dialect = dialect

    def refusal(self, request: Request) -> Response | None:
        origin = request.headers.get("origin")
        if origin is None or "*" in self.allowed:
            return None
        origin = origin.strip().rstrip("/").lower()
        own = f"{request.url.scheme}://{request.headers.get('host', '').lower()}"
        if origin in self.allowed or origin == own:
            return None
        return self.dialect.error(api_errors.APIError(
            403, f"Requests from the web page at {origin[:100]!r} are not allowed: start the server with "
                 "--allowed-origins to allow that origin.", type="invalid_request_error", param="Origin",
            code="origin_not_allowed"))


class HeadAsGet:
    """HEAD on any GET route: the GET's status and headers, with no body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body"):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


class BearerKey(_RefusingMiddleware):
    """A 401 for a request to the API (/v1/, /_localsora/) without `Authorization: Bearer <api_key>`."""

    def __init__(self, app: ASGIApp, *, api_key: str, dialect: Dialect) -> None:
        super().__init__(app)
        self.expected = f"Bearer {api_key}".encode()
        self.dialect = dialect

    def refusal(self, request: Request) -> Response | None:
        if not request.url.path.startswith(("/v1/", "/_localsora/")):
            return None
        sent = request.headers.get("authorization", "").encode()
        return None if secrets.compare_digest(sent, self.expected) else self.dialect.error(api_errors.unauthorized())


class MissingDialectRoutes(_RefusingMiddleware):
    """The 404 or 405 the imitated server answers for a route it does not have (vLLM-Omni has no remix)."""

    def __init__(self, app: ASGIApp, *, dialect: Dialect) -> None:
        super().__init__(app)
        self.dialect = dialect

    def refusal(self, request: Request) -> Response | None:
        return self.dialect.missing_route(request.method, request.url.path)


class InjectedFaults(_RefusingMiddleware):
    """An injected 500 or 429 for an API request, queued or at the configured rate (tests and demos)."""

    def __init__(self, app: ASGIApp, *, faults: FaultInjector, dialect: Dialect) -> None:
        super().__init__(app)
        self.faults = faults
        self.dialect = dialect

    def refusal(self, request: Request) -> Response | None:
        path = request.url.path
        fault = self.faults.next_fault(request.method, path) if path.startswith("/v1/") else None
        if fault is None:
            return None
        status, retry_after = fault
        error = (api_errors.rate_limited("Rate limit reached (injected fault).", retry_after)
                 if status == 429 else api_errors.server_error())
        return self.dialect.error(error)


class JobRateLimit(_RefusingMiddleware):
    """A 429 with Retry-After for a job-creating POST past `limiter`'s window, as Azure's 2 a minute."""

    def __init__(self, app: ASGIApp, *, limiter: RateLimiter, dialect: Dialect) -> None:
        super().__init__(app)
        self.limiter = limiter
        self.dialect = dialect

    def refusal(self, request: Request) -> Response | None:
        path = request.url.path
        creates_job = path in JOB_CREATING or (path.startswith("/v1/") and path.endswith("/remix"))
        if request.method != "POST" or not creates_job:
            return None
        wait = self.limiter.acquire()
        if wait <= 0:
            return None
        message = (f"Rate limit reached: {self.limiter.limit} job requests per {self.limiter.window:g} s. "
                   f"Try again in {wait:.0f} s.")
        return self.dialect.error(api_errors.rate_limited(message, wait))


class UploadsInFlight:
    """A 429 with Retry-After once the request bodies being received, over all requests, would pass `limit` bytes:
    parallel uploads are spooled to disk, and together they are capped. A body's declared length is reserved as
    it starts, so six big uploads at once are refused before they are spooled, not halfway."""

    RETRY_AFTER_SECONDS = 5.0

    def __init__(self, app: ASGIApp, *, limit: int, dialect: Dialect) -> None:
        self.app = app
        self.limit = limit
        self.dialect = dialect
        self.in_flight = 0  # touched only on the event loop's thread

    def refusal(self, wanted: int) -> api_errors.APIError | None:
        if self.in_flight + wanted <= self.limit:
            return None
        return api_errors.rate_limited(
            f"Too many uploads at once: {api_errors.megabytes(self.in_flight)} are being received and the server "
            f"takes at most {api_errors.megabytes(self.limit)} at a time (--max-upload-bytes-in-flight).",
            self.RETRY_AFTER_SECONDS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Request(scope).headers.get("content-length", "")
        held = int(declared) if declared.isdigit() and len(declared) <= 18 else 0
        refused = self.refusal(held)
        if refused is not None:
            await self.dialect.error(refused)(scope, receive, send)
            return
        self.in_flight += held
        received = 0

        async def receive_counted() -> Message:
            nonlocal held, received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > held:  # past what was declared (or a chunked body): take more as it comes
                    refused = self.refusal(received - held)
                    if refused is not None:
                        raise refused
                    self.in_flight += received - held
                    held = received
            return message

        try:
            await self.app(scope, receive_counted, send)
        finally:
            self.in_flight -= held


class StalledBodies:
    """A 408 for a request body that sends nothing for `timeout` seconds: a stalled upload no longer holds its
    connection and its spooled bytes for ever. The wait is per chunk, so a slow upload that moves goes on."""

    def __init__(self, app: ASGIApp, *, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_done = False

        async def receive_in_time() -> Message:
            nonlocal body_done
            if body_done:  # after the body, receive() waits for a disconnect: no deadline on that
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.timeout)
            except TimeoutError:
                raise api_errors.APIError(
                    408, f"The request body stalled: nothing arrived for {self.timeout:g} s, so the upload was cut. "
                         "Send it again.", type="invalid_request_error", code="request_timeout",
                    headers={"Connection": "close"}) from None
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, receive_in_time, send)


class RequestId:
    """An `x-request-id` on every response, refusals included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = "req_" + secrets.token_hex(12)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["x-request-id"] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)


class CloseUploads:
    """Close the files a form upload spooled (request_body.Body) when the request ends, answered or not."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            if scope["type"] == "http":
                await close_uploads(Request(scope))


class DropCutConnections:
    """Outermost: holds back the last message of a cut download (routes.content.cut_download), so the response
    never completes and the server closes the connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_unless_cut(message: Message) -> None:
            if (message["type"] == "http.response.body" and not message.get("more_body")
                    and scope.get("state", {}).get("download_cut")):
                if message.get("body"):
                    await send({**message, "more_body": True})
                return
            await send(message)

        await self.app(scope, receive, send_unless_cut)
