"""The model families the diffusers engine serves, keyed by the pipeline class in `model_index.json`.

A family says which diffusers pipeline does each of the contract's modes. Companion pipelines are built
from the loaded one (engine.py's `_sharing`), so they share its weights: a second mode costs no second copy.

How the contract maps onto them:
- create: text-to-video; with `input_reference`, image-to-video with the image as the first frame.
- remix and edits: video-to-video from the source's VAE latents, noised to the request's `strength`
  (`VIDEO_TO_VIDEO_STRENGTH` when left out), then denoised with the new prompt. `source_as` says who does it.
- keyframes (`inpaint_items`): images (and clips) placed at frames; a first and a last image make the model
  interpolate between them (Wan's first-and-last-frame through `last_image`, LTX's conditions at frame indexes,
  VACE's known frames under its mask).
- extensions: conditioned on the source's last frames (one, as image-to-video's first frame, unless the family
  takes more); the new frames are joined to the source.
Wan VACE does all of these in one pipeline: the reference or the source's last frames are known frames under
a mask, and remix and edits give it the whole source as context, every frame to be made anew.
"""

from __future__ import annotations

from dataclasses import dataclass

# How far video-to-video moves from the source: 0 keeps it, 1 ignores it. 0.7 keeps the layout and motion
# of the source while letting the prompt change its look and content.
VIDEO_TO_VIDEO_STRENGTH = 0.7


@dataclass(frozen=True)
class Family:
    name: str
    fps: int  # the rate the family was trained at
    sizes: tuple[str, ...]  # native sizes, served unless --models says otherwise
    text: str | None = None  # pipeline class for text-to-video
    image: str | None = None  # image-to-video: the reference is the first frame (also extends a clip)
    video: str | None = None  # video-to-video (remix, edit)
    # How the source enters video-to-video:
    # - "frames": the pipeline takes the frames and `strength`, and encodes and noises them itself (CogVideoX);
    # - "latents": the pipeline takes the source's latents and `denoise_strength`, and noises them (LTX's
    #   LTXConditionPipeline; a list of frames there would be one condition per frame, of which it keeps one);
    # - "noised_latents": the engine noises the latents to `strength` and runs the text pipeline over the rest
    #   of its schedule (Wan: WanVideoToVideoPipeline runs only the first expert and assumes the 8x VAE, while
    #   WanPipeline switches experts at `boundary_ratio` and knows TI2V-5B's 16x VAE and per-patch timesteps);
    # - "schedule": the pipeline takes the source's latents, the tail of the sigma schedule from `strength` on and
    #   the noise level it starts at, and noises them itself (LTX-2's LTX2ConditionPipeline).
    source_as: str = "frames"
    extend: str | None = None  # pipeline class for extensions; None: the image-to-video one
    # Source frames an extension is conditioned on (the most; fewer when the source is shorter), as whole
    # latent frames: more than one carries the motion across the seam, where the family can take them.
    extend_context: int = 1
    # Frames per latent step when the model's own attributes understate it (CogVideoX takes 8k+1).
    frame_step: int | None = None
    # One VACE pipeline does every mode: known frames and a mask say what to keep and what to make.
    vace: bool = False
    vram: str = ""  # published figures, for the README and /v1/models notes
    # Keyframes (`inpaint_items`): the pipeline class that places images (and, where `keyframe_types` says, clips)
    # at frames; `keyframes_at_ends` when it takes only a first and a last frame (Wan's first-and-last-frame).
    keyframes: str | None = None
    keyframe_types: tuple[str, ...] = ("image",)
    keyframes_at_ends: bool = False
    # The keyframe pipeline places conditions at latent frames (LTX-2's LTX2VideoCondition `index`): at made frame 0
    # or at the first frame of a later latent frame (1, 9, 17, ... for 8 frames a latent), not at any frame.
    latent_conditions: bool = False
    # The pipeline makes a soundtrack with the video (LTX-2: audio and video denoised together); its output
    # carries `audio`, a waveform at the vocoder's rate, muxed into the MP4.
    sound: bool = False

    @property
    def modes(self) -> tuple[str, ...]:
        modes = []
        if self.text:
            modes.append("text")
        if self.image:
            modes += ["image"]
        if self.video:
            modes += ["remix", "edit"]
        if self.extend_with:
            modes.append("extend")
        if self.keyframes:
            modes.append("keyframes")
        return tuple(modes)

    @property
    def extend_with(self) -> str | None:
        return self.extend or self.image


_WAN_SIZES = ("832x480", "480x832", "1280x720", "720x1280")
_WAN_T2V = Family("Wan", 16, _WAN_SIZES, text="WanPipeline", video="WanPipeline", source_as="noised_latents")
# Wan2.2-TI2V-5B: one checkpoint for text and image: WanImageToVideoPipeline with `expand_timesteps` puts the
# image's latents in the first latent frame (no CLIP encoder, no extra channels). Its profile picks this family.
WAN_TI2V = Family("Wan", 24, _WAN_SIZES, text="WanPipeline", image="WanImageToVideoPipeline", video="WanPipeline",
                  source_as="noised_latents")
# Its `last_image` makes the first-and-last-frame interpolation (FLF2V) on an image-to-video checkpoint too.
_WAN_I2V = Family("Wan", 16, _WAN_SIZES, image="WanImageToVideoPipeline", keyframes="WanImageToVideoPipeline",
                  keyframes_at_ends=True)
# VACE marks known frames per pixel frame; 4k+1 of them are whole latent frames.
_WAN_VACE = Family("Wan VACE", 16, _WAN_SIZES, text="WanVACEPipeline", image="WanVACEPipeline",
                   video="WanVACEPipeline", vace=True, extend_context=5, keyframes="WanVACEPipeline",
                   keyframe_types=("image", "video"))
# LTXConditionPipeline also extends: the source's last 9 frames (two latent frames) as a video condition.
_LTX = Family("LTX-Video", 24, ("768x512", "512x768", "1216x704", "704x1216"), text="LTXPipeline",
              image="LTXImageToVideoPipeline", video="LTXConditionPipeline", source_as="latents",
              extend="LTXConditionPipeline", extend_context=9, keyframes="LTXConditionPipeline",
              keyframe_types=("image", "video"))
_COG_T2V = Family("CogVideoX", 8, ("720x480",), text="CogVideoXPipeline", video="CogVideoXVideoToVideoPipeline",
                  frame_step=8)
_COG_I2V = Family("CogVideoX", 8, ("720x480",), image="CogVideoXImageToVideoPipeline", frame_step=8)
# LTX-2: audio and video in one denoising pass, through an audio VAE and a vocoder. LTX2ConditionPipeline does the
# rest: remix and edits from the source's latents, keyframes as conditions at latent frames, and extensions from the
# source's last 9 frames (two latent frames) as a condition at frame 0.
_LTX2 = Family("LTX-2", 24, ("768x512", "512x768", "1280x704", "704x1280"), text="LTX2Pipeline",
               image="LTX2ImageToVideoPipeline", video="LTX2ConditionPipeline", source_as="schedule",
               extend="LTX2ConditionPipeline", extend_context=9, keyframes="LTX2ConditionPipeline",
               keyframe_types=("image", "video"), latent_conditions=True, sound=True)

# model_index.json's `_class_name` -> family. A folder saved from any pipeline of a family serves all of
# the modes its weights allow.
FAMILIES: dict[str, Family] = {
    "WanPipeline": _WAN_T2V,
    "WanVideoToVideoPipeline": _WAN_T2V,
    "WanImageToVideoPipeline": _WAN_I2V,
    "WanVACEPipeline": _WAN_VACE,
    "LTXPipeline": _LTX,
    "LTXImageToVideoPipeline": _LTX,
    "LTXConditionPipeline": _LTX,
    "LTX2Pipeline": _LTX2,
    "LTX2ImageToVideoPipeline": _LTX2,
    "LTX2ConditionPipeline": _LTX2,
    "CogVideoXPipeline": _COG_T2V,
    "CogVideoXVideoToVideoPipeline": _COG_T2V,
    "CogVideoXImageToVideoPipeline": _COG_I2V,
}
