"""LoRAs: `--lora [NAME=]PATH[:scale]` loads adapters at start (into both experts of Wan 2.2 A14B), and a request's
`lora` field, vLLM-Omni's (`{"name": ..., "scale": ...}`, or a list of them), picks loaded ones by name for a job.

vLLM-Omni registers adapters by name at start and a request selects one by name with an optional scale
(vllm_omni/entrypoints/openai/lora.py, `parse_lora_request`); a name never loaded is a 400. Here a job that names
none gets every loaded adapter at its `--lora` scale.

A step-distill LoRA (lightx2v's StepDistill/CfgDistill, CausVid, Wan 2.2 Lightning) makes the model run in a few
steps without classifier-free guidance: loading one brings its steps and guidance as the defaults, as its model
cards publish them (4 steps, guidance 1.0).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localsora.engines import EngineUnavailable
from localsora.engines.base import Parameter, RequestRefused
from localsora.engines.diffusers.profiles import CheckpointProfile

# Names that mark a step-distill LoRA, and the defaults its cards give: lightx2v's Wan2.1-T2V-14B-StepDistill-
# CfgDistill ("4 steps, cfg 1"), CausVid ("4-8 steps, guidance 1"), Wan2.2-Lightning ("4 steps, cfg 1").
DISTILL_NAMES = re.compile(r"lightx2v|causvid|lightning|distill", re.IGNORECASE)
DISTILL_STEPS, DISTILL_GUIDANCE = 4, 1.0
REQUIREMENTS = "requirements-diffusers.txt"


@dataclass(frozen=True)
class Lora:
    name: str
    path: Path
    scale: float = 1.0

    @property
    def distill(self) -> bool:
        return bool(DISTILL_NAMES.search(f"{self.name} {self.path.name}"))

    @classmethod
    def parse(cls, spec: str) -> Lora:
        """`[NAME=]PATH[:scale]`: the name defaults to the file's (or folder's) stem."""
        name, _, rest = spec.partition("=") if re.match(r"^[\w.-]+=", spec) else ("", "", spec)
        path, _, scale = rest.rpartition(":")
        try:
            value = float(scale) if path else None
        except ValueError:
            value = None
        if value is None or not math.isfinite(value):
            path, value = rest, 1.0
        location = Path(path).expanduser()
        if not location.exists():
            raise EngineUnavailable(f"--lora {spec}: no file or folder at {location}.")
        return cls(name or location.stem, location, value)


def load_loras(pipe: Any, specs: tuple[str, ...]) -> tuple[Lora, ...]:
    """Load each `--lora` into the pipeline's transformer, and into `transformer_2` too where there is one."""
    if not specs:
        return ()
    if importlib.util.find_spec("peft") is None:
        raise EngineUnavailable(f"--lora needs the peft package: .venv/bin/pip install -r {REQUIREMENTS}")
    loras = tuple(Lora.parse(spec) for spec in specs)
    names = [lora.name for lora in loras]
    if len(set(names)) < len(names):
        raise EngineUnavailable(f"--lora: two LoRAs are named alike ({', '.join(names)}); name them: NAME=PATH.")
    experts = [{}] + ([{"load_into_transformer_2": True}] if getattr(pipe, "transformer_2", None) is not None else [])
    for lora in loras:
        source = {"pretrained_model_name_or_path_or_dict": str(lora.path)}
        for into in experts:
            try:
                pipe.load_lora_weights(**source, adapter_name=lora.name, **into)
            except (OSError, ValueError, KeyError, RuntimeError) as exc:
                raise EngineUnavailable(f"--lora {lora.path}: could not load it into this model: {exc}") from exc
    activate(pipe, loras, None)
    return loras


def activate(pipe: Any, loras: tuple[Lora, ...], chosen: list[Any] | None) -> None:
    """Turn on the adapters a job picked ([name, scale or None] pairs), or all at their own scales."""
    if not loras:
        return
    scales = {lora.name: lora.scale for lora in loras}
    picked = [(name, scales[name] if scale is None else scale) for name, scale in chosen] if chosen is not None \
        else list(scales.items())
    if picked:
        pipe.set_adapters([name for name, _ in picked], [scale for _, scale in picked])
    else:
        pipe.disable_lora()
        return
    pipe.enable_lora()


def distilled(profile: CheckpointProfile, loras: tuple[Lora, ...]) -> CheckpointProfile:
    """The profile with a step-distill LoRA's steps and guidance (and no distilled-checkpoint timesteps)."""
    if not any(lora.distill for lora in loras):
        return profile
    return dataclasses.replace(
        profile, steps=DISTILL_STEPS, guidance=DISTILL_GUIDANCE,
        guidance_2=None if profile.guidance_2 is None else DISTILL_GUIDANCE,
        call={name: value for name, value in profile.call.items() if name != "timesteps"})


@dataclass(frozen=True)
class LoraParameter(Parameter):
    """The request's `lora`: `{"name": N, "scale": S}` or a list of them, each naming a loaded adapter."""

    names: tuple[str, ...] = ()

    def parse(self, raw: object) -> list[list[Any]]:
        items = raw if isinstance(raw, list) else [raw]
        picked: list[list[Any]] = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise RequestRefused("'lora' must be an object with a 'name' (and an optional 'scale'), or a list "
                                     "of them.", param="lora", code="invalid_type")
            unknown = set(item) - {"name", "scale"}
            if unknown:
                raise RequestRefused(f"'lora' takes 'name' and 'scale'; got {', '.join(sorted(map(str, unknown)))}."
                                     " Adapters are loaded at start with --lora, then picked by name.",
                                     param="lora", code="unknown_parameter")
            name, scale = item["name"], item.get("scale")
            if name not in self.names:
                raise RequestRefused(f"No LoRA named {name[:80]!r} is loaded; loaded: {', '.join(self.names)}.",
                                     param="lora")
            picked.append([name, None if scale is None else _scale(scale)])
        return picked

    def to_api(self) -> dict[str, Any]:
        return {"type": "object", "minimum": None, "maximum": None, "description": self.description}


def _scale(raw: object) -> float:
    """A scale from JSON, or from a form, which sends every field as text."""
    try:
        value = float(raw) if isinstance(raw, int | float | str) and not isinstance(raw, bool) else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise RequestRefused(f"'lora' 'scale' must be a number; got {str(raw)[:40]!r}.", param="lora",
                             code="invalid_type")
    return value


def lora_parameter(loras: tuple[Lora, ...]) -> LoraParameter:
    names = tuple(lora.name for lora in loras)
    return LoraParameter("lora", dict, "Loaded LoRAs to use, by name: {\"name\": ..., \"scale\": ...} or a list of "
                         f"them; [] for none. Loaded: {', '.join(names)}.", names=names)
