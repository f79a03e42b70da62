"""Fitting a checkpoint to the card it is on: offloading (`--memory`), fp8 storage (`--weights`), a quantized load
(`--quantize`) and VAE tiling (`--vae-tiling`).

`auto` picks the least offloading that fits the free GPU memory, as diffusers' memory guide orders them
(docs/source/en/optimization/memory.md): everything on the GPU, then model offload (one model at a time), then
group offload with CUDA streams (groups of layers prefetched while the previous one runs), then sequential offload
(layer by layer: least memory, slowest). Off CUDA nothing is offloaded: there is no GPU memory to save.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

import torch

from localsora.engines import EngineUnavailable

log = logging.getLogger("localsora.diffusers")

GIB = 1024**3
# GPU memory a job needs beyond the weights on the GPU: activations, the text embeddings, the latents; the VAE
# decode is judged on its own (`decode_bytes`).
WORKING_BYTES = 3 * GIB
# Bytes of decoder activations per output pixel per frame: a video VAE's widest decoder stage holds about 128
# channels at full resolution in 16-bit, and two such tensors live at once (input and output of a conv).
DECODE_BYTES_PER_PIXEL = 2 * 128 * 2
TRANSFORMERS = ("transformer", "transformer_2")  # the denoisers: what --weights and --quantize change

# --quantize -> (PipelineQuantizationConfig backend, its arguments, the package it needs).
QUANTIZATIONS: dict[str, tuple[str, dict[str, Any], str]] = {
    "nf4": ("bitsandbytes_4bit", {"load_in_4bit": True, "bnb_4bit_quant_type": "nf4",
                                  "bnb_4bit_compute_dtype": torch.bfloat16}, "bitsandbytes"),
    "int8": ("bitsandbytes_8bit", {"load_in_8bit": True}, "bitsandbytes"),
    "torchao-int8": ("torchao", {"quant_type": "int8wo"}, "torchao"),
    "torchao-fp8": ("torchao", {"quant_type": "float8wo_e4m3"}, "torchao"),
}
QUANTIZE_REQUIREMENTS = "requirements-quantize.txt"


def quantized_load(choice: str, components: set[str]) -> dict[str, Any]:
    """`from_pretrained`'s extra arguments for `--quantize`: none for `none`. The backend's package is an extra,
    imported only here; without it the engine does not start and says what to install."""
    if choice == "none":
        return {}
    backend, arguments, package = QUANTIZATIONS[choice]
    if importlib.util.find_spec(package) is None:
        raise EngineUnavailable(
            f"--quantize {choice} needs the {package} package, which is not installed: "
            f".venv/bin/pip install -r {QUANTIZE_REQUIREMENTS}")
    from diffusers import PipelineQuantizationConfig

    config = PipelineQuantizationConfig(quant_backend=backend, quant_kwargs=arguments,
                                        components_to_quantize=[name for name in TRANSFORMERS if name in components])
    return {"quantization_config": config}


def store_in_fp8(pipe: Any, compute_dtype: torch.dtype) -> None:
    """`--weights fp8`: each transformer's weights kept in float8 and cast to `compute_dtype` layer by layer as
    they run (diffusers' `enable_layerwise_casting`, which leaves norms and embeddings in full precision)."""
    for name in TRANSFORMERS:
        model = getattr(pipe, name, None)
        if model is not None:
            model.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=compute_dtype)


def weight_bytes(module: Any) -> int:
    return sum(p.numel() * p.element_size() for p in module.parameters()) if hasattr(module, "parameters") else 0


def free_gpu_bytes(device: str) -> int | None:
    """Free memory on a CUDA device; None elsewhere."""
    if not device.startswith("cuda"):
        return None
    free, _total = torch.cuda.mem_get_info(torch.device(device))
    return int(free)


def choose_memory(choice: str, pipe: Any, device: str) -> str:
    """The `--memory` mode in force: `auto` resolved from the free GPU memory and the checkpoint's size."""
    free = free_gpu_bytes(device)
    if choice != "auto":
        if free is None and choice == "sequential":  # accelerate's layer-by-layer hooks need an accelerator
            raise EngineUnavailable(f"--memory sequential streams each layer to a CUDA GPU; on {device} the weights "
                                    "are in memory already: use --memory none (or auto).")
        if free is None and choice != "none":
            log.warning("--memory %s on %s: the weights stay in this memory; the offload hooks run, saving nothing",
                        choice, device)
        return choice
    if free is None:
        return "none"
    models = [module for module in pipe.components.values() if isinstance(module, torch.nn.Module)]
    total = sum(weight_bytes(module) for module in models)
    largest = max((weight_bytes(module) for module in models), default=0)
    blocks = [block for name in TRANSFORMERS if (model := getattr(pipe, name, None)) is not None
              for block in getattr(model, "blocks", getattr(model, "transformer_blocks", []))]
    largest_block = max((weight_bytes(block) for block in blocks), default=largest)
    chosen = pick_memory(total=total, largest=largest, largest_block=largest_block, free=free)
    log.info("--memory auto: %.1f GiB of weights (largest model %.1f GiB), %.1f GiB free on %s: %s",
             total / GIB, largest / GIB, free / GIB, device, chosen)
    return chosen


def pick_memory(*, total: float, largest: float, largest_block: float, free: float) -> str:
    """The least offloading under which a job fits: all the weights, else the largest model alone, else two
    transformer blocks (the one running and the one prefetched), each with WORKING_BYTES beside it."""
    if total + WORKING_BYTES <= free:
        return "none"
    if largest + WORKING_BYTES <= free:
        return "model"
    if 2 * largest_block + WORKING_BYTES <= free:
        return "group"
    return "sequential"


def place(pipe: Any, mode: str, device: str) -> None:
    """Put the pipeline on `device` as `mode` says."""
    if mode == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif mode == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    elif mode == "group":
        # diffusers' memory guide: leaf-level groups with a CUDA stream prefetching the next while one runs are
        # about as fast as no offload; without streams, whole blocks at a time keep the transfers few.
        streams = device.startswith("cuda")
        pipe.enable_group_offload(onload_device=torch.device(device), offload_device=torch.device("cpu"),
                                  offload_type="leaf_level" if streams else "block_level",
                                  num_blocks_per_group=None if streams else 1, use_stream=streams,
                                  record_stream=streams)
    else:
        pipe.to(device)


def decode_bytes(width: int, height: int, frames: int) -> int:
    """Rough GPU memory a whole-clip VAE decode needs at this size and length."""
    return width * height * frames * DECODE_BYTES_PER_PIXEL


def set_vae_tiling(pipe: Any, choice: str, device: str, width: int, height: int, frames: int) -> bool:
    """Tile the VAE for this job when `--vae-tiling on`, or `auto` and a whole decode would not fit; returns
    whether it is tiled. A VAE without tiling is left alone."""
    vae = getattr(pipe, "vae", None)
    if vae is None or not hasattr(vae, "enable_tiling"):
        return False
    free = free_gpu_bytes(device)
    tiled = choice == "on" or (choice == "auto" and free is not None and decode_bytes(width, height, frames) > free)
    if tiled != bool(getattr(vae, "use_tiling", False)):
        vae.enable_tiling() if tiled else vae.disable_tiling()
    return tiled
