"""The HTTP routes, one router per feature (vLLM's `api_router.py`s). Each module has a `router` and an
`attach_router(app)`; `localsora.server.create_app` attaches them. A handler reaches the service through
`request.app.state` (the `Service` dependency), reads its body, and shapes the answer in the app's dialect.

Routes declare the contract's models; `include_router` documents the dialect's own in their place, so the
/openapi.json of a vLLM-Omni or SGLang imitation describes what that server answers.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.routing import APIRoute

from localsora.imitation import Dialect
from localsora.protocol import ErrorResponse, OpenAPIBody
from localsora.serving import VideoService

_ERROR_DESCRIPTIONS = {
    400: "The request is invalid; `param` names the field.",
    401: "The bearer key is missing or wrong (when the server requires one).",
    404: "No such video, character, model or file.",
    416: "The Range header is outside the file.",
    429: "Rate limited, or too many active jobs: see `Retry-After`.",
    500: "A server error (or an injected fault).",
    507: "The disk of the server's data dir is full.",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: the error body for each status it can answer with."""
    return {status: {"model": ErrorResponse, "description": _ERROR_DESCRIPTIONS[status]} for status in statuses}


async def video_service(request: Request) -> VideoService:
    # async: FastAPI would run a plain function on its thread pool, a hop per request for one attribute.
    return request.app.state.video_service  # type: ignore[no-any-return]


Service = Annotated[VideoService, Depends(video_service)]


def include_router(app: FastAPI, router: APIRouter) -> None:
    """Add `router`'s routes to `app`, documented with the models of the app's dialect where it differs."""
    dialect: Dialect = app.state.video_service.dialect
    for route in router.routes:
        assert isinstance(route, APIRoute)
        extra = route.openapi_extra
        app.add_api_route(
            route.path, route.endpoint, methods=route.methods, name=route.name, response_class=route.response_class,
            response_model=dialect.documented(route.response_model) if route.response_model else None,
            responses={status: {**doc, "model": dialect.documented(doc["model"])} if "model" in doc else doc
                       for status, doc in route.responses.items()},
            openapi_extra=OpenAPIBody(dialect.documented(extra.model)) if isinstance(extra, OpenAPIBody) else extra,
        )
