"""The videos: create, list, retrieve, delete, remix, edit and extend."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from localsora.protocol import (
    CreateVideo,
    DeletedVideo,
    EditVideo,
    ExtendVideo,
    OpenAPIBody,
    RemixVideo,
    Video,
    VideoList,
    wire_response,
)
from localsora.request_body import Body
from localsora.routes import Service, errors, include_router
from localsora.serving import VideoService
from localsora.store import Job

router = APIRouter()

# 429: rate-limited (job-creating POSTs), too many active jobs, or an injected fault, as any 500; 507: a full disk.
CREATES = errors(400, 401, 429, 500, 507)
FROM_SOURCE = errors(400, 401, 404, 429, 500, 507)  # remix, edit, extend: the source video may be missing
ONE_VIDEO = errors(401, 404, 429, 500)


def video_response(service: VideoService, job: Job) -> JSONResponse:
    """The job as the dialect's video, with the poll hint where the dialect sends one."""
    dialect = service.dialect
    headers = {"openai-poll-after-ms": str(service.settings.poll_after_ms)} if dialect.poll_header else {}
    return wire_response(dialect.video(job), dialect.video_status(job), headers)


@router.post("/v1/videos", response_model=Video, responses=CREATES, openapi_extra=OpenAPIBody(CreateVideo))
async def create_video(request: Request, service: Service) -> JSONResponse:
    body = await Body.read(request, service.settings.max_image_bytes, service.dialect)
    job = await service.create(body.parse(service.dialect.create_request))
    return video_response(service, job)


@router.get("/v1/videos", response_model=VideoList, responses=errors(400, 401, 429, 500))
async def list_videos(service: Service, after: str | None = None, limit: int | None = None,
                      order: str = "desc") -> JSONResponse:
    jobs, has_more = service.list_page(after, limit, order)
    return wire_response(service.dialect.page(jobs, has_more))


@router.post("/v1/videos/edits", response_model=Video, responses=FROM_SOURCE, openapi_extra=OpenAPIBody(EditVideo))
async def create_edit(request: Request, service: Service) -> JSONResponse:
    body = await Body.read(request, service.settings.max_video_bytes, service.dialect)
    return video_response(service, await service.edit(body.parse(EditVideo)))


@router.post("/v1/videos/extensions", response_model=Video, responses=FROM_SOURCE,
             openapi_extra=OpenAPIBody(ExtendVideo))
async def create_extension(request: Request, service: Service) -> JSONResponse:
    body = await Body.read(request, service.settings.max_video_bytes, service.dialect)
    return video_response(service, await service.extend(body.parse(ExtendVideo)))


@router.get("/v1/videos/{video_id}", response_model=Video, responses=ONE_VIDEO)
async def retrieve_video(video_id: str, service: Service) -> JSONResponse:
    return video_response(service, service.find(video_id))


@router.delete("/v1/videos/{video_id}", response_model=DeletedVideo, responses=ONE_VIDEO)
async def delete_video(video_id: str, service: Service) -> JSONResponse:
    job = await service.delete(video_id)
    return wire_response(service.dialect.deleted(job))


@router.post("/v1/videos/{video_id}/remix", response_model=Video, responses=FROM_SOURCE,
             openapi_extra=OpenAPIBody(RemixVideo))
async def remix_video(video_id: str, request: Request, service: Service) -> JSONResponse:
    body = await Body.read(request, service.settings.max_image_bytes, service.dialect)
    return video_response(service, await service.remix(video_id, body.parse(RemixVideo)))


def attach_router(app: FastAPI) -> None:
    include_router(app, router)
