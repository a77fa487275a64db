"""Engine `wan-vace`: Wan 2.1 VACE paints a shot from one control video, a mask video and reference images.

VACE takes, in one call, a video whose masked part (white) is to be generated
from what is drawn there (our control: depth, or the pose skeleton over depth)
and whose unmasked part (black) is to be kept (the parent take's frames in an
edit, or the previous window's frames at a join). `paint` reads as the method:

1. one control video from the request's controls, and its strength per step;
2. windows of 4k+1 frames that overlap, so any length fits the model;
3. per window: the kept frames outside the mask and the control inside it,
   padded to the model's sizes;
4. one `WanVACEPipeline` call;
5. trim the padding, match colours to the kept pixels, keep `known` outside
   the mask, yield the new frames.

With the rough colour render (`init_video`) each window starts from it, noised
to `strength`, instead of from noise (`wan_vace_video2video`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import WanVACEPipeline
from PIL import Image

from ...control.overlay import drawn_over
from ..base import Capabilities, ControlSetting, EngineError, FrameChunk, PaintRequest, StepCallback, StyleRef
from ..checks import check_request
from ..compile import compile_repeated_blocks, wants_compile
from ..devices import choose_device, out_of_memory_as_error
from ..edits import keep_known
from ..lora import check_styles, styles_applied
from ..progress import StepCounter
from ..registry import ModelSet
from ..resume import save_state, saved_state
from ..schedule import control_active, request_steps
from ..seeds import frame_generator, frame_noise
from .cache import step_cache
from .config import VACE_CONTROLS, parse_options
from .factory import options_capabilities
from .loading import load_pipeline, source
from .video2video import from_video
from .windows import Window, match_colours, pad_edges, padded_size, plan_windows

# Mid-grey is VACE's "nothing drawn here" in the video it generates from.
EMPTY_CONTROL = 128
# Flow-matching shift: the Wan model cards advise 3.0 at 480p and 5.0 at 720p.
FLOW_SHIFT_480P = 3.0
FLOW_SHIFT_720P = 5.0


def flow_shift_for(height: int, width: int) -> float:
    """The flow shift for a frame size: 720p (short side 720 and up) gets 5.0, smaller sizes 3.0."""
    return FLOW_SHIFT_720P if min(height, width) >= 720 else FLOW_SHIFT_480P


def control_video(request: PaintRequest) -> np.ndarray | None:
    """The one control video VACE is given: the requested controls layered, depth at the bottom, then the
    edges' lines, then the pose skeleton (each drawn on black, so where it draws nothing the layer below shows)."""
    layers = [request.controls[name] for name in VACE_CONTROLS if name in request.controls]
    if not layers:
        return None
    video = layers[0]
    for layer in layers[1:]:
        video = drawn_over(video, layer)
    return video


def control_scales(request: PaintRequest, steps: int) -> list[float]:
    """The control video's strength at each denoising step (VACE's `conditioning_scale`).

    The video carries every chosen control at once, so at each step it is as strong
    as the strongest control whose start..end span (fractions of the schedule, as
    for ControlNets) covers that step. VACE scales its whole context with it, the
    kept frames of an edit included; without controls that context is at full strength.
    """
    if not request.controls:
        return [1.0] * steps
    settings = [request.control_settings.get(name, ControlSetting()) for name in request.controls]
    return [max((s.weight for s in settings if control_active(s, i, steps)), default=0.0) for i in range(steps)]


def check_vace_request(request: PaintRequest, capabilities: Capabilities) -> None:
    """Refuse what VACE cannot paint, naming the problem: the shared checks, and VACE's one rule of its own."""
    check_request(request, capabilities, "wan-vace")
    if request.init_video is not None and request.reference_images:
        raise EngineError("wan-vace takes either the colour render or reference images for a shot, not both")


class WanVaceEngine:
    """A loaded Wan VACE model set; paints stylize, re-render and refine requests."""

    name = "wan-vace"

    def __init__(self, model_set: ModelSet, data_dir: Path, device: str | None = None) -> None:
        self.model_set = model_set.name
        self.options = parse_options(model_set, data_dir)
        self.capabilities = options_capabilities(self.options)
        self.device = choose_device(device)
        # The hub id or local folder the pipeline was loaded from.
        self.source = source(self.options, Path(data_dir))
        self.pipe = load_pipeline(self.model_set, self.source, self.device, self.options.offload)
        if wants_compile(self.options.compile, self.device):
            compile_repeated_blocks(self.pipe.transformer, Path(data_dir), self.model_set)
        self._scheduler_config = dict(self.pipe.scheduler.config)
        self._temporal = self.pipe.vae_scale_factor_temporal
        self._size_multiple = self.pipe.vae_scale_factor_spatial * self.pipe.transformer.config.patch_size[1]

    def windows(self, request: PaintRequest) -> list[Window]:
        """The calls that paint `request`, in order."""
        return plan_windows(request.num_frames, self.options.window, self.options.overlap, self._temporal)

    def work_units(self, request: PaintRequest) -> int:
        """Model frames (padding, context and reference-image frames included) x denoising steps."""
        references = len(request.reference_images) * self._temporal
        return sum(window.length + references for window in self.windows(request)) * request_steps(request)

    def paint(self, request: PaintRequest, on_step: StepCallback) -> Iterator[FrameChunk]:
        """Paint the request window by window, yielding each window's new frames once final."""
        check_vace_request(request, self.capabilities)
        check_styles(request.styles, self.model_set)
        adapters = [*request.styles, *self._draft_lora(request)]
        control = control_video(request)
        steps = request_steps(request)
        scales = control_scales(request, steps)
        windows = self.windows(request)
        self._use_flow_shift(self._flow_shift(request))
        painted = np.zeros((request.num_frames, request.height, request.width, 3), np.uint8)
        counter = StepCounter(on_step, steps * len(windows))
        clock = _StepClock(counter)
        first = self._resume(request, windows, painted, counter, steps)
        with (
            styles_applied(self.pipe, adapters, self.model_set),
            _scaled_control(self.pipe, scales, clock),
        ):
            for number, window in enumerate(windows[first:], start=first):
                if number > first:
                    # Saved once the earlier windows' frames are handed over (the caller then has them on
                    # disk before the state is saved: see `Checkpoint`).
                    save_state(request, window=np.array(number), context=painted[window.start : window.new_start])
                video, keep = self._conditions(request, control, painted, window)
                clock.start_window()
                frames = self._call(request, window, video, keep, scales, clock)
                frames = match_colours(frames, video.astype(np.float32) / 255, keep)
                painted[window.start : window.end] = self._keep_known(request, window, _to_uint8(frames))
                yield FrameChunk(window.new_start, painted[window.new_start : window.end].copy())

    @staticmethod
    def _resume(
        request: PaintRequest, windows: list[Window], painted: np.ndarray, counter: StepCounter, steps: int
    ) -> int:
        """The first window to paint: 0, or after the windows a checkpoint says are final (their frames
        are the take's already; the next window's context frames come back into `painted`)."""
        saved = saved_state(request)
        if saved is None:
            return 0
        first = int(saved["window"])
        window = windows[first]
        painted[window.start : window.new_start] = saved["context"]
        counter.resume(first * steps)
        return first

    def _draft_lora(self, request: PaintRequest) -> list[StyleRef]:
        """A draft job's distilled LoRA, as one more adapter beside the styles; nothing for a final job."""
        draft = self.options.draft
        if not request.draft or draft is None:
            return []
        path = draft.lora.local()
        if path is None:
            raise EngineError(
                f"model set {self.model_set!r}: its draft LoRA ({draft.lora.location}) is not on this machine; "
                f"run `underpaint models pull {self.model_set}`"
            )
        return [StyleRef(str(path), draft.weight, name="draft LoRA")]

    def _flow_shift(self, request: PaintRequest) -> float:
        """The draft's shift for a draft job where its table sets one, else the set's (0: by resolution)."""
        draft = self.options.draft.flow_shift if request.draft and self.options.draft else 0.0
        return draft or self.options.flow_shift or flow_shift_for(request.height, request.width)

    def _use_flow_shift(self, shift: float) -> None:
        # UniPC / DPM++ (what the checkpoints ship) call it flow_shift; FlowMatchEuler calls it shift.
        key = "flow_shift" if "flow_shift" in self._scheduler_config else "shift"
        if self.pipe.scheduler.config.get(key) != shift:
            self.pipe.scheduler = type(self.pipe.scheduler).from_config(
                self._scheduler_config, **{key: shift}
            )

    def _conditions(
        self, request: PaintRequest, control: np.ndarray | None, painted: np.ndarray, window: Window
    ) -> tuple[np.ndarray, np.ndarray]:
        """The window's video (uint8) and where it is to be kept (bool), at the request's size.

        Inside the repaint region the video shows the control (grey where there is none);
        outside it shows the parent take's frames; the first `context` frames are the
        previous window's painted frames, kept whole.
        """
        span = slice(window.start, window.end)
        frames = window.end - window.start
        if control is None:
            video = np.full((frames, request.height, request.width, 3), EMPTY_CONTROL, np.uint8)
        else:
            video = control[span].copy()
        keep = np.zeros(video.shape[:3], bool)
        if request.known is not None and request.repaint_mask is not None:
            keep = request.repaint_mask[span] <= 0
            video[keep] = request.known[span][keep]
        keep[: window.context] = True
        video[: window.context] = painted[window.start : window.new_start]
        return video, keep

    def _call(
        self,
        request: PaintRequest,
        window: Window,
        video: np.ndarray,
        keep: np.ndarray,
        scales: list[float],
        clock: _StepClock,
    ) -> np.ndarray:
        """One VACE call; float RGB in [0, 1] trimmed back to the window's request frames and size."""
        frames, height, width = video.shape[:3]
        model_height, model_width = padded_size(height, width, self._size_multiple)
        padded_video = pad_edges(video, window.length, model_height, model_width)
        padded_keep = pad_edges(keep, window.length, model_height, model_width)
        what = f"{window.length} frames at {model_width}x{model_height}"
        generator = frame_generator(request.seed, window.start)
        noise = self._noise(request, window, (model_height, model_width))
        with (
            out_of_memory_as_error(self.device, what),
            step_cache(self.pipe.transformer, request.cache),
            self._start(request, window, (model_height, model_width), noise) as latents,
        ):
            output = self.pipe(
                prompt=request.prompt_at(window.new_start),
                negative_prompt=request.negative_prompt,
                video=[Image.fromarray(frame) for frame in padded_video],
                mask=[Image.fromarray(mask) for mask in np.where(padded_keep, 0, 255).astype(np.uint8)],
                reference_images=[Image.fromarray(image) for image in request.reference_images] or None,
                conditioning_scale=1.0 if len(set(scales)) > 1 else scales[0],
                height=model_height,
                width=model_width,
                num_frames=window.length,
                num_inference_steps=request.steps,
                guidance_scale=request.guidance,
                generator=generator,
                latents=latents,
                callback_on_step_end=clock,
                output_type="np",
            ).frames[0]
        return output[:frames, :height, :width]

    def _noise(self, request: PaintRequest, window: Window, size: tuple[int, int]) -> torch.Tensor:
        """The window's noise (1, channels, latent frames, h / 8, w / 8), drawn per frame (`seeds`).

        The reference images' latent frames come first (seeded as frames -1, -2, ...), then latent
        frame j from request frame `window.start + 4 j` (the last frame it encodes), so a frame's
        noise is the same in every window and every edit that paints it.
        """
        spatial = self.pipe.vae_scale_factor_spatial
        shape = (self.pipe.vae.config.z_dim, size[0] // spatial, size[1] // spatial)
        latent_frames = (window.length - 1) // self._temporal + 1
        frames = [-1 - k for k in range(len(request.reference_images))]
        frames += [window.start + self._temporal * j for j in range(latent_frames)]
        return frame_noise(shape, request.seed, frames).unsqueeze(0)

    def _start(
        self, request: PaintRequest, window: Window, size: tuple[int, int], noise: torch.Tensor
    ) -> AbstractContextManager[torch.Tensor]:
        """Where the window's denoising starts: the noise, or the colour render noised to `strength`."""
        if request.init_video is None:
            return nullcontext(noise)
        video = pad_edges(request.init_video[window.start : window.end], window.length, *size)
        return from_video(self.pipe, video, request.steps, request.strength, noise)

    @staticmethod
    def _keep_known(request: PaintRequest, window: Window, frames: np.ndarray) -> np.ndarray:
        """Outside the repaint mask an edit's frames are the parent take's, bit for bit."""
        if request.known is None or request.repaint_mask is None:
            return frames
        span = slice(window.start, window.end)
        return keep_known(frames, request.known[span], request.repaint_mask[span])


def _to_uint8(frames: np.ndarray) -> np.ndarray:
    return np.round(np.clip(frames, 0.0, 1.0) * 255).astype(np.uint8)


class _StepClock:
    """The pipeline's step-end callback: counts the step across the request, and tells the control
    hook which step of the window runs next. The counter's `on_step` may raise Cancelled, which propagates.
    """

    def __init__(self, counter: StepCounter) -> None:
        self.counter = counter
        self.step = 0

    def start_window(self) -> None:
        self.step = 0

    def __call__(self, pipe: Any, step: int, timestep: Any, tensors: dict) -> dict:
        self.step = step + 1
        self.counter.step()
        return {}


@contextmanager
def _scaled_control(pipe: WanVACEPipeline, scales: list[float], clock: _StepClock) -> Iterator[None]:
    """Scale the control per step when controls start late or end early (VACE takes one scale per call).

    A pre-hook on the transformer multiplies the per-layer control scale by the
    running step's strength; a constant schedule needs no hook.
    """
    if len(set(scales)) <= 1:
        yield
        return

    def hook(module: torch.nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        kwargs["control_hidden_states_scale"] = kwargs["control_hidden_states_scale"] * scales[clock.step]
        return args, kwargs

    handle = pipe.transformer.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        yield
    finally:
        handle.remove()
