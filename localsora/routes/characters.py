"""Characters: a named clip uploaded once, for later prompts to refer to."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request

from localsora.protocol import Character, CreateCharacter, DeletedCharacter, OpenAPIBody
from localsora.request_body import Body
from localsora.routes import Service, errors, include_router

router = APIRouter()


@router.post("/v1/videos/characters", response_model=Character, responses=errors(400, 401, 429, 500, 507),
             openapi_extra=OpenAPIBody(CreateCharacter))
async def create_character(request: Request, service: Service) -> Character:
    body = await Body.read(request, service.settings.max_video_bytes, service.dialect)
    return await service.create_character(body.parse(CreateCharacter))


@router.get("/v1/videos/characters/{character_id}", response_model=Character,
            responses=errors(401, 404, 429, 500))
async def get_character(character_id: str, service: Service) -> Character:
    return service.character(character_id)


@router.delete("/v1/videos/characters/{character_id}", response_model=DeletedCharacter,
               responses=errors(401, 404, 429, 500))
async def delete_character(character_id: str, service: Service) -> DeletedCharacter:
    """Delete a character and its clip (localsora's own: the contract keeps them)."""
    return await service.delete_character(character_id)


def attach_router(app: FastAPI) -> None:
    include_router(app, router)
