"""The diffusers engine's memory and speed settings on tiny random pipelines, on the CPU: `--memory`, `--weights
fp8`, `--quantize`, `--attention`, `--cache`, `--lora` and a request's `lora`.

Each changes what it should and nothing else: offloading renders the very same clip; a cached run computes fewer
transformer blocks (counted with forward hooks on the last block's attention); a LoRA changes the picture while
scale 0 does not. The engine runs in process; one test starts `python -m localsora --engine diffusers` as a real
process and drives it with the official SDK.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import openai
import pytest
import torch

from localsora.config import Settings
from localsora.engines import EngineUnavailable
from localsora.engines.base import JobFailed, RenderRequest
from localsora.engines.diffusers.engine import DiffusersEngine
from localsora.engines.diffusers.memory import GIB, pick_memory
from localsora.process import LocalsoraProcess
from tests.conftest import wait_for_video
from tests.tiny_pipelines import save_tiny_wan22_t2v

os.environ["HF_HUB_OFFLINE"] = "1"  # no hub is reachable, and none may be asked
STEPS = 6
# 9 frames (8 fps for 1 s): short renders, three latent frames.
REQUEST = RenderRequest("a red fox in snow", 64, 64, 1, seed=7, num_inference_steps=STEPS, fps=8)


def save_tiny_lora(model: Path, folder: Path, *, name: str = "tiny-style", seed: int = 1) -> Path:
    """A LoRA on the attention projections of `model`'s transformer, with random (not zero) up-projections so it
    changes the picture, saved as diffusers saves one (pytorch_lora_weights.safetensors)."""
    from diffusers import WanPipeline, WanTransformer3DModel
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    transformer = WanTransformer3DModel.from_pretrained(model / "transformer")
    torch.manual_seed(seed)
    transformer.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights=False,
                                       target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    layers = {key: value * 4 for key, value in get_peft_model_state_dict(transformer).items()}  # visibly strong
    WanPipeline.save_lora_weights(folder, transformer_lora_layers=layers, safe_serialization=True)
    return folder / "pytorch_lora_weights.safetensors"


@pytest.fixture(scope="module")
def tiny_a14b(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_wan22_t2v(tmp_path_factory.mktemp("models") / "tiny-a14b")


@pytest.fixture(scope="module")
def tiny_lora(tiny_wan_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_lora(tiny_wan_model, tmp_path_factory.mktemp("lora"))


def engine(model: Path, **settings: Any) -> DiffusersEngine:
    return DiffusersEngine(Settings(engine="diffusers", model=str(model), models={"tiny": ("64x64",)},
                                    durations=("1",), device="cpu", dtype="float32", **settings))


def frames(engine: DiffusersEngine, out: Path, request: RenderRequest = REQUEST) -> list[str]:
    """The checksum of each delivered frame."""
    engine.render(request, out, lambda share: None)
    with av.open(str(out / "video.mp4")) as container:
        return [hashlib.sha256(f.to_ndarray(format="rgb24").tobytes()).hexdigest() for f in container.decode(video=0)]


class Plain:
    """The engine with every setting at its default, its clip, and how often its attention computed for it."""

    def __init__(self, model: Path, out: Path) -> None:
        self.engine = engine(model)
        calls = attention_calls(self.engine)
        self.frames = frames(self.engine, out)
        self.attention_calls = calls[0]


@pytest.fixture(scope="module")
def plain(tiny_wan_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Plain:
    return Plain(tiny_wan_model, tmp_path_factory.mktemp("plain"))


def attention_calls(engine: DiffusersEngine) -> list[int]:
    """A counter of the times the last transformer block's self-attention really computes (a cache that skips the
    block, or predicts the attention, does not call it)."""
    calls = [0]
    last = engine.pipe.transformer.blocks[-1].attn1.to_q
    last.register_forward_hook(lambda *args: calls.__setitem__(0, calls[0] + 1))
    return calls


# ---------------------------------------------------------------------------------------------- memory


@pytest.mark.parametrize("mode", ["model", "group"])
def test_offloading_renders_the_same_clip(tiny_wan_model: Path, plain: Plain, tmp_path: Path, mode: str) -> None:
    offloaded = engine(tiny_wan_model, memory=mode)
    assert offloaded.capabilities.acceleration is not None and offloaded.capabilities.acceleration.memory == mode
    assert frames(offloaded, tmp_path) == plain.frames


def test_auto_memory_is_none_off_cuda_and_sequential_is_refused_there(tiny_wan_model: Path) -> None:
    acceleration = engine(tiny_wan_model).capabilities.acceleration
    assert acceleration is not None and acceleration.memory == "none"
    with pytest.raises(EngineUnavailable, match="--memory sequential .* CUDA GPU; on cpu"):
        engine(tiny_wan_model, memory="sequential")


# Wan2.1-T2V-14B in bfloat16, from its parameter counts: the 14B transformer 28.6 GB (40 blocks of 0.7 GB), the
# umT5-XXL text encoder 11.4 GB, the VAE 0.5 GB.
WAN14B = {"total": 40.5 * GIB, "largest": 28.6 * GIB, "largest_block": 0.7 * GIB}


@pytest.mark.parametrize(("free_gb", "mode"), [(80, "none"), (48, "none"), (32, "model"), (24, "group"),
                                                (12, "group"), (3.5, "sequential")])
def test_auto_memory_offloads_no_more_than_the_free_memory_needs(free_gb: float, mode: str) -> None:
    assert pick_memory(**WAN14B, free=free_gb * GIB) == mode


def test_out_of_memory_names_the_next_memory_modes_and_fp8(tiny_wan_model: Path, tmp_path: Path) -> None:
    offloaded = engine(tiny_wan_model, memory="model")

    def run_out_of_memory(share: float) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    with pytest.raises(JobFailed) as failed:
        offloaded.render(REQUEST, tmp_path / "failed", run_out_of_memory)
    assert failed.value.code == "out_of_memory"
    assert "Try --memory group, --memory sequential, --weights fp8, --vae-tiling on" in failed.value.message


def test_fp8_weights_store_the_transformer_in_float8_and_still_render(tiny_wan_model: Path, plain: Plain,
                                                                       tmp_path: Path) -> None:
    fp8 = engine(tiny_wan_model, weights="fp8")
    stored = {p.dtype for p in fp8.pipe.transformer.blocks.parameters() if p.dim() == 2}
    assert stored == {torch.float8_e4m3fn}
    assert fp8.pipe.vae.dtype == torch.float32  # only the transformer
    rendered = frames(fp8, tmp_path)
    assert len(rendered) == len(plain.frames) and rendered != plain.frames  # rounded weights, another picture


@pytest.mark.skipif(importlib.util.find_spec("bitsandbytes") is not None, reason="the extra is installed here")
def test_a_quantized_load_without_its_extra_says_what_to_install(tiny_wan_model: Path) -> None:
    with pytest.raises(EngineUnavailable, match=r"--quantize nf4 needs the bitsandbytes package.*"
                                                r"pip install -r requirements-quantize.txt"):
        engine(tiny_wan_model, quantize="nf4")


def test_fp8_storage_and_a_quantized_load_are_one_choice() -> None:
    with pytest.raises(ValueError, match="--weights fp8 and --quantize nf4 .* choose one"):
        Settings(engine="diffusers", model="m", weights="fp8", quantize="nf4")


def test_vae_tiling_on_tiles_the_decode(tiny_wan_model: Path, plain: Plain, tmp_path: Path) -> None:
    tiled = engine(tiny_wan_model, vae_tiling="on")
    frames(tiled, tmp_path)
    assert tiled.pipe.vae.use_tiling
    assert not plain.engine.pipe.vae.use_tiling  # auto on the CPU: no GPU memory to run out of


# ---------------------------------------------------------------------------------------------- speed


def test_native_attention_renders_and_an_unusable_backend_is_refused_with_the_list(
    tiny_wan_model: Path, plain: Plain, tmp_path: Path
) -> None:
    assert frames(engine(tiny_wan_model, attention="native"), tmp_path) == plain.frames
    with pytest.raises(EngineUnavailable, match="--attention flash needs a CUDA GPU; on cpu use one of: native"):
        engine(tiny_wan_model, attention="flash")
    with pytest.raises(EngineUnavailable, match="--attention fastest: diffusers has no such backend; it offers: "
                                                "flash, .*native"):
        engine(tiny_wan_model, attention="fastest")


def test_a_bad_cache_spec_is_refused_by_the_flag() -> None:
    with pytest.raises(ValueError, match="first-block\\[:threshold\\], taylorseer or mag:RATIOS.json"):
        Settings(engine="diffusers", model="m", cache="first-block:lots")


def write_ratios(folder: Path) -> str:
    """Magnitude ratios of 1.0 at every step: the residual barely changes, so MagCache may skip."""
    path = folder / "ratios.json"
    path.write_text(json.dumps([1.0] * STEPS))
    return f"mag:{path}"


@pytest.mark.parametrize("cache", ["first-block:0.5", "taylorseer", "mag"])
def test_a_cached_run_skips_transformer_work(tiny_wan_model: Path, plain: Plain, tmp_path: Path, cache: str) -> None:
    assert plain.attention_calls == 2 * STEPS  # uncached, each step computes the prompt and the negative prompt
    cached = engine(tiny_wan_model, cache=write_ratios(tmp_path) if cache == "mag" else cache)
    computed = attention_calls(cached)
    frames(cached, tmp_path / "cached")
    assert 0 < computed[0] < plain.attention_calls
    first = computed[0]
    frames(cached, tmp_path / "again")  # the next job starts afresh and skips alike
    assert computed[0] == 2 * first


# ---------------------------------------------------------------------------------------------- LoRA


def test_a_lora_changes_the_clip_and_at_scale_0_does_not(tiny_wan_model: Path, tiny_lora: Path, plain: Plain,
                                                         tmp_path: Path) -> None:
    styled = engine(tiny_wan_model, lora=(f"style={tiny_lora}",))
    assert styled.capabilities.acceleration is not None
    assert styled.capabilities.acceleration.loras == (("style", 1.0),)
    with_lora = frames(styled, tmp_path / "on")
    assert len(with_lora) == len(plain.frames) and with_lora != plain.frames
    assert frames(engine(tiny_wan_model, lora=(f"{tiny_lora}:0",)), tmp_path / "zero") == plain.frames
    # A request picks loaded adapters by name: at scale 0 it is the plain clip; the server's own
    # scale comes back for the next job that names none.
    off = RenderRequest(**{**REQUEST.__dict__, "lora": [["style", 0.0]]})
    assert frames(styled, tmp_path / "request-zero", off) == plain.frames
    assert frames(styled, tmp_path / "again") == with_lora


def test_a_lora_goes_into_both_wan22_experts(tiny_a14b: Path, tmp_path: Path) -> None:
    lora = save_tiny_lora(tiny_a14b, tmp_path / "lora")
    experts = engine(tiny_a14b, lora=(f"style={lora}",)).pipe
    for expert in (experts.transformer, experts.transformer_2):
        assert "style" in expert.peft_config


def test_a_distill_lora_brings_its_steps_and_guidance(tiny_wan_model: Path, tiny_lora: Path) -> None:
    distill = engine(tiny_wan_model, lora=(f"lightx2v-step-distill={tiny_lora}",)).capabilities.profile
    assert distill is not None and (distill.default_steps, distill.default_guidance) == (4, 1.0)
    own = engine(tiny_wan_model, lora=(f"style={tiny_lora}",)).capabilities.profile
    assert own is not None and (own.default_steps, own.default_guidance) == (50, 5.0)


def test_a_missing_lora_file_fails_at_start(tiny_wan_model: Path, tmp_path: Path) -> None:
    with pytest.raises(EngineUnavailable, match="--lora .*: no file or folder at"):
        engine(tiny_wan_model, lora=(str(tmp_path / "nope.safetensors"),))


@pytest.fixture(scope="module")
def accelerated_server(tiny_wan_model: Path, tiny_lora: Path,
                       tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalsoraProcess]:
    """`python -m localsora --engine diffusers` as a real process, with a LoRA, a step cache and fp8 weights."""
    args = ["--engine", "diffusers", "--model", str(tiny_wan_model), "--models", "tiny=64x64", "--durations", "1",
            "--device", "cpu", "--poll-after-ms", "50", "--lora", f"style={tiny_lora}:0.8",
            "--cache", "first-block:0.2", "--weights", "fp8", "--attention", "native", "--memory", "auto"]
    with LocalsoraProcess(tmp_path_factory.mktemp("accelerated"), args=args) as server:
        yield server


def test_the_server_lists_its_settings_and_takes_a_request_lora(accelerated_server: LocalsoraProcess) -> None:
    # Without strict validation: the SDK's types know only Sora's sizes and seconds.
    client = openai.OpenAI(base_url=accelerated_server.base_url, api_key="local", max_retries=0)
    (model,) = client.models.list().data
    capabilities = model.model_extra["capabilities"]  # type: ignore[index]
    assert capabilities["acceleration"] == {
        "memory": "none", "vae_tiling": "auto", "weights": "fp8", "quantize": "none", "attention": "native",
        "compile": False, "cache": "first-block:0.2", "loras": [{"name": "style", "scale": 0.8}]}
    assert capabilities["parameters"]["lora"]["type"] == "object"

    video = client.videos.create(prompt="a red fox", model="tiny", size="64x64", seconds="1",  # type: ignore[arg-type]
                                 extra_body={"num_inference_steps": 3, "lora": {"name": "style", "scale": 0.5}})
    done = wait_for_video(client, video.id)
    assert done.status == "completed", done.error
    with av.open(io.BytesIO(client.videos.download_content(video.id).read())) as container:
        assert sum(1 for _ in container.decode(video=0)) == 16

    with pytest.raises(openai.BadRequestError) as refused:
        client.videos.create(prompt="a red fox", model="tiny", size="64x64", seconds="1",  # type: ignore[arg-type]
                             extra_body={"lora": {"name": "someone-else"}})
    assert refused.value.body["param"] == "lora"  # type: ignore[index]
    assert "No LoRA named 'someone-else' is loaded; loaded: style." in refused.value.message
