"""What localsora took from a request: tests and demos check the wire with it."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from localsora.protocol import ReceivedRequest
from localsora.routes import Service, errors, include_router

router = APIRouter()


@router.get("/_localsora/videos/{video_id}/request", response_model=ReceivedRequest, responses=errors(401, 404))
async def received_request(video_id: str, service: Service) -> ReceivedRequest:
    """What localsora took from the request that made this video (tests and demos check the wire with it)."""
    return service.received_request(video_id)


def attach_router(app: FastAPI) -> None:
    include_router(app, router)
