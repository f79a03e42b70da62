"""The loaded pipeline fitted to its device and sped up, in the order diffusers needs: LoRAs first (they add layers),
then fp8 storage, the attention backend and the step cache, then the placement (offload hooks), then the compile.
Per job: the LoRAs the request picked, MagCache's step count and VAE tiling for the clip's size."""

from __future__ import annotations

from typing import Any

import torch

from localsora.config import Settings
from localsora.engines.base import Acceleration, Parameter, RenderRequest
from localsora.engines.diffusers import lora, memory, speed
from localsora.engines.diffusers.profiles import CheckpointProfile

MEMORY_ORDER = ("none", "model", "group", "sequential")  # more memory saved, slower, left to right


class Accelerated:
    def __init__(self, pipe: Any, settings: Settings, device: str, dtype: torch.dtype) -> None:
        self.settings, self.device = settings, device
        self.loras = lora.load_loras(pipe, settings.lora)
        if settings.weights == "fp8":
            memory.store_in_fp8(pipe, dtype)
        speed.set_attention(pipe, settings.attention, device)
        self.caching = speed.Caching(pipe, settings.cache)
        self.memory = memory.choose_memory(settings.memory, pipe, device)
        memory.place(pipe, self.memory, device)
        if settings.compile:
            speed.compile_blocks(pipe)
        self.pipe = pipe

    def profile(self, profile: CheckpointProfile) -> CheckpointProfile:
        """The checkpoint's defaults, with a step-distill LoRA's steps and guidance when one is loaded."""
        return lora.distilled(profile, self.loras)

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        """Request fields this setup adds: `lora`, when LoRAs are loaded."""
        return (lora.lora_parameter(self.loras),) if self.loras else ()

    def before_job(self, request: RenderRequest) -> None:
        lora.activate(self.pipe, self.loras, request.lora)

    def before_call(self, pipe: Any, call: dict[str, Any]) -> None:
        self.caching.before_job(call.get("num_inference_steps"))
        frames = call.get("num_frames") or len(call.get("video") or ()) or 1
        memory.set_vae_tiling(pipe, self.settings.vae_tiling, self.device, call["width"], call["height"], frames)

    def remedies(self) -> str:
        """What to try after running out of memory: the next `--memory` mode, fp8 storage, VAE tiling."""
        tries = [f"--memory {mode}" for mode in MEMORY_ORDER[MEMORY_ORDER.index(self.memory) + 1:][:2]]
        if self.settings.weights != "fp8" and self.settings.quantize == "none":
            tries.append("--weights fp8")
        if self.settings.vae_tiling != "on":
            tries.append("--vae-tiling on")
        return f"Try {', '.join(tries)}, or ask for a smaller size or fewer seconds." if tries else \
            "Ask for a smaller size or fewer seconds."

    def summary(self) -> Acceleration:
        settings = self.settings
        return Acceleration(memory=self.memory, vae_tiling=settings.vae_tiling, weights=settings.weights,
                            quantize=settings.quantize, attention=settings.attention, compile=settings.compile,
                            cache=settings.cache, loras=tuple((item.name, item.scale) for item in self.loras))
