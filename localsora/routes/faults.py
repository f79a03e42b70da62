"""/_localsora/faults: injected errors and limits, changed while the server runs (tests and demos). Attached only
with --enable-faults; without it these paths answer 404, as any unknown route does."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request

from localsora import api_errors
from localsora.config import Settings
from localsora.faults import MAX_QUEUED_FAULTS, FaultInjector
from localsora.protocol import FaultChange, FaultSettings, OpenAPIBody, validate
from localsora.rate_limit import RateLimiter
from localsora.request_body import parse_json, read_limited
from localsora.routes import errors, include_router

router = APIRouter()

FAULTS_BODY_BYTES = 64 * 1024


@router.get("/_localsora/faults", response_model=FaultSettings, responses=errors(401))
async def read_faults(request: Request) -> FaultSettings:
    return fault_settings(request.app.state.settings, request.app.state.faults)


@router.post("/_localsora/faults", response_model=FaultSettings, responses=errors(400, 401),
             openapi_extra=OpenAPIBody(FaultChange))
async def set_faults(request: Request) -> FaultSettings:
    """Change faults and limits at run time (tests and demos): JSON with any of the keys below."""
    data = parse_json(await read_limited(request, FAULTS_BODY_BYTES, FAULTS_BODY_BYTES) or b"{}")
    # Every value is checked before any is applied, so a bad request changes nothing.
    change = validate(FaultChange, data, from_form=False)
    state = request.app.state
    apply_change(change, state.settings, state.faults, state.limiter)
    return fault_settings(state.settings, state.faults)


def apply_change(change: FaultChange, settings: Settings, faults: FaultInjector, limiter: RateLimiter) -> None:
    if change.clear:
        faults.clear()
    inject = change.inject
    if inject is not None and not faults.queue(inject.status, inject.count, inject.retry_after, inject.route):
        raise api_errors.bad_request(f"At most {MAX_QUEUED_FAULTS} injected faults can wait at once; send "
                                     '{"clear": true} first.', param="inject.count")
    if change.error_rate is not None:
        faults.error_rate = settings.error_rate = change.error_rate
    if change.render_delay is not None:
        settings.render_delay = change.render_delay
    if change.blocked_words is not None:
        settings.blocked_words = tuple(change.blocked_words)
    if change.rate_limit is not None:
        limiter.limit = settings.rate_limit = change.rate_limit
    if change.rate_window is not None:
        limiter.window = settings.rate_window = change.rate_window
    if change.cut_downloads is not None:
        faults.cut_downloads = change.cut_downloads


def fault_settings(settings: Settings, faults: FaultInjector) -> FaultSettings:
    return FaultSettings(error_rate=faults.error_rate, render_delay=settings.render_delay,
                         blocked_words=list(settings.blocked_words), rate_limit=settings.rate_limit,
                         rate_window=settings.rate_window, cut_downloads=faults.cut_downloads)


def attach_router(app: FastAPI) -> None:
    include_router(app, router)
