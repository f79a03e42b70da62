"""The app: every path of the OpenAI Videos contract under /v1, with the real status codes and errors.

`create_app` is the one place that assembles it: the engine, the store, the job queue, the limiter and the fault
injector; the serving layer over them (localsora/serving.py); one router per feature (localsora/routes/); one
middleware per concern (localsora/middleware.py); the error handlers; and the lifespan that starts and stops the
job queue.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from localsora import api_errors
from localsora.api_errors import APIError
from localsora.config import Settings
from localsora.engines import create_engine
from localsora.engines.base import Engine
from localsora.faults import MAX_QUEUED_FAULTS, FaultInjector
from localsora.imitation import DIALECTS, Dialect
from localsora.job_queue import JobQueue
from localsora.middleware import (
    AllowedHosts,
    AllowedOrigins,
    BearerKey,
    CloseUploads,
    DropCutConnections,
    HeadAsGet,
    InjectedFaults,
    JobRateLimit,
    MissingDialectRoutes,
    RequestId,
    StalledBodies,
    UploadsInFlight,
)
from localsora.protocol import ValidationError, refusal
from localsora.rate_limit import RateLimiter
from localsora.routes import characters, content, faults, introspection, models, videos
from localsora.serving import VideoService
from localsora.store import Store, is_disk_full

log = logging.getLogger("localsora")
EXPIRY_SWEEP_SECONDS = 30


def create_app(settings: Settings, renderer: Engine | None = None) -> FastAPI:
    """The app. `renderer` defaults to the engine `settings.engine` names, built here (a model loads now)."""
    dialect = DIALECTS[settings.dialect]
    if settings.models is None and settings.engine == "previz" and dialect.served_models:
        # Served under the model id that server would name, not Sora's (`--models` still names others).
        settings = settings.model_copy(update={"models": dict(dialect.served_models)})
    engine = renderer or create_engine(settings)
    store = Store(settings.data_dir)
    job_queue = JobQueue(settings, store, engine)
    limiter = RateLimiter(settings.rate_limit, settings.rate_window)
    fault_injector = FaultInjector(settings.error_rate, max_queued=MAX_QUEUED_FAULTS)

    app = FastAPI(title="localsora", description="A local OpenAI Videos API server.",
                  lifespan=_lifespan(settings, store, job_queue))
    app.state.settings, app.state.store, app.state.job_queue = settings, store, job_queue
    app.state.limiter, app.state.faults, app.state.dialect = limiter, fault_injector, dialect
    app.state.video_service = VideoService(settings, store, job_queue, engine, dialect)

    for router in (models, videos, characters, content, introspection):
        router.attach_router(app)
    if settings.enable_faults:  # off: these paths answer 404, as any unknown route does
        faults.attach_router(app)
    _attach_error_handlers(app)

    # Added innermost first: a request meets them bottom to top (middleware.py says why this order).
    app.add_middleware(CloseUploads)
    app.add_middleware(StalledBodies, timeout=settings.request_body_timeout)
    app.add_middleware(UploadsInFlight, limit=settings.max_upload_bytes_in_flight, dialect=dialect)
    app.add_middleware(JobRateLimit, limiter=limiter, dialect=dialect)
    app.add_middleware(InjectedFaults, faults=fault_injector, dialect=dialect)
    app.add_middleware(MissingDialectRoutes, dialect=dialect)
    if settings.api_key:
        app.add_middleware(BearerKey, api_key=settings.api_key, dialect=dialect)
    app.add_middleware(HeadAsGet)
    app.add_middleware(AllowedOrigins, settings=settings, dialect=dialect)
    app.add_middleware(AllowedHosts, settings=settings, dialect=dialect)
    app.add_middleware(RequestId)
    app.add_middleware(DropCutConnections)
    return app


def _lifespan(settings: Settings, store: Store,
              job_queue: JobQueue) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """Start the job queue and the expiry sweep with the server; stop them, and close the store, with it."""

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop_sweeper = threading.Event()

        def sweep() -> None:
            while not stop_sweeper.wait(EXPIRY_SWEEP_SECONDS):
                store.expire_due()

        store.expire_due()
        job_queue.start()
        threading.Thread(target=sweep, name="localsora-expiry", daemon=True).start()
        log.info("localsora serving %s", settings.data_dir)
        yield
        stop_sweeper.set()
        job_queue.stop()
        store.close()

    return lifespan


# ---------------------------------------------------------------------------------------- errors, in one place


def _attach_error_handlers(app: FastAPI) -> None:
    """Every error answers in the dialect's shape: localsora's own, pydantic's, Starlette's and a bug's."""
    app.add_exception_handler(APIError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]  # query, path
    app.add_exception_handler(ValidationError, _validation_error)  # type: ignore[arg-type]  # protocol's models
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(OSError, _storage_error)
    app.add_exception_handler(sqlite3.Error, _storage_error)
    app.add_exception_handler(Exception, _unexpected_error)


def _dialect(request: Request) -> Dialect:
    return request.app.state.dialect  # type: ignore[no-any-return]


async def _api_error(request: Request, exc: APIError) -> JSONResponse:
    return _dialect(request).error(exc)


async def _validation_error(request: Request, exc: RequestValidationError | ValidationError) -> JSONResponse:
    return _dialect(request).error(refusal(exc.errors()))


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code in (404, 405):
        message = f"Invalid URL ({request.method} {request.url.path})"
        headers = {"Allow": _allowed_methods(request.app, request.url.path)} if exc.status_code == 405 else None
        return _dialect(request).error(APIError(exc.status_code, message, code=None, headers=headers))
    return _dialect(request).error(APIError(exc.status_code, str(exc.detail), code=None, headers=exc.headers))


async def _storage_error(request: Request, exc: Exception) -> JSONResponse:
    """A full disk is no bug: a 507 saying so, with where, and no traceback. Registered for OSError and SQLite's
    errors so it answers inside the app (a handler for Exception answers and then re-raises)."""
    if not is_disk_full(exc):
        return await _unexpected_error(request, exc)
    where = request.app.state.store.full_disk()
    log.warning("%s %s: the disk is full; could not write to %s", request.method, request.url.path, where)
    return _dialect(request).error(api_errors.disk_full(where))


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    # A bug, still answered in the contract's shape; the traceback goes to the log.
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return _dialect(request).error(api_errors.server_error("The server had an error while processing your request."))


def _allowed_methods(app: FastAPI, path: str) -> str:
    """The methods served at `path`: the Allow header of a 405. A route spelled out (/v1/videos/edits) wins over
    one with a parameter that also matches (/v1/videos/{video_id}), whose GET would only answer 404 there; HEAD
    comes with GET (middleware.HeadAsGet)."""
    matching = [r for r in app.routes if isinstance(r, Route) and r.path_regex.match(path)]
    literal = [r for r in matching if "{" not in r.path]
    methods = {m for r in literal or matching for m in r.methods or ()}
    return ", ".join(sorted(methods | ({"HEAD"} if "GET" in methods else set())))
