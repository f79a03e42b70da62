"""Checkpoint profiles: what one checkpoint was trained for, recognised from its configs.

A family (families.py) says which pipelines do which mode; a checkpoint of that family has its own sizes, length,
fps, flow shift, guidance, dtype per component and negative prompt. Each profile below holds them as data, with
where each value comes from, and says which layouts it matches: `model_index.json` plus the component configs
(`transformer/config.json`, `transformer_2/`, `vae/config.json`), read into a `Layout`. The registry takes the
first profile that matches; nothing elsewhere branches on a checkpoint's name. A layout no profile matches is
served as its family always was (`generic_profile`).

The idea follows ComfyUI's `comfy/supported_models.py`: one small declaration per model, matched from its configs.

Sources, cited beside the values:
- [wan21]: Wan-Video/Wan2.1@9737cba: `wan/configs/shared_config.py` (`sample_fps` 16, `sample_neg_prompt`;
  i2v_14B prefixes that prompt with 镜头晃动, "camera shake"), `generate.py` `_validate_args` (81 frames; 50
  steps for text-to-video, 40 for image-to-video; `--sample_guide_scale` 5.0; shift 5.0, 3.0 for image-to-video
  at 480p), `wan/configs/__init__.py` SUPPORTED_SIZES (t2v-1.3B: 480p only), and the README's diffusers example
  (guidance 5.0, `flow_shift` 5.0 for 720P and 3.0 for 480P, VAE and CLIP image encoder in float32).
- [wan22]: Wan-Video/Wan2.2@42bf4cf `wan/configs/` (shared_config: 16 fps, 81 frames; ti2v_5B: 24 fps, 121
  frames, 50 steps, guidance 5.0, shift 5.0; t2v_A14B: 40 steps, guidance (low 3.0, high 4.0), shift 12.0,
  boundary 0.875; i2v_A14B: 40 steps, guidance 3.5 both, shift 5.0, boundary 0.900; `__init__.py`
  SUPPORTED_SIZES: A14B 480p and 720p, ti2v-5B 1280x704 and 704x1280). `generate.py` takes each from the
  config, at every size.
- [diffusers-wan]: diffusers' Wan docs and pipeline examples (docs/source/en/api/pipelines/wan.md,
  pipelines/wan/pipeline_wan.py): `flow_shift = 5.0  # 5.0 for 720P, 3.0 for 480P` set with
  `UniPCMultistepScheduler.from_config(pipe.scheduler.config, flow_shift=flow_shift)`; the VAE (and Wan2.1
  I2V's CLIP image encoder) loaded in float32 beside a bfloat16 transformer; `num_frames = 4k + 1`.
- [ltx]: Lightricks/LTX-Video@5260738: README (width and height multiples of 32, frames 8k+1; 0.9.6 and later
  default to 1216x704 at 30 fps; distilled models need no CFG or STG and take 8 steps, or fewer),
  `ltx_video/inference.py` defaults (1216x704, 121 frames, frame_rate 30, negative prompt "worst quality,
  inconsistent motion, blurry, jittery, distorted"), `configs/ltxv-2b-0.9*.yaml` (40 steps, guidance 3,
  decode_timestep 0.05, decode_noise_scale 0.025) and `configs/ltxv-13b-0.9.{7,8}-{dev,distilled}.yaml`
  (multi-scale; dev: 30 steps with a per-step CFG/STG schedule; distilled: guidance 1 and a fixed 7-timestep
  first pass).
- [diffusers-ltx]: huggingface/diffusers@01b6b66 docs/source/en/api/pipelines/ltx_video.md (guidance-distilled
  variants: guidance 1.0, others higher, "like 5.0"; timestep-aware VAE (0.9.1 and above): decode timestep 0.05,
  noise scale 0.025; the 0.9.7 dev example: 30 steps, guidance 5.0, guidance_rescale 0.7; the 0.9.7 distilled
  example: 4 to 10 steps, guidance 1.0, timesteps 1000, 993, 987, 981, 975, 909, 725, 0.03; 0.9.8 distilled
  "similar to the 0.9.7 variant").
- [diffusers-ltx2]: diffusers' pipelines/ltx2/pipeline_ltx2.py, its example (Lightricks/LTX-2: 768x512, 121 frames at
  `frame_rate = 24.0`, 30 steps, guidance_scale 3.0, the negative prompt below) and `__call__` defaults (the same
  steps and guidance); the LTX-2 model card's tips: width and height divisible by 32, frames 8k+1.
- [cogvideox]: THUDM/CogVideo@e519ece: README's model table (2b, 5b, 5b-I2V: 720x480, 8N+1 frames (49), 6 s,
  8 fps; 1.5-5B: 1360x768, 1.5-5B-I2V: short side 768, long side up to 1360 and a multiple of 16; 1.5: 16N+1
  frames (81), 5 or 10 s, 16 fps) and `inference/cli_demo.py` (50 steps, guidance 6.0, 81 frames and 16 fps for
  1.5; 49 frames at 8 fps for 1.0); diffusers' docs/source/en/api/pipelines/cogvideox.md; pipeline_cogvideox.py
  pads the latent frames to a multiple of the transformer's `patch_size_t` (2 on 1.5) in text-to-video and
  image-to-video.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localsora.engines.base import CheckpointSummary
from localsora.engines.diffusers.families import FAMILIES, WAN_TI2V, Family

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
    distilled: bool = False  # the files say the weights are timestep-distilled (`timestep_distilled`)

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
        expand_timesteps=bool(index.get("expand_timesteps", False)), distilled=timestep_distilled(folder),
    )


def timestep_distilled(folder: Path) -> bool:
    """Whether the files say the weights are timestep-distilled (LTX-Video's distilled checkpoints). No config does:
    diffusers' scripts/convert_ltx_to_diffusers.py writes the same transformer, VAE and scheduler configs for 0.9.7
    dev and distilled, and its single-file loader maps every 0.9.7 checkpoint onto the dev repo's configs
    (loaders/single_file_utils.py). What does tell them apart:
    - the maker's own config in the transformer weights' safetensors header: a distilled checkpoint lists the only
      timesteps it takes, `allowed_inference_steps` (LTX-Video's ltx_video/inference.py reads it from there);
    - the repository the files were downloaded from, which the Hugging Face cache keeps as the folder's name
      (`models--Lightricks--LTX-Video-0.9.7-distilled/snapshots/<revision>`)."""
    for weights in sorted((folder / "transformer").glob("*.safetensors")):
        config = _safetensors_metadata(weights).get("config")
        try:
            if config and json.loads(config).get("allowed_inference_steps"):
                return True
        except (ValueError, AttributeError):  # someone else's metadata under that name
            continue
    repository = next((part for part in folder.resolve().parts if part.startswith("models--")), "")
    return "distilled" in repository.lower()


def _safetensors_metadata(path: Path) -> dict[str, str]:
    """The `__metadata__` of a safetensors file's header (8 bytes of length, then JSON), read without its tensors."""
    try:
        with path.open("rb") as file:
            length = int.from_bytes(file.read(8), "little")
            if not 0 < length <= 100_000_000:
                return {}
            header = json.loads(file.read(length))
    except (OSError, ValueError):
        return {}
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    return metadata if isinstance(metadata, dict) else {}


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
    call: Mapping[str, Any] = field(default_factory=dict)  # more pipeline arguments, passed where __call__ takes them
    # mode -> pipeline class, where the checkpoint needs another than its family's for that mode
    pipelines: Mapping[str, str] = field(default_factory=dict)
    fixed: bool = False  # only `sizes` and `frames` work (a learned positional embedding): anything else is a 400

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
# [wan21] wan_i2v_14B.py: Wan2.1's image-to-video puts "镜头晃动，" (camera shake) before it; Wan2.2's A14B does not.
WAN21_I2V_NEGATIVE_PROMPT = "镜头晃动，" + WAN_NEGATIVE_PROMPT
_480P, _720P = ("832x480", "480x832"), ("1280x720", "720x1280")
# [wan21] README diffusers example and [diffusers-wan]: 5.0 for 720P, 3.0 for 480P. (Wan2.1's own generate.py keeps
# 5.0 for text-to-video at 480p too, and suggests 8 to 12 for the 1.3B; the diffusers setting is the one kept.)
_WAN21_SHIFT = {480: 3.0, 720: 5.0}
_FP32_VAE = {"vae": "float32"}  # [diffusers-wan] the VAE in float32
_FP32_VAE_CLIP = {"vae": "float32", "image_encoder": "float32"}  # [diffusers-wan] Wan2.1 I2V example
_WAN_14B_WIDTH = 5120  # [wan21] t2v_14B/i2v_14B `dim = 5120` (1.3B: 1536)


def _wan21_t2v(layout: Layout) -> bool:
    return (layout.class_name in _WAN_T2V_CLASSES and not layout.two_experts and not layout.expand_timesteps
            and layout.z_dim in (None, 16))


WAN_PROFILES = (
    # Wan2.2-TI2V-5B: the 16x16x4 Wan2.2 VAE (z_dim 48) and a timestep per latent patch.
    CheckpointProfile(
        "Wan2.2-TI2V-5B", WAN_TI2V,  # text and image-to-video in one checkpoint
        matches=lambda lo: lo.class_name in _WAN_T2V_CLASSES and (lo.expand_timesteps or lo.z_dim == 48),
        sizes=("1280x704", "704x1280"),  # [wan22] SUPPORTED_SIZES ti2v-5B: 720P as 1280x704, 704x1280
        fps=24, frames=121,  # [wan22] ti2v_5B: sample_fps 24, frame_num 121
        steps=50, guidance=5.0,  # [wan22] ti2v_5B: sample_steps 50, sample_guide_scale 5.0
        flow_shift={704: 5.0},  # [wan22] ti2v_5B: sample_shift 5.0
        dtypes=_FP32_VAE, negative_prompt=WAN_NEGATIVE_PROMPT,
    ),
    # Wan2.2-T2V-A14B: two experts, transformer_2 after `boundary_ratio` of the noise schedule.
    CheckpointProfile(
        "Wan2.2-T2V-A14B", _WAN_T2V,
        matches=lambda lo: lo.class_name in _WAN_T2V_CLASSES and lo.two_experts,
        sizes=_480P + _720P,  # [wan22] SUPPORTED_SIZES: 480P and 720P
        fps=16, frames=81,  # [wan22] shared_config: sample_fps 16, frame_num 81
        steps=40, guidance=4.0, guidance_2=3.0,  # [wan22] t2v_A14B: 40 steps, guide (low 3.0, high 4.0)
        flow_shift={480: 12.0, 720: 12.0},  # [wan22] t2v_A14B: sample_shift 12.0
        dtypes=_FP32_VAE, negative_prompt=WAN_NEGATIVE_PROMPT,
    ),
    CheckpointProfile(
        "Wan2.2-I2V-A14B", _WAN_I2V,
        matches=lambda lo: lo.class_name == "WanImageToVideoPipeline" and lo.two_experts,
        sizes=_480P + _720P,  # [wan22] SUPPORTED_SIZES: 480P and 720P
        fps=16, frames=81,  # [wan22] shared_config: sample_fps 16, frame_num 81
        steps=40, guidance=3.5, guidance_2=3.5,  # [wan22] i2v_A14B: 40 steps, guide (3.5, 3.5)
        flow_shift={480: 5.0, 720: 5.0},  # [wan22] i2v_A14B: sample_shift 5.0
        dtypes=_FP32_VAE, negative_prompt=WAN_NEGATIVE_PROMPT,
    ),
    CheckpointProfile(
        "Wan2.1-T2V-14B", _WAN_T2V,
        matches=lambda lo: _wan21_t2v(lo) and lo.width >= _WAN_14B_WIDTH,
        sizes=_480P + _720P,  # [wan21] SUPPORTED_SIZES t2v-14B: 480P and 720P
        fps=16, frames=81,  # [wan21] shared_config: sample_fps 16; generate.py: 81 frames
        steps=50, guidance=5.0,  # [wan21] generate.py: 50 steps for t2v, guide scale 5.0
        flow_shift=_WAN21_SHIFT, dtypes=_FP32_VAE, negative_prompt=WAN_NEGATIVE_PROMPT,
    ),
    CheckpointProfile(
        "Wan2.1-T2V-1.3B", _WAN_T2V,
        matches=lambda lo: _wan21_t2v(lo) and 0 < lo.width < _WAN_14B_WIDTH,
        sizes=_480P,  # [wan21] SUPPORTED_SIZES t2v-1.3B: 480p (README: 720P less stable, little trained at it)
        fps=16, frames=81,  # [wan21] shared_config: sample_fps 16; generate.py: 81 frames
        steps=50, guidance=5.0,  # [wan21] generate.py and README diffusers example (README suggests 6 for 1.3B)
        flow_shift=_WAN21_SHIFT, dtypes=_FP32_VAE, negative_prompt=WAN_NEGATIVE_PROMPT,
    ),
    # Wan2.1-I2V-14B (-480P and -720P repos share a layout): one transformer and a CLIP image encoder.
    CheckpointProfile(
        "Wan2.1-I2V-14B", _WAN_I2V,
        matches=lambda lo: (lo.class_name == "WanImageToVideoPipeline" and not lo.two_experts
                            and "image_encoder" in lo.components),
        sizes=_480P + _720P,  # [wan21] SUPPORTED_SIZES i2v-14B (the -480P and -720P repos)
        fps=16, frames=81,  # [wan21] shared_config: sample_fps 16; generate.py: 81 frames
        steps=40, guidance=5.0,  # [wan21] generate.py: 40 steps for i2v, guide scale 5.0
        flow_shift=_WAN21_SHIFT,  # [wan21] generate.py: i2v 3.0 at 480p, 5.0 at 720p
        dtypes=_FP32_VAE_CLIP, negative_prompt=WAN21_I2V_NEGATIVE_PROMPT,
    ),
)

# ---------------------------------------------------------------------------------------------- LTX-Video

_LTX = FAMILIES["LTXPipeline"]
_LTX_CLASSES = {"LTXPipeline", "LTXImageToVideoPipeline", "LTXConditionPipeline"}
_LTX_13B_WIDTH = 4096  # 0.9.7/0.9.8 13B transformer: 32 heads x 128 (the 2B models: 32 x 64)
# [ltx] every configs/ltxv-*.yaml and [diffusers-ltx]: the timestep-aware VAE's (0.9.1 and later) decode settings.
_LTX_DECODE = {"decode_timestep": 0.05, "decode_noise_scale": 0.025}
# [ltx] inference.py's default negative prompt, which diffusers' LTX examples pass too. (It once seemed to pull the
# tiny LTX's remix at strength 0.02 off its source; it did not: at guidance 3 it changes the *source* clip, and the
# tiny random VAE re-encodes another source less faithfully. The test now compares remixes of one source with
# remixes of another, each made with the same settings.)
LTX_NEGATIVE_PROMPT = "worst quality, inconsistent motion, blurry, jittery, distorted"
# [diffusers-ltx] the 0.9.7 distilled example's first-pass schedule (the maker's configs: 1.0, 0.9937, 0.9875,
# 0.9812, 0.975, 0.9094, 0.725, as sigmas, then the VAE's own final step).
LTX_DISTILLED_TIMESTEPS = (1000, 993, 987, 981, 975, 909, 725, 0.03)


def _ltx(layout: Layout) -> bool:
    return layout.class_name in _LTX_CLASSES


LTX_PROFILES = (
    CheckpointProfile(
        "LTX-Video-13B", _LTX, matches=lambda lo: _ltx(lo) and lo.width >= _LTX_13B_WIDTH,
        sizes=("1216x704", "704x1216", "768x512", "512x768"),  # [ltx] inference.py: 1216x704; any multiple of 32
        fps=30, frames=121,  # [ltx] inference.py: 1216x704, 121 frames, frame_rate 30
        # [diffusers-ltx] 0.9.7 dev example: 30 steps, guidance 5.0 with guidance_rescale 0.7 (diffusers has no STG,
        # which the maker's 13B dev configs mix with a CFG of 1 to 8 per step); [ltx] 13B dev configs: 30 steps.
        steps=30, guidance=5.0, negative_prompt=LTX_NEGATIVE_PROMPT,
        call={**_LTX_DECODE, "guidance_rescale": 0.7},
    ),
    CheckpointProfile(
        "LTX-Video", _LTX, matches=lambda lo: _ltx(lo) and 0 < lo.width < _LTX_13B_WIDTH,
        sizes=("768x512", "512x768", "1216x704", "704x1216"),  # [diffusers-ltx] 768x512; any multiple of 32
        fps=24, frames=121,  # [diffusers-ltx] 768x512 at 24 fps (0.9.0 to 0.9.5; 0.9.6 moved to 30); [ltx] 121 frames
        steps=40, guidance=3.0,  # [ltx] configs/ltxv-2b-0.9.yaml, -0.9.1, -0.9.5, -0.9.6-dev: 40 steps, guidance 3
        negative_prompt=LTX_NEGATIVE_PROMPT, call=_LTX_DECODE,
    ),
)

# LTX-Video's distilled checkpoints (0.9.6 2B, 0.9.7 13B, 0.9.8 2B and 13B): the same configs as the dev ones, told
# apart by what `timestep_distilled` finds in their files. First of the LTX profiles, so it wins over the dev ones.
LTX_DISTILLED = CheckpointProfile(
    "LTX-Video-distilled", _LTX, matches=lambda lo: _ltx(lo) and lo.distilled,
    sizes=("1216x704", "704x1216", "768x512", "512x768"),  # [ltx] as the 13B dev
    fps=30, frames=121,  # [ltx] as the 13B dev
    # [diffusers-ltx] guidance 1.0, 4 to 10 steps, these 8 timesteps; [ltx] README: 8 steps recommended, no CFG.
    steps=len(LTX_DISTILLED_TIMESTEPS), guidance=1.0, negative_prompt=LTX_NEGATIVE_PROMPT,  # unused at guidance 1
    call={**_LTX_DECODE, "timesteps": list(LTX_DISTILLED_TIMESTEPS)},
    # Only LTXConditionPipeline takes `timesteps`: LTXPipeline and LTXImageToVideoPipeline (diffusers 0.42.1) always
    # pass their own sigmas as well, and retrieve_timesteps refuses both. It makes text and image-to-video too (the
    # image as a condition at frame 0), as diffusers' distilled examples run it.
    pipelines={"text": "LTXConditionPipeline", "image": "LTXConditionPipeline"},
)

# ---------------------------------------------------------------------------------------------- LTX-2

_LTX2 = FAMILIES["LTX2Pipeline"]
_LTX2_CLASSES = {"LTX2Pipeline", "LTX2ImageToVideoPipeline", "LTX2ConditionPipeline"}

LTX2_PROFILES = (
    CheckpointProfile(
        "LTX-2", _LTX2, matches=lambda lo: lo.class_name in _LTX2_CLASSES,
        sizes=_LTX2.sizes,  # [diffusers-ltx2] example 768x512; multiples of 32
        fps=24, frames=121, frame_step=8,  # [diffusers-ltx2] example: 121 frames at 24 fps; 8k+1
        steps=30, guidance=3.0,  # [diffusers-ltx2] example and __call__: 30 steps, guidance_scale 3.0
        negative_prompt=LTX_NEGATIVE_PROMPT,  # [diffusers-ltx2] example: the LTX-Video one
    ),
)

# ---------------------------------------------------------------------------------------------- CogVideoX

_COG_T2V = FAMILIES["CogVideoXPipeline"]
_COG_I2V = FAMILIES["CogVideoXImageToVideoPipeline"]
_COG_T2V_CLASSES = {"CogVideoXPipeline", "CogVideoXVideoToVideoPipeline"}


def _cog15(layout: Layout) -> bool:
    """CogVideoX1.5: the transformer patches 2 latent frames at a time (`patch_size_t: 2`); 1.0 leaves it null."""
    return layout.transformer.get("patch_size_t") is not None


COGVIDEOX_PROFILES = (
    CheckpointProfile(
        "CogVideoX1.5-5B", _COG_T2V, matches=lambda lo: lo.class_name in _COG_T2V_CLASSES and _cog15(lo),
        sizes=("1360x768",),  # [cogvideox] README: 1.5-5B makes 1360x768
        fps=16, frames=81, frame_step=16,  # [cogvideox] README: 16 fps, 16N+1, default 81 (5 s)
        steps=50, guidance=6.0,  # [cogvideox] cli_demo.py: 50 steps, guidance 6.0
    ),
    CheckpointProfile(
        "CogVideoX1.5-5B-I2V", _COG_I2V,
        matches=lambda lo: lo.class_name == "CogVideoXImageToVideoPipeline" and _cog15(lo),
        sizes=("1360x768", "768x1360"),  # [cogvideox] README: short side 768, long up to 1360
        fps=16, frames=81, frame_step=16,  # [cogvideox] README: 16 fps, 16N+1, default 81 (5 s)
        steps=50, guidance=6.0,  # [cogvideox] cli_demo.py: 50 steps, guidance 6.0
    ),
    # CogVideoX-5b-I2V: a learned positional embedding for 49 frames at 720x480 (`use_learned_positional_embeddings`
    # in its transformer config); diffusers silently drops it at any other frame count.
    CheckpointProfile(
        "CogVideoX-5b-I2V", _COG_I2V,
        matches=lambda lo: lo.class_name == "CogVideoXImageToVideoPipeline" and not _cog15(lo),
        sizes=("720x480",),  # [cogvideox] README: 720x480 only
        fps=8, frames=49, frame_step=8,  # [cogvideox] README: 8N+1, default 49, 6 s at 8 fps
        steps=50, guidance=6.0, fixed=True,  # [cogvideox] cli_demo.py: 50 steps, guidance 6.0
    ),
    CheckpointProfile(
        "CogVideoX-5b", _COG_T2V,
        matches=lambda lo: lo.class_name in _COG_T2V_CLASSES and bool(
            lo.transformer.get("use_rotary_positional_embeddings")),  # 5b: rotary; 2b: sincos
        sizes=("720x480",),  # [cogvideox] README: 720x480
        fps=8, frames=49, frame_step=8,  # [cogvideox] README: 8N+1, default 49, 6 s at 8 fps
        steps=50, guidance=6.0,  # [cogvideox] cli_demo.py: 50 steps, guidance 6.0
    ),
    CheckpointProfile(
        "CogVideoX-2b", _COG_T2V, matches=lambda lo: lo.class_name in _COG_T2V_CLASSES,
        sizes=("720x480",),  # [cogvideox] README: 720x480 (2b: FP16 recommended)
        fps=8, frames=49, frame_step=8,  # [cogvideox] README: 8N+1, default 49, 6 s at 8 fps
        steps=50, guidance=6.0,  # [cogvideox] cli_demo.py: 50 steps, guidance 6.0
    ),
)

# Every known checkpoint; the first that matches a layout is its profile (more specific ones first).
PROFILES: tuple[CheckpointProfile, ...] = (WAN_PROFILES + (LTX_DISTILLED,) + LTX_PROFILES + LTX2_PROFILES
                                           + COGVIDEOX_PROFILES)


def profile_for(layout: Layout) -> CheckpointProfile:
    """The first profile that matches `layout`, else its family's generic one."""
    family = FAMILIES[layout.class_name]
    for profile in PROFILES:
        if profile.matches(layout):
            return profile
    return generic_profile(family)
