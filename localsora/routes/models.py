"""What this server serves: its models and what each can do (/v1/models), and /health."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

from localsora.protocol import Health, Model, ModelList, wire_response
from localsora.routes import Service, errors, include_router

router = APIRouter()


@router.get("/health", response_model=Health)
async def health(service: Service) -> Health:
    return service.health()


@router.get("/v1/models", response_model=ModelList, responses=errors(401, 429, 500))
async def list_models(service: Service) -> JSONResponse:
    dialect, created = service.dialect, service.started_at
    models = [dialect.model(model_id, created, service.model_capabilities(sizes))
              for model_id, sizes in service.capabilities.models.items()]
    return wire_response(dialect.model_list(models))


@router.get("/v1/models/{model_id}", response_model=Model, responses=errors(401, 404, 429, 500))
async def retrieve_model(model_id: str, service: Service) -> JSONResponse:
    sizes = service.model_sizes(model_id)
    return wire_response(service.dialect.model(model_id, service.started_at, service.model_capabilities(sizes)))


def attach_router(app: FastAPI) -> None:
    include_router(app, router)
