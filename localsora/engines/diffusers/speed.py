"""Speed: the attention backend (`--attention`), regional compile (`--compile`) and step caching (`--cache`),
each applied to every transformer of the pipeline (both experts of Wan 2.2 A14B).

The cache configs are diffusers' own (diffusers/hooks/): First Block Cache skips the rest of the blocks when the
first block's residual barely changed since the last step; TaylorSeer predicts attention outputs from the last full
steps for `cache_interval` steps; MagCache skips steps while the accumulated change, judged from the checkpoint's
magnitude ratios, stays under a threshold. MagCache's ratios depend on the checkpoint and its step count is fixed in
its config, so it is set again for each job's steps.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from localsora.engines import EngineUnavailable
from localsora.engines.diffusers.memory import TRANSFORMERS

log = logging.getLogger("localsora.diffusers")

# Backends that run off CUDA: PyTorch's own scaled dot-product attention.
CPU_BACKENDS = ("native", "_native_math")
FIRST_BLOCK_THRESHOLD = 0.05  # diffusers' FirstBlockCacheConfig default
# The attention modules TaylorSeer predicts. Its default patterns match only modules named `...attn` (Flux's), and
# re.fullmatch leaves out Wan's, LTX's and CogVideoX's `blocks.N.attn1`/`attn2`: nothing would be cached.
TAYLORSEER_MODULES = [r"(transformer_)?blocks\.\d+\.attn\d*"]


def transformers(pipe: Any) -> list[Any]:
    return [model for name in TRANSFORMERS if (model := getattr(pipe, name, None)) is not None]


def set_attention(pipe: Any, backend: str, device: str) -> None:
    """`--attention`: refused at start, with the list, where diffusers lacks it or this machine cannot run it."""
    from diffusers.models.attention_dispatch import AttentionBackendName, _check_attention_backend_requirements

    offered = [b.value for b in AttentionBackendName]
    if backend not in offered:
        raise EngineUnavailable(f"--attention {backend}: diffusers has no such backend; it offers: "
                                f"{', '.join(offered)}.")
    if not device.startswith("cuda") and backend not in CPU_BACKENDS:
        raise EngineUnavailable(f"--attention {backend} needs a CUDA GPU; on {device} use one of: "
                                f"{', '.join(CPU_BACKENDS)}.")
    try:
        _check_attention_backend_requirements(AttentionBackendName(backend))
    except (RuntimeError, ImportError) as exc:
        raise EngineUnavailable(f"--attention {backend} cannot run here: {exc}") from exc
    for model in transformers(pipe):
        model.set_attention_backend(backend)


def compile_blocks(pipe: Any) -> None:
    """`--compile`: torch.compile each transformer's repeated block once, reused for every block (regional
    compile: seconds to compile instead of minutes, about the same speed-up)."""
    for model in transformers(pipe):
        if not getattr(model, "_repeated_blocks", None):
            raise EngineUnavailable(f"--compile: {type(model).__name__} declares no repeated blocks to compile.")
        model.compile_repeated_blocks(fullgraph=True)


@dataclass(frozen=True)
class StepCache:
    """A parsed `--cache`."""

    kind: str  # first-block | taylorseer | mag
    threshold: float | None = None  # first-block's
    mag_ratios: tuple[float, ...] | None = None  # mag's; None with `mag:calibrate`

    @classmethod
    def parse(cls, spec: str) -> StepCache:
        kind, _, argument = spec.partition(":")
        if kind == "first-block":
            return cls(kind, threshold=float(argument) if argument else FIRST_BLOCK_THRESHOLD)
        if kind == "mag":
            return cls(kind, mag_ratios=None if argument == "calibrate" else _read_ratios(Path(argument)))
        return cls(kind)

    def config(self, steps: int | None) -> Any:
        from diffusers.hooks import FirstBlockCacheConfig, MagCacheConfig, TaylorSeerCacheConfig

        if self.kind == "first-block":
            return FirstBlockCacheConfig(threshold=self.threshold or FIRST_BLOCK_THRESHOLD)
        if self.kind == "taylorseer":
            return TaylorSeerCacheConfig(taylor_factors_dtype=torch.float32, cache_identifiers=TAYLORSEER_MODULES)
        ratios = None if self.mag_ratios is None else list(self.mag_ratios)
        return MagCacheConfig(num_inference_steps=steps or len(ratios or ()) or 50, mag_ratios=ratios,
                              calibrate=ratios is None)


def _read_ratios(path: Path) -> tuple[float, ...]:
    try:
        ratios = json.loads(path.read_text())
        if not isinstance(ratios, list) or len(ratios) < 2 or not all(isinstance(r, int | float) for r in ratios):
            raise ValueError("expected a JSON list of numbers, one per step")
    except (OSError, ValueError) as exc:
        raise EngineUnavailable(
            f"--cache mag:{path}: not the checkpoint's magnitude ratios ({exc}). Run once with --cache "
            "mag:calibrate to log them for this checkpoint and step count.") from exc
    return tuple(float(r) for r in ratios)


class Caching:
    """`--cache` on the pipeline's transformers; `before_job` sets MagCache's step count for each job."""

    def __init__(self, pipe: Any, spec: str | None) -> None:
        self.cache = None if spec is None else StepCache.parse(spec)
        self.models = transformers(pipe)
        self.steps: int | None = None
        if self.cache is not None and self.cache.kind != "mag":
            for model in self.models:
                model.enable_cache(self.cache.config(None))

    def before_job(self, steps: int | None) -> None:
        if self.cache is None or self.cache.kind != "mag" or steps == self.steps:
            return
        for model in self.models:
            if model.is_cache_enabled:
                model.disable_cache()
            model.enable_cache(self.cache.config(steps))
        self.steps = steps
