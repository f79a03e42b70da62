"""One ASGI middleware per concern, in front of the routes: request id, bearer key, the dialect's missing routes,
injected faults, the rate limit on job-creating requests, closing uploads, and cut downloads.

`create_app` stacks them so a request meets them in this order: the key check, then a route the dialect lacks,
then an injected fault, then the rate limit, then the handler. Every answer, a refusal too, carries
`x-request-id`, and a form's uploads are closed when the request ends. Each is plain ASGI, so a refusal is sent
as is and the handler's response streams through untouched.
"""

from __future__ import annotations

import secrets

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from localsora import api_errors
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
