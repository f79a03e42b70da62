"""The diffusers engine: real video from open-weights models (Wan, LTX-Video, CogVideoX) on this machine.

One pipeline is loaded at start-up and kept warm; jobs run one at a time on its device. Progress follows the
denoising steps, then the encode; a deleted job stops at its next step. The pipeline runs at a size and a
frame count its model takes (multiples of its latent grid), and the writer delivers exactly the size and
duration asked for.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import inspect
import json
import logging
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import diffusers
import huggingface_hub
import numpy as np
import torch
from PIL import Image

from localsora.config import Settings
from localsora.encode import AUDIO_RATE, clip_samples, fitted_audio, write_clip
from localsora.engines import EngineUnavailable
from localsora.engines.base import (
    AUDIO_PROMPT,
    FPS,
    GUIDANCE,
    NEGATIVE_PROMPT,
    NUM_FRAMES,
    SEED,
    SOUND,
    STEPS,
    STRENGTH,
    Capabilities,
    Engine,
    JobFailed,
    Keyframe,
    ProgressCallback,
    RenderRequest,
    RequestRefused,
)
from localsora.engines.diffusers.accelerate import Accelerated
from localsora.engines.diffusers.families import FAMILIES, VIDEO_TO_VIDEO_STRENGTH, Family
from localsora.engines.diffusers.memory import quantized_load
from localsora.engines.diffusers.profiles import CheckpointProfile, profile_for, read_layout
from localsora.frames import Planes, planes_from_rgb, rgb_from_planes
from localsora.media import decoded_audio, load_picture, placed_clip_frames, probe_video, source_frames

LTXVideoCondition = diffusers.pipelines.ltx.pipeline_ltx_condition.LTXVideoCondition
LTX2VideoCondition = diffusers.pipelines.ltx2.pipeline_ltx2_condition.LTX2VideoCondition
_ltx2_shift = diffusers.pipelines.ltx2.pipeline_ltx2_condition.calculate_shift

log = logging.getLogger("localsora.diffusers")

# Shares of a job's progress: the denoising steps, then the VAE decode (inside the pipeline), then the encode.
DENOISE_SHARE, DECODE_SHARE = 0.9, 0.02
# Arguments only some pipelines take: passed where the pipeline's __call__ names them.
# Text-to-audio pipelines --audio-model takes: they make `audios` for `audio_end_in_s` seconds from a prompt.
_AUDIO_PIPELINES = ("StableAudioPipeline",)
_OPTIONAL = {"guidance_scale_2", "frame_rate", "decode_timestep", "decode_noise_scale", "timesteps"}


class DiffusersEngine(Engine):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        location = settings.model or ""
        folder, index = _model_index(location)
        class_name = str(index.get("_class_name"))
        if class_name not in FAMILIES:
            raise EngineUnavailable(
                f"{location} holds a {class_name}, which the diffusers engine does not serve. "
                f"Supported pipelines: {', '.join(FAMILIES)}."
            )
        layout = read_layout(folder, index)
        self.profile: CheckpointProfile = profile_for(layout)
        self.family = family = self.profile.family
        self.device = _device(settings.device)
        self.dtype = _dtype(settings.dtype, self.device)
        # Components the checkpoint keeps in another precision (Wan's VAE in float32), the rest in --dtype.
        kept = {name: getattr(torch, kind) for name, kind in self.profile.dtypes.items()}
        dtypes: Any = {"default": self.dtype, **kept} if kept else self.dtype
        log.info("loading %s (%s, profile %s) on %s as %s", location, class_name, self.profile.name, self.device,
                 dtypes)
        quantized = quantized_load(settings.quantize, set(layout.components))
        try:
            pipe = getattr(diffusers, class_name).from_pretrained(location, dtype=dtypes, **quantized)
        except (OSError, ValueError, RuntimeError) as exc:
            raise EngineUnavailable(f"Could not load the pipeline in {location}: {exc}") from exc
        # --memory, --weights, --attention, --cache, --compile and --lora; a distill LoRA brings its defaults.
        self.accelerated = Accelerated(pipe, settings, self.device, self.dtype)
        self.profile = self.accelerated.profile(self.profile)
        pipe.set_progress_bar_config(disable=True)
        self.pipe = pipe
        self._companions: dict[str, Any] = {class_name: self.pipe}
        self._device_lock = threading.Lock()  # one job at a time on a device
        self.spatial_multiple, self.latent_temporal = _latent_grid(self.pipe)  # pixels and frames per latent cell
        self.frame_step = self.profile.frame_step or self.latent_temporal
        self.fps = self.profile.fps
        if family.sound and settings.audio_model:
            log.info("%s makes its own sound; --audio-model %s is not loaded", self.profile.name, settings.audio_model)
        self.soundtrack = _soundtrack(settings, self.device, self.dtype) if not family.sound else None
        self._sound: _Sound | None = None  # what the last pipeline call made besides frames (LTX-2's audio)
        name = _display_name(location)
        durations = self._durations(settings, "durations")
        extension_durations = self._durations(settings, "extension_durations")
        self._capabilities = Capabilities(
            engine="diffusers",
            serving=f"{name} on {self.device}",
            models=dict(settings.models or {name: self.profile.sizes}),
            modes=family.modes,
            durations=durations,
            extension_durations=extension_durations,
            fps=self.fps,
            audio=family.sound or self.soundtrack is not None,
            parameters=(SEED, NEGATIVE_PROMPT, STEPS, GUIDANCE, FPS, NUM_FRAMES,
                        *((STRENGTH,) if family.video and not family.vace else ()), *self.accelerated.parameters,
                        *((SOUND,) if family.sound else (SOUND, AUDIO_PROMPT) if self.soundtrack else ())),
            max_parallel=1,
            notes=f"{_profile_notes(self.profile, class_name)} {self._sound_notes()} {_mode_notes(family)}",
            profile=self.profile.summary(self.frame_step),
            acceleration=self.accelerated.summary(),
        )

    def _durations(self, settings: Settings, name: str) -> tuple[str, ...]:
        """The offered seconds: the checkpoint's trained length, unless --durations (or --extension-durations)
        says otherwise; an override must come to a frame count the model takes."""
        chosen: tuple[str, ...] = getattr(settings, name)
        if name in settings.model_fields_set or self.profile.seconds is None:
            for seconds in chosen:
                count = self._frames_for(round(float(seconds) * self.fps))
                if not 1 <= count <= (NUM_FRAMES.maximum or math.inf):
                    flag = "--" + name.replace("_", "-")
                    raise EngineUnavailable(
                        f"{flag} {seconds} is {count} frames at {self.fps} fps; {self.profile.name} takes "
                        f"{self.frame_step}k+1 frames, from 1 to {NUM_FRAMES.maximum:.0f}.")
            return tuple(chosen)
        return self.profile.seconds

    def _sound_notes(self) -> str:
        if self.family.sound:
            return ("The model makes sound with the video: a new clip (text, image, keyframes) carries it as an AAC "
                    "track of the clip's length; a remix or edit keeps the source's sound (the model's where the "
                    "source has none); an extension keeps the source's sound and adds the model's under the new part.")
        if self.soundtrack is not None:
            return ("A soundtrack from --audio-model, made from the prompt, goes into every clip as an AAC track "
                    "of the clip's length.")
        return "This model makes no sound: the MP4s have no audio track."

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    # ------------------------------------------------------------------------------------------ planning

    def check(self, request: RenderRequest) -> None:
        super().check(request)
        fps = request.fps or self.fps
        if round(request.seconds * fps) < 1:
            raise RequestRefused(f"{request.seconds:g} s at {fps} fps is not one frame.", param="seconds")
        if request.num_frames is not None and not self._valid_frames(request.num_frames):
            below = max(1, (request.num_frames - 1) // self.frame_step * self.frame_step + 1)
            raise RequestRefused(
                f"'num_frames' must be {self.frame_step}k+1 for this model (for example {below} or "
                f"{below + self.frame_step}); got {request.num_frames}.", param="num_frames",
            )

        if request.strength is not None and request.mode not in ("remix", "edit"):
            raise RequestRefused("'strength' says how far a remix or edit moves from its source; this request "
                                 "has no source video to follow. Leave it out.", param="strength")
        if self.profile.fixed:
            self._check_fixed(request, fps)

    def _check_fixed(self, request: RenderRequest, fps: int) -> None:
        """A checkpoint with a learned positional embedding runs only at its trained size and frame count."""
        profile = self.profile
        if f"{request.width}x{request.height}" not in profile.sizes:
            raise RequestRefused(
                f"{profile.name} runs only at {', '.join(profile.sizes)} (its learned positional embedding); "
                f"got {request.width}x{request.height}.", param="size")
        delivered = max(1, round(request.seconds * fps))
        if request.num_frames is not None:
            count = request.num_frames
        elif request.mode == "extend":
            count = self._frames_for(delivered + 1)
        elif request.mode == "generate":
            count = self._frames_for(delivered)
        else:  # remix and edits follow the source's length, known only at render
            return
        if count != profile.frames:
            seconds = ", ".join(f"'{s}'" for s in profile.seconds or ())
            raise RequestRefused(
                f"{profile.name} makes only {profile.frames} frames (its learned positional embedding): "
                f"seconds {seconds} at {profile.fps} fps, or num_frames {profile.frames}; this request needs "
                f"{count}.", param="num_frames" if request.num_frames is not None else "seconds")

    def check_keyframes(self, placed: list[Keyframe], total: int) -> None:
        family = self.family
        for keyframe in placed:
            if keyframe.type not in family.keyframe_types:
                raise RequestRefused(f"{self._capabilities.serving} places only {' and '.join(family.keyframe_types)}s "
                                     f"at frames; '{keyframe.param}.type' is {keyframe.type!r}.",
                                     param=f"{keyframe.param}.type")
            if family.keyframes_at_ends and keyframe.frame_index not in (0, total - 1):
                raise RequestRefused(
                    f"{family.name} interpolates from a first frame to a last: it places images at frame 0 and at "
                    f"frame {total - 1} (-1) only; '{keyframe.param}.frame_index' is {keyframe.frame_index}.",
                    param=f"{keyframe.param}.frame_index")
        if family.keyframes_at_ends and len({k.frame_index for k in placed}) < len(placed):
            raise RequestRefused(f"{family.name} takes one image at each end; two are placed at one frame.",
                                 param="inpaint_items")
        if family.keyframes_at_ends and placed[0].frame_index != 0:
            raise RequestRefused(f"{family.name} starts from a first frame: place an image at frame 0 too.",
                                 param="inpaint_items")

    def _valid_frames(self, count: int) -> bool:
        return count >= 1 and (count - 1) % self.frame_step == 0

    def _frames_for(self, delivered: int) -> int:
        """The smallest frame count the model takes that covers `delivered` frames."""
        return math.ceil(max(0, delivered - 1) / self.frame_step) * self.frame_step + 1

    def _video_frames_for(self, delivered: int) -> int:
        """For video-to-video: as `_frames_for`, with whole latent patches. The text and image pipelines pad the
        latent frames to the transformer's `patch_size_t` (2 on CogVideoX1.5) themselves; the video pipelines
        encode the frames they are given, so the count must already make an even number of latent frames."""
        count = self._frames_for(delivered)
        patch = getattr(self.pipe.transformer.config, "patch_size_t", None) or 1
        temporal = self.latent_temporal
        while ((count - 1) // temporal + 1) % patch:
            count += temporal
        return count

    def _working_size(self, width: int, height: int) -> tuple[int, int]:
        step = self.spatial_multiple
        return max(step, round(width / step) * step), max(step, round(height / step) * step)

    # ------------------------------------------------------------------------------------------ rendering

    def render(self, request: RenderRequest, out_dir: Path, on_progress: ProgressCallback) -> None:
        self.check(request)
        fps = request.fps or self.fps
        with self._device_lock:
            try:
                self.accelerated.before_job(request)
                self._sound = None
                frames, total = self._frames(request, fps, on_progress)
                sound = self._clip_sound(request, total / fps)
            except torch.OutOfMemoryError as exc:
                _free_memory(self.device)
                raise self._out_of_memory(request) from exc
            except RuntimeError as exc:
                if "out of memory" not in str(exc).lower():  # MPS says it this way
                    raise
                _free_memory(self.device)
                raise self._out_of_memory(request) from exc
        on_progress(DENOISE_SHARE + DECODE_SHARE)
        encode_from = DENOISE_SHARE + DECODE_SHARE
        audio = None if sound is None else lambda: fitted_audio(sound.wave, sound.rate, clip_samples(total, fps))
        write_clip(out_dir, frames, total, width=request.width, height=request.height, fps=fps, audio=audio,
                   on_frame=lambda done: on_progress(encode_from + (1 - encode_from) * done / total))

    def _clip_sound(self, request: RenderRequest, seconds: float) -> _Sound | None:
        """The clip's sound: where the model makes sound, what `_frames` left for the whole clip (see
        `_sound_notes`), else the --audio-model's; none where the request says `sound: false`."""
        if request.sound is False:
            return None
        if self.family.sound:
            return self._sound
        if self.soundtrack is None:
            return None
        # The model makes at most what its DiT holds (Stable Audio Open: 47 s); the writer pads a longer clip's rest.
        longest = (self.soundtrack.transformer.config.sample_size * self.soundtrack.vae.hop_length
                   / self.soundtrack.vae.sampling_rate)
        output = self.soundtrack(
            prompt=request.audio_prompt or request.prompt, audio_end_in_s=min(seconds, longest),
            generator=torch.Generator("cpu").manual_seed(request.seed or 0),
            **({} if request.num_inference_steps is None else {"num_inference_steps": request.num_inference_steps}),
        )
        return _Sound(_numpy(output.audios[0]), int(self.soundtrack.vae.sampling_rate))

    def _out_of_memory(self, request: RenderRequest) -> JobFailed:
        return JobFailed(
            "out_of_memory",
            f"{self._capabilities.serving} ran out of memory rendering {request.width}x{request.height} for "
            f"{request.seconds:g} s. {self.accelerated.remedies()}",
        )

    def _frames(self, request: RenderRequest, fps: int, on_progress: ProgressCallback) -> tuple[list[Planes], int]:
        """Every frame of the delivered clip at the requested size, and how many there are."""
        width, height = self._working_size(request.width, request.height)
        delivered = max(1, round(request.seconds * fps))
        call: dict[str, Any] = {
            "prompt": request.prompt, "height": height, "width": width,
            "generator": torch.Generator("cpu").manual_seed(request.seed or 0),
            "output_type": "np", "callback_on_step_end": _step_callback(on_progress),
        }
        profile = self.profile  # what a request leaves out, the checkpoint's own defaults fill in
        defaults = {"negative_prompt": profile.negative_prompt, "num_inference_steps": profile.steps,
                    "guidance_scale": profile.guidance}
        for name, default in defaults.items():
            value = getattr(request, name)
            if (default if value is None else value) is not None:
                call[name] = default if value is None else value
        if request.guidance_scale is None and profile.guidance_2 is not None:  # else both experts take the request's
            call["guidance_scale_2"] = profile.guidance_2
        # The checkpoint's other arguments (LTX's decode_timestep and decode_noise_scale, a distilled schedule's
        # timesteps, which steps given by the request replace) and the clip's rate for models that take it.
        call.update({name: value for name, value in profile.call.items()
                     if name != "timesteps" or request.num_inference_steps is None})
        call["frame_rate"] = fps

        def to_planes(generated: np.ndarray) -> Iterator[Planes]:
            for rgb in generated:
                yield planes_from_rgb(rgb, request.width, request.height)

        if request.capability == "keyframes":
            count = request.num_frames or self._keyframe_frames_for(delivered)
            call["num_frames"] = count
            shown = self._placeable_end(count) + 1  # the made frames the delivered ones spread over
            call.update(self._keyframe_call(request, count, shown, delivered, width, height, fps))
            generated = self._run("keyframes", call)[:shown]
            return list(to_planes(generated[_stretched(len(generated), delivered)])), delivered

        if request.mode == "generate":
            count = request.num_frames or self._frames_for(delivered)
            call["num_frames"] = count
            if request.reference_image is not None:
                image = Image.fromarray(rgb_from_planes(load_picture(request.reference_image, width, height)))
                call.update(_vace_context([image], count) if self.family.vace else {"image": image})
            generated = self._run(request.capability, call)
            return list(to_planes(_timed(generated, delivered, spread=request.num_frames is not None))), delivered

        assert request.source_video is not None
        info = probe_video(request.source_video)
        source_count = max(1, round(info.duration * fps))
        source = list(source_frames(request.source_video, source_count, request.width, request.height, fps))

        def picture(frame: Planes) -> Image.Image:
            return Image.fromarray(rgb_from_planes(frame)).resize((width, height), Image.Resampling.LANCZOS)

        if request.mode in ("remix", "edit"):
            strength = VIDEO_TO_VIDEO_STRENGTH if request.strength is None else request.strength
            kept_sound = self._source_sound(request.source_video) if self.family.sound else None
            if strength == 0:  # nothing of the source is to move
                self._sound = kept_sound
                return source, source_count
            count = self._video_frames_for(source_count)
            clip = [picture(f) for f in source + [source[-1]] * (count - source_count)]  # 4k+1-style counts
            if self.family.vace:  # the source is the model's context, every frame regenerated
                call.update(_vace_context(clip, count, keep=0), num_frames=count)
                generated = self._run(request.mode, call)
            else:
                generated = self._video_to_video(request.mode, call, clip, strength)
            # The frames keep the source's timing, so its sound still fits them.
            self._sound = kept_sound or self._sound
            return list(to_planes(generated[:source_count])), source_count

        # extend: the new part starts from the source's last frame(s), which the model keeps; the MP4 keeps the
        # source's own frames and adds only the new ones.
        kept = self._extend_context(source_count)
        count = request.num_frames or self._frames_for(delivered + kept)
        call["num_frames"] = count
        context = [picture(f) for f in source[-kept:]]
        if self.family.vace:
            call.update(_vace_context(context, count))
        elif self.family.extend:  # LTX's video condition: the last frames at frame 0, held as they are
            call["conditions"] = [self._condition(context, 0, count, clip=True)]
        else:
            call["image"] = context[-1]
        generated = self._run("extend", call)
        new = _timed(generated[kept:], delivered, spread=request.num_frames is not None)
        if self._sound is not None:  # the source's sound under its part, the model's from the seam on
            self._sound = self._extended_sound(request.source_video, self._sound, source_count, kept, delivered, fps)
        return source + list(to_planes(new)), source_count + delivered

    def _keyframe_call(self, request: RenderRequest, count: int, shown: int, delivered: int, width: int,
                       height: int, fps: int) -> dict[str, Any]:
        """The pipeline arguments that place the request's images and clips. The model makes `count` frames and the
        MP4 shows `delivered` frames spread over its first `shown` (`_stretched`), so the first and last frames land
        on the first and last it shows."""
        at = _stretched(shown, delivered)

        def picture(frame: Planes) -> Image.Image:
            return Image.fromarray(rgb_from_planes(frame)).resize((width, height), Image.Resampling.LANCZOS)

        placed = request.placed()
        if self.family.keyframes_at_ends:  # Wan: the first image, and the last where one is given
            first = placed[0]
            last = placed[-1] if len(placed) > 1 else None
            arguments: dict[str, Any] = {"image": picture(load_picture(first.file, request.width, request.height))}
            if last is not None:
                arguments["last_image"] = picture(load_picture(last.file, request.width, request.height))
            return arguments
        known: dict[int, Image.Image] = {}  # VACE: the model's frames that are given, by index
        conditions = []
        for keyframe in placed:
            index = int(at[keyframe.frame_index])
            if keyframe.type == "image":
                pictures = [picture(load_picture(keyframe.file, request.width, request.height))]
            else:
                pictures = [picture(f) for f in placed_clip_frames(
                    keyframe.file, keyframe.crop, keyframe.covered(delivered, fps), request.width, request.height, fps)]
            if self.family.vace:  # a clip's frames at the made frames its delivered ones show
                known.update({int(at[min(keyframe.frame_index + n, delivered - 1)]): p for n, p in enumerate(pictures)})
            else:
                conditions.append(self._condition(pictures, index, count, clip=keyframe.type == "video"))
        if self.family.vace:
            return _vace_keyframes(known, count, width, height)
        return {"conditions": conditions}

    def _condition(self, pictures: list[Image.Image], index: int, count: int, *, clip: bool) -> Any:
        """A condition of LTX's condition pipelines: `pictures` (one image, or a clip's frames) at made frame `index`
        of `count`; LTX-2 takes it at the latent frame whose first frame is nearest."""
        if self.family.latent_conditions:
            step, last = self.latent_temporal, (count - 1) // self.latent_temporal
            latent = 0 if index == 0 else min(last, max(1, round((index - 1) / step) + 1))
            return LTX2VideoCondition(frames=pictures if clip else pictures[0], index=latent)
        if clip:
            return LTXVideoCondition(video=pictures, frame_index=index)
        return LTXVideoCondition(image=pictures[0], frame_index=index)

    def _placeable_end(self, count: int) -> int:
        """The last made frame of `count` that a keyframe can sit at: the last, or on LTX-2 the first frame of its
        last latent frame (frame 8(n-1)+1 of 8n+1), where the clip then ends so that a last image is its last."""
        latents = (count - 1) // self.latent_temporal + 1
        if not self.family.latent_conditions or latents < 2:
            return count - 1
        return (latents - 2) * self.latent_temporal + 1

    def _keyframe_frames_for(self, delivered: int) -> int:
        """The frames to make for `delivered` keyframed ones: as `_frames_for`, with enough more on LTX-2 that the
        frames up to its last placeable one cover the clip."""
        count = self._frames_for(delivered)
        while self._placeable_end(count) + 1 < delivered:
            count += self.frame_step
        return count

    def _source_sound(self, source_video: Path | None) -> _Sound | None:
        """The source's sound at AUDIO_RATE, or None where it has none."""
        assert source_video is not None
        wave = decoded_audio(source_video, AUDIO_RATE)
        return _Sound(wave, AUDIO_RATE) if wave.shape[1] else None

    def _extended_sound(self, source_video: Path | None, made: _Sound, source_count: int, kept: int,
                        delivered: int, fps: int) -> _Sound:
        """An extension's sound: the source's under its `source_count` frames (silence where it has none), then what
        the model made from its frame `kept` (the seam) on, under the `delivered` new frames."""
        source = self._source_sound(source_video)
        before = fitted_audio(source.wave if source else np.zeros((2, 0), np.float32), AUDIO_RATE,
                              clip_samples(source_count, fps))
        after = fitted_audio(made.wave[..., round(kept * made.rate / fps):], made.rate, clip_samples(delivered, fps))
        return _Sound(np.concatenate([before, after], axis=1), AUDIO_RATE)

    def _extend_context(self, source_count: int) -> int:
        """The source frames an extension is conditioned on: the family's most, as whole latent frames (tk+1)."""
        most = min(self.family.extend_context, source_count)
        return (most - 1) // self.latent_temporal * self.latent_temporal + 1

    def _video_to_video(self, mode: str, call: dict[str, Any], clip: list[Image.Image], strength: float) -> np.ndarray:
        """Remix or edit: the source's VAE latents noised to `strength`, then denoised with the new prompt over the
        last int(steps x strength) steps of the schedule, as diffusers' video-to-video pipelines do."""
        pipe = self._pipeline(mode, call["width"], call["height"])
        steps = call.get("num_inference_steps") or inspect.signature(pipe.__call__).parameters[
            "num_inference_steps"].default
        call["num_inference_steps"] = steps = max(steps, math.ceil(1 / strength))  # at least one step runs
        if self.family.source_as == "frames":  # the pipeline encodes and noises them
            return self._call(pipe, {**call, "video": clip, "strength": strength})
        call["num_frames"] = len(clip)
        if self.family.source_as == "schedule":  # the pipeline normalizes the latents and noises them to noise_scale
            latents = _source_latents(pipe, clip, call["width"], call["height"], normalized=False)
            sigmas, start = _sigma_tail(pipe, latents, steps, strength)
            return self._call(pipe, {**call, "latents": latents, "sigmas": sigmas, "noise_scale": start})
        latents = _source_latents(pipe, clip, call["width"], call["height"])
        if self.family.source_as == "latents":  # the pipeline noises them
            return self._call(pipe, {**call, "latents": latents, "denoise_strength": strength})
        with _schedule_tail(pipe, steps, strength) as sigma:  # flow matching: x_t = (1 - sigma) x_0 + sigma noise
            noise = torch.randn(latents.shape, generator=call["generator"], dtype=latents.dtype).to(latents.device)
            return self._call(pipe, {**call, "latents": (1 - sigma) * latents + sigma * noise})

    def _run(self, mode: str, call: dict[str, Any]) -> np.ndarray:
        """Run the pipeline for `mode`; (frames, H, W, 3) uint8."""
        return self._call(self._pipeline(mode, call["width"], call["height"]), call)

    def _call(self, pipe: Any, call: dict[str, Any]) -> np.ndarray:
        """`pipe` run on `call`, with this server's step cache and VAE tiling set for the clip first."""
        self.accelerated.before_call(pipe, call)
        frames, self._sound = _called(pipe, call)
        return frames

    def _pipeline(self, mode: str, width: int, height: int) -> Any:
        """The pipeline for `mode`, its scheduler set for this size."""
        class_name = self.profile.pipelines.get(mode) or {
            "text": self.family.text, "image": self.family.image, "extend": self.family.extend_with,
            "remix": self.family.video, "edit": self.family.video, "keyframes": self.family.keyframes}[mode]
        assert class_name is not None  # check() refused modes the family lacks
        pipe = self._companion(class_name)
        self._set_flow_shift(pipe, width, height)
        return pipe

    def _set_flow_shift(self, pipe: Any, width: int, height: int) -> None:
        """The checkpoint's flow_shift for this size class on the pipeline's scheduler, as diffusers' Wan docs set
        it (`UniPCMultistepScheduler.from_config(config, flow_shift=...)`); re-set when the class changes."""
        shift = self.profile.shift_for(width, height)
        config = pipe.scheduler.config
        if shift is None or "flow_shift" not in config or config["flow_shift"] == shift:
            return
        pipe.scheduler = type(pipe.scheduler).from_config(config, flow_shift=shift)

    def _companion(self, class_name: str) -> Any:
        """The pipeline for another mode, sharing the loaded weights."""
        if class_name not in self._companions:
            companion = _sharing(getattr(diffusers, class_name), self.pipe)
            if class_name == "LTXConditionPipeline" and companion.scheduler.config.get("use_dynamic_shifting"):
                # The first LTX-Video releases ship a shifting scheduler that this pipeline cannot drive.
                companion.scheduler = type(companion.scheduler).from_config(
                    companion.scheduler.config, use_dynamic_shifting=False)
            companion.set_progress_bar_config(disable=True)
            self._companions[class_name] = companion
        return self._companions[class_name]

    def close(self) -> None:
        self._companions.clear()
        del self.pipe
        _free_memory(self.device)


# ---------------------------------------------------------------------------------------------- helpers


@dataclasses.dataclass(frozen=True)
class _Sound:
    wave: np.ndarray  # (channels, samples) float
    rate: int


def _called(pipe: Any, call: dict[str, Any]) -> tuple[np.ndarray, _Sound | None]:
    """`pipe` run with the arguments of `call` it takes (the optional ones only where its __call__ names them);
    the frames as (frames, H, W, 3) uint8, and the sound it made with them, if any (LTX-2's, at its vocoder's rate)."""
    takes = inspect.signature(pipe.__call__).parameters
    output = pipe(**{name: value for name, value in call.items() if name not in _OPTIONAL or name in takes})
    frames = np.asarray(output.frames[0])
    audio = getattr(output, "audio", None)
    sound = None if audio is None else _Sound(_numpy(audio[0]), int(pipe.vocoder.config.output_sampling_rate))
    return (np.clip(frames, 0, 1) * 255 + 0.5).astype(np.uint8), sound


def _numpy(wave: Any) -> np.ndarray:
    return wave.float().cpu().numpy() if isinstance(wave, torch.Tensor) else np.asarray(wave, np.float32)


def _soundtrack(settings: Settings, device: str, dtype: torch.dtype) -> Any:
    """The --audio-model's text-to-audio pipeline, on the video model's device, or None without the flag."""
    if not settings.audio_model:
        return None
    folder, index = _model_index(settings.audio_model, "--audio-model", "stable-audio-open-1.0")
    class_name = str(index.get("_class_name"))
    if class_name not in _AUDIO_PIPELINES:
        raise EngineUnavailable(
            f"--audio-model {settings.audio_model} holds a {class_name}; it takes a text-to-audio pipeline: "
            f"{', '.join(_AUDIO_PIPELINES)}.")
    try:
        pipe = getattr(diffusers, class_name).from_pretrained(folder, dtype=dtype).to(device)
    except (OSError, ValueError, RuntimeError, ImportError) as exc:
        raise EngineUnavailable(f"Could not load the audio pipeline in {settings.audio_model}: {exc}") from exc
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _source_latents(pipe: Any, clip: list[Image.Image], width: int, height: int, *,
                    normalized: bool = True) -> torch.Tensor:
    """The clip's VAE latents (the distribution's mode, so one source gives one start), normalised as the
    pipeline's denoiser sees latents unless the pipeline does that itself (`normalized=False`)."""
    vae = pipe.vae
    video = pipe.video_processor.preprocess_video(clip, height=height, width=width)
    with torch.no_grad():
        latents = vae.encode(video.to(pipe._execution_device, vae.dtype)).latent_dist.mode().float()
    if not normalized:
        return latents
    if hasattr(pipe, "_normalize_latents"):  # LTX keeps its statistics on the VAE
        return pipe._normalize_latents(latents, vae.latents_mean, vae.latents_std)
    mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1).to(latents)
    std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1).to(latents)
    return (latents - mean) / std


def _sigma_tail(pipe: Any, latents: torch.Tensor, steps: int, strength: float) -> tuple[list[float], float]:
    """For LTX2ConditionPipeline: the last int(steps x strength) of the `steps` sigmas it would use (its own
    linspace), and the noise level its scheduler starts them at once it has shifted them for this clip's length, to
    which the pipeline noises the source's latents."""
    whole = np.linspace(1.0, 1 / steps, steps)
    tail = [float(sigma) for sigma in whole[steps - min(int(steps * strength), steps):]]
    config = pipe.scheduler.config
    patch, patch_t = pipe.transformer_spatial_patch_size, pipe.transformer_temporal_patch_size
    _, _, frames, rows, columns = latents.shape
    mu = _ltx2_shift((frames // patch_t) * (rows // patch) * (columns // patch),
                     config.get("base_image_seq_len", 1024), config.get("max_image_seq_len", 4096),
                     config.get("base_shift", 0.95), config.get("max_shift", 2.05))
    scheduler = type(pipe.scheduler).from_config(config)
    scheduler.set_timesteps(sigmas=tail, mu=mu)
    return tail, float(scheduler.sigmas[0])


@contextlib.contextmanager
def _schedule_tail(pipe: Any, steps: int, strength: float) -> Iterator[float]:
    """While open, `pipe`'s scheduler sets only the last int(steps x strength) of `steps` timesteps (and their
    sigmas, so its steps stay consistent); yields the sigma the tail starts at. For a pipeline with no
    `timesteps` or `strength` argument (WanPipeline), whose own loop (both experts, per-patch timesteps) is kept."""
    whole = pipe.scheduler
    tail = type(whole).from_config(whole.config)
    start = (steps - min(int(steps * strength), steps)) * tail.order
    set_every = tail.set_timesteps

    def set_timesteps(*args: Any, **kwargs: Any) -> None:
        set_every(*args, **kwargs)
        tail.timesteps, tail.sigmas = tail.timesteps[start:], tail.sigmas[start:]

    tail.set_timesteps = set_timesteps
    tail.set_timesteps(steps)
    pipe.scheduler = tail
    try:
        yield float(tail.sigmas[0])
    finally:
        pipe.scheduler = whole


def _sharing(pipeline_class: Any, pipe: Any) -> Any:
    """`pipeline_class` built on `pipe`'s own modules and settings (boundary_ratio, expand_timesteps), as
    `from_pipe` builds it, without the cast `from_pipe` ends with: it moves every shared module to one dtype
    (float32 unless told), in place, which would turn a bfloat16 transformer to float32 on the GPU and a
    checkpoint's float32 VAE to the transformer's dtype."""
    takes = inspect.signature(pipeline_class.__init__).parameters
    modules = {name: module for name, module in pipe.components.items() if name in takes}
    settings = {name: pipe.config[name] for name in takes if name not in modules and name in pipe.config}
    return pipeline_class(**modules, **settings)


def _profile_notes(profile: CheckpointProfile, class_name: str) -> str:
    said = f"{profile.name} through diffusers ({class_name})."
    if profile.frames is not None:
        said += f" Trained on {profile.frames} frames at {profile.fps} fps; longer clips come from extensions."
    if profile.fixed:
        said += f" Only {profile.frames} frames at {', '.join(profile.sizes)}: its positional embedding is learned."
    if profile.call:
        said += " Also passes " + ", ".join(f"{name}={value}" for name, value in profile.call.items()) + "."
    return said


def _mode_notes(family: Family) -> str:
    if family.vace:
        return ("A reference image is the first frame; remix and edits regenerate every frame with the source "
                "as context; extensions continue from the source's last frames.")
    said = (f"Remix and edits start from the source's latents noised to 'strength' ({VIDEO_TO_VIDEO_STRENGTH} "
            "when left out: 0 keeps the source, 1 ignores it).")
    if family.extend_context > 1:
        return said + f" Extensions are conditioned on the source's last {family.extend_context} frames."
    return said + " Extensions continue from the source's last frame."


def _vace_context(known: list[Image.Image], count: int, keep: int | None = None) -> dict[str, Any]:
    """VACE's conditioning: the known frames, then grey, with a mask that keeps the first `keep` of them
    (all the known ones by default) and generates the rest."""
    keep = len(known) if keep is None else keep
    width, height = known[0].size
    grey = Image.new("RGB", (width, height), (128, 128, 128))
    video = known[:count] + [grey] * (count - len(known))
    masks = [Image.new("L", (width, height), 0 if i < keep else 255) for i in range(count)]
    return {"video": video, "mask": masks}


def _vace_keyframes(known: dict[int, Image.Image], count: int, width: int, height: int) -> dict[str, Any]:
    """VACE's conditioning for placed frames: each known frame at its index, grey elsewhere, and a mask that keeps
    the known ones and generates the rest."""
    grey = Image.new("RGB", (width, height), (128, 128, 128))
    video = [known.get(index, grey) for index in range(count)]
    masks = [Image.new("L", (width, height), 0 if index in known else 255) for index in range(count)]
    return {"video": video, "mask": masks}


def _timed(generated: np.ndarray, delivered: int, *, spread: bool) -> np.ndarray:
    """`delivered` frames from what the model made: the first ones, or, when the user chose num_frames,
    spread evenly over the clip (each frame held a little longer)."""
    if spread:
        picks = np.minimum(len(generated) - 1, np.arange(delivered) * len(generated) // delivered)
        return generated[picks]
    if len(generated) < delivered:
        raise JobFailed("internal_error", f"The model made {len(generated)} frames; {delivered} were needed.")
    return generated[:delivered]


def _stretched(made: int, delivered: int) -> np.ndarray:
    """For each delivered frame, the made frame it shows: spread evenly, first on first and last on last."""
    return np.rint(np.arange(delivered) * (made - 1) / max(1, delivered - 1)).astype(int)


def _step_callback(on_progress: ProgressCallback) -> Any:
    def on_step_end(pipe: Any, step: int, _timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        steps = getattr(pipe, "_num_timesteps", None) or getattr(pipe, "num_timesteps", None) or step + 1
        on_progress(DENOISE_SHARE * (step + 1) / max(1, steps))  # raises RenderCancelled for a deleted job
        return tensors

    return on_step_end


def _model_index(location: str, flag: str = "--model",
                 example: str = "Wan2.1-T2V-1.3B-Diffusers") -> tuple[Path, dict[str, Any]]:
    """The pipeline's folder (a folder given to `flag`, or the model's snapshot in the local cache) and its
    model_index.json."""
    path = Path(location).expanduser()
    if not path.exists():
        try:
            path = Path(huggingface_hub.snapshot_download(location, local_files_only=True))
        except (OSError, ValueError) as exc:
            raise EngineUnavailable(
                f"No model at {location!r}: it is not a folder here, and not a model in the local cache. "
                f"Download the weights first, then pass their folder to {flag}."
            ) from exc
    index = path / "model_index.json"
    if not index.is_file():
        raise EngineUnavailable(
            f"{location} is not a diffusers pipeline folder: it has no model_index.json. Point {flag} at "
            f"the folder of a diffusers model (for example {example})."
        )
    try:
        config = json.loads(index.read_text())
        str(config["_class_name"])
    except (ValueError, KeyError, TypeError) as exc:
        raise EngineUnavailable(f"{index} is not a readable model_index.json ({exc}).") from exc
    return path, dict(config)


def _device(choice: str) -> str:
    if choice == "auto":
        if torch.cuda.is_available():
            return "cuda:0"
        if torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if choice.startswith("cuda"):
        if not torch.cuda.is_available():
            raise EngineUnavailable(f"--device {choice}, but torch sees no CUDA GPU on this machine.")
        index = int(choice.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise EngineUnavailable(f"--device {choice}, but this machine has {torch.cuda.device_count()} GPU(s).")
        return f"cuda:{index}"
    if choice == "mps" and not torch.backends.mps.is_available():
        raise EngineUnavailable("--device mps, but torch sees no Apple GPU on this machine.")
    return choice


def _dtype(choice: str, device: str) -> torch.dtype:
    if choice == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float16 if device == "mps" else torch.float32
    return {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[choice]


def _latent_grid(pipe: Any) -> tuple[int, int]:
    """(pixels per latent cell across, frames per latent frame) of the loaded model."""
    spatial = (getattr(pipe, "vae_scale_factor_spatial", None)
               or getattr(pipe, "vae_spatial_compression_ratio", None) or 8)
    temporal = (getattr(pipe, "vae_scale_factor_temporal", None)
                or getattr(pipe, "vae_temporal_compression_ratio", None) or 4)
    patch = getattr(pipe.transformer.config, "patch_size", 1) or 1
    patch = patch[-1] if isinstance(patch, list | tuple) else patch
    return int(spatial) * int(patch), int(temporal)


def _display_name(location: str) -> str:
    name = Path(location.rstrip("/")).name or location
    return name.removesuffix("-Diffusers").removesuffix("-diffusers")


def _free_memory(device: str) -> None:
    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    elif device == "mps":
        torch.mps.empty_cache()
