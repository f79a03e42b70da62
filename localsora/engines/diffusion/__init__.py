"""Real video from open-weights models through diffusers (needs requirements-diffusion.txt)."""

from localsora.engines.diffusion.engine import DiffusionEngine

__all__ = ["DiffusionEngine"]
