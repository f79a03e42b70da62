"""localsora settings: every limit and fault, from flags or LOCALSORA_* environment variables."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from localsora.catalog import DURATIONS, EXTENSION_DURATIONS

DTYPES = ("auto", "bfloat16", "float16", "float32")
OFFLOADS = ("none", "model", "sequential")


def parse_models(spec: str) -> dict[str, tuple[str, ...]]:
    """'sora-2=720x1280,1280x720;sora-2-pro=...' -> {model: sizes}."""
    models: dict[str, tuple[str, ...]] = {}
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        name, _, sizes = part.partition("=")
        models[name.strip()] = tuple(s.strip() for s in sizes.split(",") if s.strip())
    if not models or not all(models.values()):
        raise ValueError(f"Bad model spec {spec!r}: expected 'model=WxH,WxH;model=WxH'")
    return models


def _switch(value: str) -> bool:
    """A flag that takes no value on the command line; its variable is 1/true/yes/on or 0/false/no/off."""
    if value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if value.strip().lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected 1/true/yes/on or 0/false/no/off; got {value!r}")


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


@dataclass
class Settings:
    data_dir: Path = field(default_factory=lambda: Path("localsora-data"))
    host: str = "127.0.0.1"
    port: int = 8000
    # When set, every request must carry `Authorization: Bearer <api_key>`.
    api_key: str | None = field(default=None, repr=False)
    # Answer as this server does where it differs from OpenAI's contract: openai, vllm-omni (localsora.imitation).
    dialect: str = "openai"
    # Which renderer serves the jobs: "previz" (no model, no GPU) or "diffusers" (open-weights video models).
    engine: str = "previz"
    # The diffusers engine's pipeline: a folder with model_index.json, or a model hub id already in the cache.
    model: str | None = None
    device: str = "auto"  # auto | cuda | cuda:N | mps | cpu
    dtype: str = "auto"  # auto | bfloat16 | float16 | float32
    offload: str = "none"  # none | model | sequential: trade speed for GPU memory
    # Model ids and their sizes. None: the engine's own (Sora's for previz, the family's native ones for diffusers).
    models: dict[str, tuple[str, ...]] | None = None
    durations: tuple[str, ...] = DURATIONS
    extension_durations: tuple[str, ...] = EXTENSION_DURATIONS
    max_prompt_chars: int = 32000
    max_image_bytes: int = 20 * 1024 * 1024
    max_video_bytes: int = 200 * 1024 * 1024
    max_source_seconds: float = 60.0
    # Jobs rendering at once; the rest wait as `queued`.
    max_concurrent_jobs: int = 2
    # Jobs queued or rendering before new ones get a 429.
    max_active_jobs: int = 64
    # Job-creating requests allowed per `rate_window` seconds; 0 turns the limit off.
    rate_limit: int = 0
    rate_window: float = 60.0
    # Extra simulated seconds per job, spread over its frames.
    render_delay: float = 0.0
    # Share of requests (0..1) answered with an injected 500.
    error_rate: float = 0.0
    blocked_words: tuple[str, ...] = ()
    ttl_seconds: int = 24 * 3600
    poll_after_ms: int = 1000
    # Serve /_localsora/faults, which changes faults and limits at run time: for tests and demos only.
    enable_faults: bool = False

    def check(self) -> None:
        """Refuse values no server could run with, at start-up, naming the flag."""
        from localsora.imitation import DIALECTS  # here: the dialects import the engines, which import this module

        choices = {"device": None, "dtype": DTYPES, "offload": OFFLOADS, "dialect": tuple(DIALECTS)}
        for name, allowed in choices.items():
            value = getattr(self, name)
            if allowed and value not in allowed:
                raise ValueError(f"--{name} must be one of {', '.join(allowed)}; got {value!r}.")
        if not (self.device in ("auto", "cpu", "mps", "cuda") or re.fullmatch(r"cuda:\d+", self.device)):
            raise ValueError(f"--device must be auto, cuda, cuda:N, mps or cpu; got {self.device!r}.")
        if not 0 <= self.error_rate <= 1:
            raise ValueError(f"--error-rate must be between 0 and 1; got {self.error_rate}.")
        if self.engine == "diffusers" and not self.model:
            raise ValueError("--engine diffusers needs --model: a pipeline folder (with model_index.json) or a hub id.")


# Setting -> (parser, help). Each is a flag (--max-prompt-chars) and a variable (LOCALSORA_MAX_PROMPT_CHARS).
FLAGS: dict[str, tuple[type | object, str]] = {
    "data_dir": (Path, "Folder for jobs and media (kept across restarts)."),
    "host": (str, "Interface to bind; 127.0.0.1 unless you mean to share it."),
    "port": (int, "TCP port."),
    "api_key": (str, "Require this bearer key; other keys get a 401."),
    "dialect": (str, "Speak /v1/videos as this server does: openai (default), vllm-omni or sglang."),
    "engine": (str, "Renderer: previz (sketches, no GPU) or diffusers (open-weights models)."),
    "model": (str, "For --engine diffusers: a pipeline folder with model_index.json, or a cached hub id."),
    "device": (str, "For --engine diffusers: auto, cuda, cuda:N, mps or cpu."),
    "dtype": (str, "For --engine diffusers: auto, bfloat16, float16 or float32."),
    "offload": (str, "For --engine diffusers: none, model or sequential CPU offload (less GPU memory, slower)."),
    "models": (parse_models, "Models and their sizes: 'sora-2=720x1280,1280x720;sora-2-pro=...'. "
                    "With --engine diffusers: the name and sizes the loaded model is served under."),
    "durations": (_csv, "Allowed `seconds` for new videos, comma-separated."),
    "extension_durations": (_csv, "Allowed `seconds` for extensions, comma-separated."),
    "max_prompt_chars": (int, "Longest prompt accepted."),
    "max_image_bytes": (int, "Largest reference image upload, in bytes."),
    "max_video_bytes": (int, "Largest video upload (edits, characters), in bytes."),
    "max_source_seconds": (float, "Longest uploaded video accepted, in seconds."),
    "max_concurrent_jobs": (int, "Jobs rendering at once."),
    "max_active_jobs": (int, "Queued plus rendering jobs before creation answers 429."),
    "rate_limit": (int, "Job-creating requests per window (0 = off)."),
    "rate_window": (float, "Rate-limit window, in seconds."),
    "render_delay": (float, "Extra simulated render seconds per job."),
    "error_rate": (float, "Share of requests answered with an injected 500 (0..1)."),
    "blocked_words": (_csv, "Comma-separated words that fail a job with moderation_blocked."),
    "ttl_seconds": (int, "Seconds until a video's media expires."),
    "poll_after_ms": (int, "Value of the openai-poll-after-ms header."),
    "enable_faults": (_switch, "Serve POST /_localsora/faults, which injects errors and changes limits at run "
                               "time (tests and demos; off by default)."),
}


def env_name(name: str) -> str:
    return f"LOCALSORA_{name.upper()}"


def from_env(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from LOCALSORA_* variables, then keyword overrides."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for name, (parse, _) in FLAGS.items():
        raw = environ.get(env_name(name))
        if raw not in (None, ""):
            values[name] = parse(raw)  # type: ignore[operator]
    values.update({k: v for k, v in overrides.items() if v is not None})
    settings = Settings(**values)  # type: ignore[arg-type]
    return settings


def parse_args(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(
        prog="python -m localsora",
        description="A local server for the OpenAI Videos API: previz sketches offline, or real video from "
                    "open-weights models through diffusers.",
    )
    for name, (parse, help_text) in FLAGS.items():
        value = {"action": "store_true"} if parse is _switch else {"type": parse}
        parser.add_argument(
            "--" + name.replace("_", "-"), dest=name, default=None, **value,  # type: ignore[arg-type]
            help=f"{help_text} [env {env_name(name)}]",
        )
    parser.add_argument(
        "--azure-limits", action="store_true",
        help="Behave like Azure OpenAI: 2 job requests a minute, 429 with Retry-After past that.",
    )
    args = vars(parser.parse_args(argv))
    azure = args.pop("azure_limits")
    try:
        settings = from_env(environ, **args)
        settings.check()
    except ValueError as exc:
        parser.error(str(exc))  # exits with status 2 and the message
    if azure:
        settings.rate_limit, settings.rate_window = 2, 60.0
    return settings
