"""Dialects of /v1/videos: localsora can answer as other servers that speak the contract do, where they differ,
so the studio is tested against them offline (they need CUDA GPUs). `openai` is the contract itself.

Each fact about another server is sourced in docs/providers.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi.responses import JSONResponse

# The routes that create work from an existing video, and the character route.
REMIX = ("POST", re.compile(r"^/v1/videos/[^/]+/remix$"))
EDITS = ("POST", re.compile(r"^/v1/videos/edits$"))
EXTENSIONS = ("POST", re.compile(r"^/v1/videos/extensions$"))
CHARACTERS = ("*", re.compile(r"^/v1/videos/characters(/[^/]+)?$"))


@dataclass(frozen=True)
class Dialect:
    name: str
    absent: tuple[tuple[str, re.Pattern[str]], ...] = ()  # (method or "*", path) this server does not serve

    def lacks(self, method: str, path: str) -> bool:
        return any(m in ("*", method) and pattern.match(path) for m, pattern in self.absent)

    def missing_route(self) -> JSONResponse:
        """What this server answers for a route it does not have: FastAPI's own 404."""
        return JSONResponse({"detail": "Not Found"}, status_code=404)


DIALECTS: dict[str, Dialect] = {
    "openai": Dialect("openai"),
    "vllm-omni": Dialect("vllm-omni", absent=(REMIX, EDITS, EXTENSIONS, CHARACTERS)),
}
