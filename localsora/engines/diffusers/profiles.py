"""Checkpoint profiles: what one checkpoint was trained for, recognised from its configs.

A family (families.py) says which pipelines do which mode; a checkpoint of that family has its own sizes, length,
fps, flow shift, guidance, dtype per component and negative prompt. Each profile below holds them as data, with
where each value comes from, and says which layouts it matches: `model_index.json` plus the component configs
(`transformer/config.json`, `transformer_2/`, `vae/config.json`), read into a `Layout`. The registry takes the
first profile that matches; nothing elsewhere branches on a checkpoint's name. A layout no profile matches is
served as its family always was (`generic_profile`).

The idea follows ComfyUI's `comfy/supported_models.py`: one small declaration per model, matched from its configs.

Sources, cited beside the values:
- [wan21]: Wan2.1 model cards (huggingface.co/Wan-AI/Wan2.1-*-Diffusers) and Wan2.1's `wan/configs/`
  (shared_config.py: `sample_fps = 16`, `frame_num = 81`, `sample_neg_prompt`; t2v_14B/t2v_1_3B: 50 steps,
  guidance 5.0; i2v_14B: 40 steps, guidance 5.0).
- [wan22]: Wan2.2 model cards (huggingface.co/Wan-AI/Wan2.2-*-Diffusers) and Wan2.2's `wan/configs/`
  (ti2v_5B: 24 fps, 121 frames, 50 steps, guidance 5.0, shift 5.0; t2v_A14B: 40 steps, guidance (low 3.0,
  high 4.0), shift 12.0, boundary 0.875; i2v_A14B: 40 steps, guidance 3.5 both, shift 5.0, boundary 0.900).
- [diffusers-wan]: diffusers' Wan docs and pipeline examples (docs/source/en/api/pipelines/wan.md,
  pipelines/wan/pipeline_wan.py): `flow_shift = 5.0  # 5.0 for 720P, 3.0 for 480P` set with
  `UniPCMultistepScheduler.from_config(pipe.scheduler.config, flow_shift=flow_shift)`; the VAE (and Wan2.1
  I2V's CLIP image encoder) loaded in float32 beside a bfloat16 transformer; `num_frames = 4k + 1`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localsora.engines.base import CheckpointSummary
from localsora.engines.diffusers.families import FAMILIES, Family

log = logging.getLogger("localsora.diffusers")


@dataclass(frozen=True)
class Layout:
    """What a pipeline folder's configs say about the checkpoint in it."""

    class_name: str  # model_index.json's `_class_name`
    components: frozenset[str]  # the components model_index.json names and does not leave empty
    transformer: Mapping[str, Any] = field(default_factory=dict)  # transformer/config.json
    vae: Mapping[str, Any] = field(default_factory=dict)  # vae/config.json
    boundary_ratio: float | None = None  # Wan 2.2 A14B: where the second expert takes over
    expand_timesteps: bool = False  # Wan 2.2 TI2V-5B: a timestep per latent patch

    @property
    def width(self) -> int:
        """The transformer's hidden size (heads x head dim): 1536 for Wan's 1.3B, 5120 for its 14B."""
        return int(self.transformer.get("num_attention_heads", 0)) * int(self.transformer.get("attention_head_dim", 0))

    @property
    def two_experts(self) -> bool:
        return "transformer_2" in self.components and self.boundary_ratio is not None

    @property
    def z_dim(self) -> int | None:
        return self.vae.get("z_dim")


def read_layout(folder: Path, index: Mapping[str, Any]) -> Layout:
    """The layout of the pipeline in `folder`, whose model_index.json is `index`."""
    components = frozenset(
        name for name, value in index.items()
        if not name.startswith("_") and isinstance(value, list) and len(value) == 2 and value[0] is not None
    )

    def config(component: str) -> dict[str, Any]:
        path = folder / component / "config.json"
        try:
            return dict(json.loads(path.read_text())) if path.is_file() else {}
        except (OSError, ValueError) as exc:  # the loader will say what is wrong; the profile falls back
            log.warning("could not read %s: %s", path, exc)
            return {}

    ratio = index.get("boundary_ratio")
    return Layout(
        class_name=str(index.get("_class_name")), components=components, transformer=config("transformer"),
        vae=config("vae"), boundary_ratio=float(ratio) if isinstance(ratio, int | float) else None,
        expand_timesteps=bool(index.get("expand_timesteps", False)),
    )


@dataclass(frozen=True)
class CheckpointProfile:
    name: str
    family: Family
    matches: Callable[[Layout], bool]
    sizes: tuple[str, ...]  # native sizes, served unless --models says otherwise
    fps: int  # the rate the checkpoint was trained at
    frames: int | None = None  # the trained length, in frames; None: unknown, Sora's durations are served
    frame_step: int | None = None  # frames = frame_step * k + 1; None: the VAE's temporal compression
    steps: int | None = None  # default num_inference_steps; None: the pipeline's own
    guidance: float | None = None  # default guidance_scale (the first, high-noise expert's on Wan 2.2 A14B)
    guidance_2: float | None = None  # default guidance_scale_2: Wan 2.2 A14B's second, low-noise expert
    flow_shift: Mapping[int, float] = field(default_factory=dict)  # short side of a size class -> flow_shift
    dtypes: Mapping[str, str] = field(default_factory=dict)  # component -> dtype kept whatever --dtype says
    negative_prompt: str | None = None  # the one the model ships, used when a request gives none

    @property
    def seconds(self) -> tuple[str, ...] | None:
        """The offered length: the trained one, in whole seconds (81 frames at 16 fps: 5 s)."""
        if self.frames is None:
            return None
        return (str(max(1, round((self.frames - 1) / self.fps))),)

    def shift_for(self, width: int, height: int) -> float | None:
        """The flow_shift for a size: that of the size class whose short side is nearest."""
        if not self.flow_shift:
            return None
        short = min(width, height)
        return self.flow_shift[min(self.flow_shift, key=lambda side: (abs(side - short), side))]

    def summary(self, frame_step: int) -> CheckpointSummary:
        return CheckpointSummary(
            checkpoint=self.name, trained_frames=self.frames, trained_fps=self.fps, frame_rule=f"{frame_step}k+1",
            default_steps=self.steps, default_guidance=self.guidance, guidance_scale_2=self.guidance_2,
            flow_shift={f"{side}p": shift for side, shift in sorted(self.flow_shift.items())},
            default_negative_prompt=self.negative_prompt,
        )


def generic_profile(family: Family) -> CheckpointProfile:
    """A family's own settings, for a layout no profile knows: served as the family always was."""
    return CheckpointProfile(name=family.name, family=family, matches=lambda layout: False, sizes=family.sizes,
                             fps=family.fps, frame_step=family.frame_step)


# ---------------------------------------------------------------------------------------------- Wan

_WAN_T2V = FAMILIES["WanPipeline"]
_WAN_I2V = FAMILIES["WanImageToVideoPipeline"]
_WAN_T2V_CLASSES = {"WanPipeline", "WanVideoToVideoPipeline"}

# [wan21] shared_config.py `sample_neg_prompt`, the negative prompt Wan's own generate.py uses (diffusers'
# examples pass its English translation; the model was trained with Chinese and English text).
WAN_NEGATIVE_PROMPT = (
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，JPEG压缩残留，"
    "丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，"
    "静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走"
)
_480P, _720P = ("832x480", "480x832"), ("1280x720", "720x1280")
_WAN21_SHIFT = {480: 3.0, 720: 5.0}  # [diffusers-wan] 5.0 for 720P, 3.0 for 480P
_FP32_VAE = {"vae": "float32"}  # [diffusers-wan] the VAE in float32
_FP32_VAE_CLIP = {"vae": "float32", "image_encoder": "float32"}  # [diffusers-wan] Wan2.1 I2V example
_WAN_14B_WIDTH = 5120  # [wan21] t2v_14B/i2v_14B `dim = 5120` (1.3B: 1536)


def _wan21_t2v(layout: Layout) -> bool:
    return (layout.class_name in _WAN_T2V_CLASSES and not layout.two_experts and not layout.expand_timesteps
            and layout.z_dim in (None, 16))


WAN_PROFILES = (
    # Wan2.2-TI2V-5B: the 16x16x4 Wan2.2 VAE (z_dim 48) and a timestep per latent patch.
    CheckpointProfile(
        "Wan2.2-TI2V-5B", _WAN_T2V,
        matches=lambda lo: lo.class_name in _WAN_T2V_CLASSES and (lo.expand_timesteps or lo.z_dim == 48),
        sizes=("1280x704", "704x1280"),  # [wan22] TI2V-5B card: 720P, as 1280x704 or 704x1280
        fps=24, frames=121,  # [wan22] ti2v_5B: sample_fps 24, frame_num 121
        steps=50, guidance=5.0,  # [wan22] ti2v_5B: sample_steps 50, sample_guide_scale 5.0
        flow_shift={704: 5.0},  # [wan22] ti2v_5B: sample_shift 5.0
        dtypes=_FP32_VAE, negative_prompt=WAN_NEGATIVE_PROMPT,
    ),
    # Wan2.2-T2V-A14B: two experts, transformer_2 after `boundary_ratio` of the noise schedule.
    CheckpointProfile(
        "Wan2.2-T2V-A14B", _WAN_T2V,
        matches=lambda lo: lo.class_name in _WAN_T2V_CLASSES and lo.two_experts,
        sizes=_480P + _720P,  # [wan22] A14B cards: 480P and 720P
        fps=16, frames=81,  # [wan22] shared_config: sample_fps 16, frame_num 81
        steps=40, guidance=4.0, guidance_2=3.0,  # [wan22] t2v_A14B: 40 steps, guide (low 3.0, high 4.0)
        flow_shift={480: 12.0, 720: 12.0},  # [wan22] t2v_A14B: sample_shift 12.0
        dtypes=_FP32_VAE, negative_prompt=WAN_NEGATIVE_PROMPT,
    ),
    CheckpointProfile(
        "Wan2.2-I2V-A14B", _WAN_I2V,
        matches=lambda lo: lo.class_name == "WanImageToVideoPipeline" and lo.two_experts,
        sizes=_480P + _720P,  # [wan22] A14B cards: 480P and 720P
        fps=16, frames=81,  # [wan22] shared_config: sample_fps 16, frame_num 81
        steps=40, guidance=3.5, guidance_2=3.5,  # [wan22] i2v_A14B: 40 steps, guide (3.5, 3.5)
        flow_shift={480: 5.0, 720: 5.0},  # [wan22] i2v_A14B: sample_shift 5.0
        dtypes=_FP32_VAE, negative_prompt=WAN_NEGATIVE_PROMPT,
    ),
    CheckpointProfile(
        "Wan2.1-T2V-14B", _WAN_T2V,
        matches=lambda lo: _wan21_t2v(lo) and lo.width >= _WAN_14B_WIDTH,
        sizes=_480P + _720P,  # [wan21] T2V-14B card: 480P and 720P
        fps=16, frames=81,  # [wan21] shared_config: sample_fps 16, frame_num 81
        steps=50, guidance=5.0,  # [wan21] t2v_14B: sample_steps 50, sample_guide_scale 5.0
        flow_shift=_WAN21_SHIFT, dtypes=_FP32_VAE, negative_prompt=WAN_NEGATIVE_PROMPT,
    ),
    CheckpointProfile(
        "Wan2.1-T2V-1.3B", _WAN_T2V,
        matches=lambda lo: _wan21_t2v(lo) and 0 < lo.width < _WAN_14B_WIDTH,
        sizes=_480P,  # [wan21] T2V-1.3B card: 480P (720P is less stable, little trained at it)
        fps=16, frames=81,  # [wan21] shared_config: sample_fps 16, frame_num 81
        steps=50, guidance=5.0,  # [wan21] t2v_1_3B: sample_steps 50, sample_guide_scale 5.0
        flow_shift=_WAN21_SHIFT, dtypes=_FP32_VAE, negative_prompt=WAN_NEGATIVE_PROMPT,
    ),
    # Wan2.1-I2V-14B (-480P and -720P repos share a layout): one transformer and a CLIP image encoder.
    CheckpointProfile(
        "Wan2.1-I2V-14B", _WAN_I2V,
        matches=lambda lo: (lo.class_name == "WanImageToVideoPipeline" and not lo.two_experts
                            and "image_encoder" in lo.components),
        sizes=_480P + _720P,  # [wan21] I2V-14B-480P and I2V-14B-720P
        fps=16, frames=81,  # [wan21] shared_config: sample_fps 16, frame_num 81
        steps=40, guidance=5.0,  # [wan21] i2v_14B: sample_steps 40, sample_guide_scale 5.0
        flow_shift=_WAN21_SHIFT, dtypes=_FP32_VAE_CLIP, negative_prompt=WAN_NEGATIVE_PROMPT,
    ),
)

# Every known checkpoint; the first that matches a layout is its profile. LTX-Video and CogVideoX are served by
# their family's generic profile until their checkpoints are declared here.
PROFILES: tuple[CheckpointProfile, ...] = WAN_PROFILES


def profile_for(layout: Layout) -> CheckpointProfile:
    """The first profile that matches `layout`, else its family's generic one."""
    family = FAMILIES[layout.class_name]
    for profile in PROFILES:
        if profile.matches(layout):
            return profile
    return generic_profile(family)
