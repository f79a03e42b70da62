"""Tiny, randomly initialised diffusers video pipelines saved to folders, for testing the `diffusers` engine.

Each `save_tiny_*` builds a real pipeline class with minute components (the way diffusers' own tests do with
`get_dummy_components`) and `save_pretrained`s it, so the engine can load it by path exactly like downloaded weights.
Nothing here touches a model hub: the tokenizer is built locally instead of coming from "hf-internal-testing/...".

The VAEs keep the real models' compression ratios (Wan 8x/4x, LTX 32x/8x, CogVideoX 8x/4x) so size and frame-count
rules derived from the loaded pipeline match what real weights enforce. Output is noise: the weights are random.

Imports of torch/diffusers/transformers happen inside the functions, so importing this module stays cheap.

diffusers 0.42.1's Wan video-to-video, image-to-video and VACE pipelines need `ftfy` (requirements-diffusers.txt).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Words the tokenizer knows whole; anything else falls back to single letters and digits (so no prompt is "all unk").
_WORDS = [
    word
    for line in (
        "a an the of and in on with to at is are from over under by it this that",
        "cat dog bird fish horse monkey panda robot man woman child people car boat train plane",
        "tree flower grass sun moon star sky cloud sea beach river lake city street forest mountain",
        "rain snow fire night day morning red blue green yellow white black golden small big slow fast",
        "walking running flying swimming dancing jumping sitting camera shot close wide video scene light",
    )
    for word in line.split()
]

# T5's layout: <pad>=0 (also the decoder start), </s>=1 (appended to every prompt), <unk>=2.
_SPECIALS = ["<pad>", "</s>", "<unk>"]

# Tiny text encoder width. Each transformer's text/caption dim below must equal it.
_TEXT_DIM = 32


def _tokenizer() -> Any:
    """A T5-style Unigram tokenizer with a hand-written vocabulary.

    In transformers 5 `T5Tokenizer` is tokenizers-backed (`T5TokenizerFast` is an alias of it) and takes a Unigram
    vocabulary directly, so it needs neither sentencepiece nor a download, saves a plain tokenizer.json, and reloads by
    path through AutoTokenizer / T5Tokenizer / T5TokenizerFast alike. A fixed vocabulary, rather than a trained one,
    keeps the saved folder byte-for-byte stable.
    """
    from transformers import T5Tokenizer

    vocab: list[tuple[str, float]] = [(tok, 0.0) for tok in _SPECIALS]
    vocab.append(("\u2581", -2.0))  # the bare word-boundary marker that Metaspace prepends
    vocab += [(f"\u2581{word}", -3.0) for word in _WORDS]
    # Single characters score low so whole words win, but any lowercase word/number still tokenizes.
    vocab += [(ch, -8.0) for ch in "abcdefghijklmnopqrstuvwxyz0123456789"]
    # extra_ids=0: T5's 100 sentinel tokens are for span-corruption pretraining; a text encoder never sees them.
    return T5Tokenizer(vocab=vocab, extra_ids=0)


def _t5_config_kwargs(vocab_size: int) -> dict[str, Any]:
    return {
        "vocab_size": vocab_size,
        "d_model": _TEXT_DIM,
        "d_kv": 8,
        "d_ff": 37,
        "num_layers": 2,
        "num_heads": 4,
        "relative_attention_num_buckets": 8,
        "pad_token_id": 0,
        "eos_token_id": 1,
        "decoder_start_token_id": 0,
    }


def _t5_encoder(vocab_size: int) -> Any:
    import torch
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    return T5EncoderModel(T5Config(**_t5_config_kwargs(vocab_size))).eval()


def _umt5_encoder(vocab_size: int) -> Any:
    import torch
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    return UMT5EncoderModel(UMT5Config(**_t5_config_kwargs(vocab_size))).eval()


def _save(pipe: Any, folder: Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def _wan_vae() -> Any:
    """Three downsampling stages (two of them temporal) = the real 8x spatial / 4x temporal compression."""
    import torch
    from diffusers import AutoencoderKLWan

    torch.manual_seed(0)
    return AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                            temperal_downsample=[False, True, True])


# A two-layer Wan transformer; rope splits the head dim into t/h/w thirds, so a multiple of 6.
_WAN_TRANSFORMER = {
    "patch_size": (1, 2, 2), "num_attention_heads": 2, "attention_head_dim": 12, "out_channels": 16,
    "text_dim": _TEXT_DIM, "freq_dim": 256, "ffn_dim": 32, "num_layers": 2, "cross_attn_norm": True,
    "qk_norm": "rms_norm_across_heads",
}


def _wan_scheduler(flow_shift: float) -> Any:
    """The flow-matching UniPC scheduler Wan ships with."""
    from diffusers import UniPCMultistepScheduler

    return UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=flow_shift)


def save_tiny_wan(folder: Path) -> Path:
    """Wan 2.1-style text-to-video (WanPipeline). Also loads as WanVideoToVideoPipeline via from_pipe."""
    import torch
    from diffusers import WanPipeline, WanTransformer3DModel

    tokenizer = _tokenizer()
    torch.manual_seed(0)
    transformer = WanTransformer3DModel(in_channels=16, **_WAN_TRANSFORMER)
    pipe = WanPipeline(tokenizer=tokenizer, text_encoder=_umt5_encoder(len(tokenizer)), vae=_wan_vae(),
                       scheduler=_wan_scheduler(flow_shift=3.0), transformer=transformer)
    return _save(pipe, folder)


def save_tiny_wan22_ti2v(folder: Path) -> Path:
    """Wan 2.2 TI2V-5B-style text-to-video (WanPipeline): the 16x VAE and a timestep per latent patch.

    Laid out as the real repo is: the Wan 2.2 VAE (z_dim 48, residual, 2x2 patchified, 16x spatial / 4x temporal:
    `scale_factor_spatial=16`), a 48-channel transformer, no `transformer_2`, and `expand_timesteps` in
    model_index.json. Sizes from diffusers' `tests/pipelines/wan/test_wan_22.py`.
    """
    import torch
    from diffusers import AutoencoderKLWan, WanPipeline, WanTransformer3DModel

    tokenizer = _tokenizer()
    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=3, z_dim=48, in_channels=12, out_channels=12, is_residual=True, patch_size=2,
                           latents_mean=[0.0] * 48, latents_std=[1.0] * 48, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           scale_factor_spatial=16, scale_factor_temporal=4, temperal_downsample=[False, True, True])
    torch.manual_seed(0)
    transformer = WanTransformer3DModel(in_channels=48, **{**_WAN_TRANSFORMER, "out_channels": 48})
    pipe = WanPipeline(tokenizer=tokenizer, text_encoder=_umt5_encoder(len(tokenizer)), vae=vae,
                       scheduler=_wan_scheduler(flow_shift=3.0), transformer=transformer, expand_timesteps=True)
    return _save(pipe, folder)


def save_tiny_wan22_t2v(folder: Path) -> Path:
    """Wan 2.2 T2V-A14B-style text-to-video (WanPipeline) with two experts: `transformer_2` takes the low-noise
    steps after `boundary_ratio` (0.875, as the real model_index.json says)."""
    import torch
    from diffusers import WanPipeline, WanTransformer3DModel

    def expert(seed: int) -> WanTransformer3DModel:
        torch.manual_seed(seed)
        return WanTransformer3DModel(in_channels=16, **_WAN_TRANSFORMER)

    tokenizer = _tokenizer()
    pipe = WanPipeline(tokenizer=tokenizer, text_encoder=_umt5_encoder(len(tokenizer)), vae=_wan_vae(),
                       scheduler=_wan_scheduler(flow_shift=3.0), transformer=expert(0), transformer_2=expert(1),
                       boundary_ratio=0.875)
    return _save(pipe, folder)


def save_tiny_wan_i2v(folder: Path) -> Path:
    """Wan 2.2 A14B-style image-to-video (WanImageToVideoPipeline): no CLIP image encoder, two experts.

    Wan 2.2 dropped Wan 2.1's CLIP image encoder; the first frame enters as VAE latents concatenated to the noise
    (16 noise + 4 mask + 16 image channels in), and `boundary_ratio` hands the low-noise steps to `transformer_2`.
    """
    import torch
    from diffusers import WanImageToVideoPipeline, WanTransformer3DModel

    def expert(seed: int) -> WanTransformer3DModel:
        torch.manual_seed(seed)
        return WanTransformer3DModel(in_channels=36, **_WAN_TRANSFORMER)

    tokenizer = _tokenizer()
    pipe = WanImageToVideoPipeline(
        tokenizer=tokenizer, text_encoder=_umt5_encoder(len(tokenizer)), vae=_wan_vae(),
        scheduler=_wan_scheduler(flow_shift=5.0), transformer=expert(0), transformer_2=expert(1), boundary_ratio=0.9,
    )
    return _save(pipe, folder)


def save_tiny_wan_vace(folder: Path) -> Path:
    """Wan 2.1 VACE-style all-in-one pipeline (WanVACEPipeline): one model for text, image, extend and video-to-video.

    The mode is picked by the call, not the weights: `video` frames plus a `mask` (white = generate, black = keep)
    enter as control latents beside the noise, and `reference_images` are prepended as extra latent frames.
    The control branch sees the masked-out and masked-in video latents (16 + 16 channels) plus the mask folded to
    the latent grid (8 x 8 = 64 channels), hence 96 `vace_in_channels`; `vace_layers` must include layer 0.
    It does not load as WanPipeline / WanVideoToVideoPipeline via from_pipe: its transformer is a different class.
    """
    import torch
    from diffusers import WanVACEPipeline, WanVACETransformer3DModel

    tokenizer = _tokenizer()
    torch.manual_seed(0)
    transformer = WanVACETransformer3DModel(in_channels=16, vace_layers=[0, 1], vace_in_channels=16 + 16 + 8 * 8,
                                            **_WAN_TRANSFORMER)
    pipe = WanVACEPipeline(tokenizer=tokenizer, text_encoder=_umt5_encoder(len(tokenizer)), vae=_wan_vae(),
                           scheduler=_wan_scheduler(flow_shift=3.0), transformer=transformer)
    return _save(pipe, folder)


def save_tiny_ltx(folder: Path, *, dynamic_shifting: bool = False) -> Path:
    """LTX-Video text-to-video (LTXPipeline). Also loads as LTXImageToVideoPipeline / LTXConditionPipeline.

    dynamic_shifting=True writes the scheduler config of the first LTX-Video releases, with which
    LTXConditionPipeline (made for 0.9.5+, which ships it False) fails: "`mu` must be passed ...".
    """
    import torch
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )

    tokenizer = _tokenizer()
    text_encoder = _t5_encoder(len(tokenizer))

    # patch_size=4 and three spatio-temporal scaling stages = the real 32x spatial / 8x temporal compression.
    torch.manual_seed(0)
    vae = AutoencoderKLLTXVideo(
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, True, False),
        decoder_spatio_temporal_scaling=(True, True, True, False),
        patch_size=4,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )

    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=4,
        attention_head_dim=8,
        cross_attention_dim=32,
        num_layers=1,
        caption_channels=_TEXT_DIM,
    )

    # LTX-Video's shipped scheduler settings.
    scheduler = FlowMatchEulerDiscreteScheduler(
        base_image_seq_len=1024,
        base_shift=0.95,
        max_image_seq_len=4096,
        max_shift=2.05,
        shift_terminal=0.1,
        use_dynamic_shifting=dynamic_shifting,
    )

    pipe = LTXPipeline(
        scheduler=scheduler, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, transformer=transformer
    )
    return _save(pipe, folder)


def save_tiny_cogvideox15(folder: Path) -> Path:
    """CogVideoX1.5-5B-style text-to-video: rotary embeddings and `patch_size_t: 2`, as its transformer config says."""
    return save_tiny_cogvideox(folder, patch_size_t=2, use_rotary_positional_embeddings=True)


def save_tiny_cogvideox_i2v(folder: Path) -> Path:
    """CogVideoX-5b-I2V-style image-to-video (CogVideoXImageToVideoPipeline): the image latents concatenated to the
    noise (twice the channels in) and a learned positional embedding (`use_learned_positional_embeddings`)."""
    return save_tiny_cogvideox(folder, image=True, use_rotary_positional_embeddings=True,
                               use_learned_positional_embeddings=True)


def save_tiny_cogvideox(folder: Path, *, image: bool = False, **flags: Any) -> Path:
    """CogVideoX-2b-style text-to-video (CogVideoXPipeline). Also loads as CogVideoXVideoToVideoPipeline.

    `flags` are the transformer config keys that tell the real checkpoints apart; `image` builds the I2V class."""
    import torch
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXDDIMScheduler,
        CogVideoXImageToVideoPipeline,
        CogVideoXPipeline,
        CogVideoXTransformer3DModel,
    )

    tokenizer = _tokenizer()
    text_encoder = _t5_encoder(len(tokenizer))

    # Four blocks (three downsamples) = the real 8x spatial; temporal 4x as in CogVideoX 1.0.
    torch.manual_seed(0)
    vae = AutoencoderKLCogVideoX(
        block_out_channels=(8, 8, 8, 8),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=2,
        temporal_compression_ratio=4,
    )

    torch.manual_seed(0)
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=4,
        # heads*dim a multiple of 16 for the 3D sincos embedding; with rotary embeddings (1.5, I2V), the head dim
        # itself a multiple of 16, as its height and width parts are 3/8 of it each and must be even.
        attention_head_dim=16 if flags.get("use_rotary_positional_embeddings") else 8,
        in_channels=8 if image else 4,
        out_channels=4,
        time_embed_dim=2,
        text_embed_dim=_TEXT_DIM,
        num_layers=1,
        # 1.5's rotary embeddings are sliced from a grid this big (in latent cells): cover 96x64 and a few seconds.
        sample_width=16 if flags.get("patch_size_t") else 4,
        sample_height=16 if flags.get("patch_size_t") else 4,
        sample_frames=49 if flags.get("patch_size_t") else 9,
        patch_size=2,
        temporal_compression_ratio=4,
        max_text_seq_length=226,  # the pipeline's default max_sequence_length, so callers need not pass it
        **flags,
    )

    # CogVideoX-2b's shipped scheduler settings.
    scheduler = CogVideoXDDIMScheduler(
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        prediction_type="v_prediction",
        rescale_betas_zero_snr=True,
        set_alpha_to_one=True,
        snr_shift_scale=3.0,
        timestep_spacing="trailing",
    )

    pipe = (CogVideoXImageToVideoPipeline if image else CogVideoXPipeline)(
        tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, transformer=transformer, scheduler=scheduler
    )
    return _save(pipe, folder)


def write_not_a_model(folder: Path) -> Path:
    """A folder with files in it but no model_index.json: the engine must refuse it, not crash."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "README.md").write_text("Holiday photos, not a model.\n")
    (folder / "notes.txt").write_text("nothing to see here\n")
    (folder / "weights.bin").write_bytes(b"\x00\x01junk" * 16)
    return folder


def write_unknown_class(folder: Path) -> Path:
    """A folder whose model_index.json names a pipeline class the engine does not support (an image pipeline)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    index = {
        "_class_name": "StableDiffusionPipeline",
        "_diffusers_version": "0.42.1",
        "scheduler": ["diffusers", "PNDMScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
    }
    (folder / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")
    return folder


def _gemma_tokenizer() -> Any:
    """A Gemma-style BPE tokenizer over the same whole words as `_tokenizer`, with no merges: each word and each
    letter is a token of its own (GemmaTokenizer is tokenizers-backed in transformers 5, so nothing is downloaded)."""
    from transformers import GemmaTokenizer

    tokens = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "\u2581"]
    tokens += [f"\u2581{word}" for word in _WORDS] + list("abcdefghijklmnopqrstuvwxyz0123456789")
    return GemmaTokenizer(vocab={token: i for i, token in enumerate(tokens)}, merges=[])


def save_tiny_ltx2(folder: Path) -> Path:
    """LTX-2 text-to-video with sound (LTX2Pipeline). Also loads as LTX2ImageToVideoPipeline via from_pipe.

    Its parts as diffusers' tests/pipelines/ltx2 lay them out: a Gemma 3 text encoder (a tiny one built from a
    config, with a minute vision tower it never uses), the text connectors that feed its hidden states to the video
    and audio streams, the joint audio-video transformer, the video VAE (the real 32x spatial / 8x temporal: patch 4,
    then spatial, temporal and two spatio-temporal stages), the mel-spectrogram audio VAE and the vocoder, whose
    upsampling (10 x 16) matches the mel hop (160 at 16 kHz) so that its waveform runs at 16 kHz as the clip's
    length says.
    """
    import torch
    from diffusers import (
        AutoencoderKLLTX2Audio,
        AutoencoderKLLTX2Video,
        FlowMatchEulerDiscreteScheduler,
        LTX2Pipeline,
        LTX2VideoTransformer3DModel,
    )
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    tokenizer = _gemma_tokenizer()
    image_token = len(tokenizer)  # past the vocabulary: no prompt holds one
    text = {"vocab_size": len(tokenizer), "hidden_size": _TEXT_DIM, "intermediate_size": 32, "num_hidden_layers": 2,
            "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 8, "max_position_embeddings": 1024,
            "sliding_window": 64}
    vision = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
              "image_size": 28, "patch_size": 14}
    torch.manual_seed(0)
    text_encoder = Gemma3ForConditionalGeneration(Gemma3Config(
        text_config=text, vision_config=vision, mm_tokens_per_image=4, boi_token_index=image_token,
        eoi_token_index=image_token, image_token_index=image_token)).eval()

    torch.manual_seed(0)
    transformer = LTX2VideoTransformer3DModel(
        in_channels=4, out_channels=4, patch_size=1, patch_size_t=1, num_attention_heads=2, attention_head_dim=8,
        cross_attention_dim=16, audio_in_channels=4, audio_out_channels=4, audio_num_attention_heads=2,
        audio_attention_head_dim=4, audio_cross_attention_dim=8, num_layers=1, qk_norm="rms_norm_across_heads",
        caption_channels=_TEXT_DIM, rope_double_precision=False, rope_type="split",
    )
    # Without per-modality projections the connectors project back to the text width: heads x dim = _TEXT_DIM.
    torch.manual_seed(0)
    connector = {"num_attention_heads": 4, "attention_head_dim": 8, "num_layers": 1, "num_learnable_registers": None}
    connectors = LTX2TextConnectors(
        caption_channels=_TEXT_DIM, text_proj_in_factor=text["num_hidden_layers"] + 1,
        **{f"{stream}_connector_{name}": value for stream in ("video", "audio") for name, value in connector.items()},
        connector_rope_base_seq_len=32, rope_theta=10000.0, rope_double_precision=False,
        causal_temporal_positioning=False, rope_type="split",
    )
    torch.manual_seed(0)
    vae = AutoencoderKLLTX2Video(
        latent_channels=4, block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1), decoder_layers_per_block=(1, 1, 1, 1), upsample_residual=(False,) * 3,
        upsample_factor=(1, 1, 1), spatial_compression_ratio=32, temporal_compression_ratio=8,
    )
    torch.manual_seed(0)
    audio_vae = AutoencoderKLLTX2Audio(
        base_channels=4, output_channels=2, ch_mult=(1,), num_res_blocks=1, attn_resolutions=None, in_channels=2,
        resolution=32, latent_channels=2, norm_type="pixel", causality_axis="height", dropout=0.0,
        mid_block_add_attention=False, sample_rate=16000, mel_hop_length=160, is_causal=True, mel_bins=8,
    )
    torch.manual_seed(0)
    vocoder = LTX2Vocoder(
        in_channels=2 * 8, hidden_channels=32, out_channels=2, upsample_kernel_sizes=[20, 32],
        upsample_factors=[10, 16], resnet_kernel_sizes=[3], resnet_dilations=[[1, 3, 5]], leaky_relu_negative_slope=0.1,
        output_sampling_rate=16000,
    )
    pipe = LTX2Pipeline(scheduler=FlowMatchEulerDiscreteScheduler(), vae=vae, audio_vae=audio_vae,
                        text_encoder=text_encoder, tokenizer=tokenizer, connectors=connectors, transformer=transformer,
                        vocoder=vocoder)
    return _save(pipe, folder)


def save_tiny_stable_audio(folder: Path) -> Path:
    """Stable Audio Open-style text-to-audio (StableAudioPipeline), for `--audio-model`: the T5 text encoder, the
    projection of text and seconds, the DiT and the Oobleck VAE, as diffusers' tests/pipelines/stable_audio lays them
    out. The VAE runs at 8 samples a second and the DiT's 16 latent samples (2 waveform samples each) hold 4 s, so a
    clip of up to 4 s gets sound of its own length; the engine resamples it to the MP4's rate."""
    import torch
    from diffusers import (
        AutoencoderOobleck,
        CosineDPMSolverMultistepScheduler,
        StableAudioDiTModel,
        StableAudioPipeline,
        StableAudioProjectionModel,
    )

    tokenizer = _tokenizer()
    tokenizer.model_max_length = 32  # the pipeline pads prompts to it (Stable Audio Open's T5: 128)
    torch.manual_seed(0)
    transformer = StableAudioDiTModel(
        sample_size=16, in_channels=3, num_layers=2, attention_head_dim=4, num_key_value_attention_heads=2,
        out_channels=3, cross_attention_dim=4, time_proj_dim=8, global_states_input_dim=8, cross_attention_input_dim=4,
    )
    # Stable Audio Open's scheduler: its Brownian noise comes from torchsde (requirements-diffusers.txt).
    scheduler = CosineDPMSolverMultistepScheduler(solver_order=2, prediction_type="v_prediction", sigma_data=1.0,
                                                  sigma_schedule="exponential")
    torch.manual_seed(0)
    vae = AutoencoderOobleck(encoder_hidden_size=6, downsampling_ratios=[1, 2], decoder_channels=3,
                             decoder_input_channels=3, audio_channels=2, channel_multiples=[2, 4], sampling_rate=8)
    torch.manual_seed(0)
    projection_model = StableAudioProjectionModel(text_encoder_dim=_TEXT_DIM, conditioning_dim=4, min_value=0,
                                                  max_value=32)
    pipe = StableAudioPipeline(vae=vae, text_encoder=_t5_encoder(len(tokenizer)), projection_model=projection_model,
                               tokenizer=tokenizer, transformer=transformer, scheduler=scheduler)
    return _save(pipe, folder)
