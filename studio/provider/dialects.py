"""Dialects of /v1/videos: servers that speak the contract, each with its own differences, and how to tell them.

A dialect is a hint, set by hand (`SORA_STUDIO_DIALECT`) or read from what a server reveals. Detection is
deliberately modest: only signals a server really sends (the models list's `owned_by`, vLLM-Omni's extra
fields on a video) name a dialect; a FastAPI-style 404 says only that a route is missing, not whose server it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from studio.provider.sdk import openai

MODES = ("remix", "edit", "extend", "characters")  # the modes a server may lack, learned from 404/405 answers
VLLM_OMNI_VIDEO_FIELDS = ("inference_time_s", "peak_memory_mb", "stage_durations")


@dataclass(frozen=True)
class Dialect:
    name: str
    label: str
    free_sizes: bool = False  # takes any WIDTHxHEIGHT rather than a fixed list
    absent: tuple[str, ...] = ()  # modes its source shows it lacks, before any answer says so
    lists: bool = True  # GET /videos lists the videos it made
    deletes: bool = True  # DELETE /videos/{id} is served
    routes_by_model: bool = False  # a gateway: an uploaded source for edit or extend needs `model` to be routed


DIALECTS: dict[str, Dialect] = {
    "openai": Dialect("openai", "OpenAI Videos API"),
    # vllm_omni/entrypoints/openai/protocol/videos.py: size is any "^\d+x\d+$"; no remix, edits or extensions.
    "vllm-omni": Dialect("vllm-omni", "vLLM-Omni", free_sizes=True, absent=("remix", "edit", "extend", "characters")),
    # sglang runtime/entrypoints/openai/video_api.py: any "WxH"; create, list, retrieve, delete and content only.
    "sglang": Dialect("sglang", "SGLang Diffusion", free_sizes=True, absent=("remix", "edit", "extend", "characters")),
    # The real proxy (litellm 1.108.7, tests/test_litellm_proxy.py), in proxy/video_endpoints/endpoints.py: its
    # list routes by `custom_llm_provider` alone, so it never reaches the deployments ("LLM Provider NOT
    # provided"); there is no DELETE route; `variant` is dropped, so every download is the MP4; and an edit or
    # extension sent as an upload has no id to route by, so it goes to api.openai.com unless `model` names the
    # deployment group.
    "litellm": Dialect("litellm", "LiteLLM proxy", lists=False, deletes=False, routes_by_model=True),
}
DIALECT_CHOICES = ("auto", *DIALECTS)


def dialect_named(name: str | None) -> Dialect | None:
    """The dialect a hint names; None for "auto", blank, or a name the studio does not know."""
    return DIALECTS.get((name or "").strip().lower())


@dataclass(frozen=True)
class Detected:
    dialect: Dialect
    evidence: str  # in words: what the server said that gave it away


def from_models(models: Iterable[Any]) -> Detected | None:
    """vLLM (and so vLLM-Omni) and SGLang put their own name in each model's `owned_by`."""
    for model in models:
        owner = str(getattr(model, "owned_by", "") or "").lower()
        if owner in ("vllm", "vllm-omni", "vllm_omni"):
            return Detected(DIALECTS["vllm-omni"], f"the models list says owned_by \"{owner}\"")
        if owner == "sglang":
            return Detected(DIALECTS["sglang"], "the models list says owned_by \"sglang\"")
        # LiteLLM's list adds each model's `mode` from its price map (litellm/proxy/utils.py); OpenAI's has none.
        mode = (getattr(model, "model_extra", None) or {}).get("mode")
        if isinstance(mode, str) and mode:
            return Detected(DIALECTS["litellm"], f"the models list carries LiteLLM's mode \"{mode}\"")
    return None


def from_headers(headers: Mapping[str, str]) -> Detected | None:
    """LiteLLM's proxy stamps its version on every answer."""
    version = headers.get("x-litellm-version")
    if version:
        return Detected(DIALECTS["litellm"], f"its answers carry x-litellm-version: {version}")
    return None


def from_video_fields(fields: Mapping[str, Any]) -> Detected | None:
    """vLLM-Omni adds its own fields to every video object."""
    found = [name for name in VLLM_OMNI_VIDEO_FIELDS if name in fields]
    if found:
        return Detected(DIALECTS["vllm-omni"], f"its videos carry {', '.join(found)}")
    return None


def route_missing(exc: openai.APIStatusError) -> bool:
    """True when a 404/405 means the server has no such route, not that a video id is unknown.

    405 always means the route is absent. A 404 does when its body is not OpenAI's error object about a
    resource: FastAPI's own `{"detail": "Not Found"}` (vLLM-Omni, SGLang, LiteLLM), OpenAI's "Invalid URL",
    or a body that is not JSON at all (a proxy's HTML page).
    """
    if exc.status_code == 405:
        return True
    if exc.status_code != 404:
        return False
    body = exc.body
    if not isinstance(body, Mapping):
        return True
    if body.get("detail") == "Not Found":
        return True
    error = body.get("error", body)  # the SDK hands over OpenAI's inner error object as the body
    return isinstance(error, Mapping) and str(error.get("message") or "").startswith("Invalid URL")
