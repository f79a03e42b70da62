"""Real video from open-weights models through diffusers (needs requirements-diffusers.txt)."""

from localsora.engines.diffusers.engine import DiffusersEngine

__all__ = ["DiffusersEngine"]
