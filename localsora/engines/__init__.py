"""Engines behind localsora's job engine, picked by `--engine`. Heavy ones are imported only when chosen,
so the previz engine never needs torch."""

from __future__ import annotations

import importlib

from localsora.config import Settings
from localsora.engines.base import Engine

# --engine name -> "module:class", imported on demand.
ENGINES = {
    "previz": "localsora.engines.previz:PrevizEngine",
    "diffusers": "localsora.engines.diffusers:DiffusersEngine",
}


class EngineUnavailable(RuntimeError):
    """The engine cannot start; the message says why and what to do. `python -m localsora` exits with it."""


def create_engine(settings: Settings) -> Engine:
    target = ENGINES.get(settings.engine)
    if target is None:
        raise EngineUnavailable(f"Unknown engine {settings.engine!r}; choose one of: {', '.join(ENGINES)}.")
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise EngineUnavailable(
            f"The {settings.engine} engine needs packages that are not installed ({exc.name or exc}). "
            "Install them with: pip install -r requirements-diffusers.txt"
        ) from exc
    return getattr(module, class_name)(settings)
