"""The previz engine: storyboard sketches that follow the prompt, with no model and no GPU."""

from __future__ import annotations

from pathlib import Path

from localsora.catalog import DEFAULT_MODELS, MODEL_ALIASES
from localsora.config import Settings
from localsora.engines.base import (
    AUDIO_PROMPT,
    MODES,
    SEED,
    SOUND,
    Capabilities,
    Engine,
    ProgressCallback,
    RenderRequest,
)
from localsora.engines.previz.render import FPS, frame_count, render

__all__ = ["FPS", "PrevizEngine", "render"]


class PrevizEngine(Engine):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._capabilities = Capabilities(
            engine="previz",
            serving="Local preview renderer: offline, no AI model",
            models=dict(settings.models or DEFAULT_MODELS),
            modes=MODES,
            durations=settings.durations,
            extension_durations=settings.extension_durations,
            fps=FPS,
            audio=True,
            parameters=(SEED, SOUND, AUDIO_PROMPT),
            max_parallel=max(1, settings.max_concurrent_jobs),
            notes="Previz sketches, not an AI model: the prompt's colour, time-of-day and camera words set the "
                  "look; the prompt is captioned on every frame. Every clip carries a synthesized tone "
                  "(in a key an audio_prompt chooses, where given) or its source's sound; sound false drops it.",
            aliases=dict(MODEL_ALIASES),
        )

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def delivered_frames(self, request: RenderRequest) -> int:
        return max(1, frame_count(request))

    def render(self, request: RenderRequest, out_dir: Path, on_progress: ProgressCallback) -> None:
        # The simulated delay is read per frame: /_localsora/faults may change it while a job renders, so a test
        # can hold a job rendering for as long as it needs, then let it finish.
        frames = max(1, frame_count(request))
        render(request, out_dir, on_progress=lambda done, total: on_progress(done / total),
               frame_delay=lambda: self.settings.render_delay / frames)
