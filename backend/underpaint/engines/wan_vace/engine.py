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

from ...control.overlay import pose_over_depth
from ..base import ControlSetting, EngineError, FrameChunk, PaintRequest, StepCallback
from ..devices import choose_device, out_of_memory_as_error
from ..lora import check_styles, styles_applied
from ..registry import ModelSet
from .loading import VaceOptions, is_available, load_pipeline, pull
from .video2video import from_video, steps_run
from .windows import Window, match_colours, pad_edges, padded_size, plan_windows

# The controls VACE was trained on that a shot package provides; VACE has no normal-map control.
VACE_CONTROLS = ("depth", "pose")
# Mid-grey is VACE's "nothing drawn here" in the video it generates from.
EMPTY_CONTROL = 128
# Flow-matching shift: the Wan model cards advise 3.0 at 480p and 5.0 at 720p.
FLOW_SHIFT_480P = 3.0
FLOW_SHIFT_720P = 5.0


def flow_shift_for(height: int, width: int) -> float:
    """The flow shift for a frame size: 720p (short side 720 and up) gets 5.0, smaller sizes 3.0."""
    return FLOW_SHIFT_720P if min(height, width) >= 720 else FLOW_SHIFT_480P


def control_video(request: PaintRequest) -> np.ndarray | None:
    """The one control video VACE is given: depth, the pose skeleton, or the skeleton over depth."""
    controls = request.controls
    if "depth" in controls and "pose" in controls:
        return pose_over_depth(controls["depth"], controls["pose"])
    for name in VACE_CONTROLS:
        if name in controls:
            return controls[name]
    return None


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
    return [
        max((s.weight for s in settings if s.start <= i / steps and (i + 1) / steps <= s.end), default=0.0)
        for i in range(steps)
    ]


def check_request(request: PaintRequest) -> None:
    """Refuse what VACE cannot paint, naming the problem."""
    n, h, w = request.num_frames, request.height, request.width
    if n < 1 or h < 1 or w < 1 or request.steps < 1:
        raise EngineError(f"nothing to paint: {n} frames of {w}x{h} in {request.steps} steps")
    if not request.prompts:
        raise EngineError("a prompt is needed")
    unsupported = sorted(set(request.controls) - set(VACE_CONTROLS))
    if unsupported:
        raise EngineError(
            f"wan-vace paints from {' and '.join(VACE_CONTROLS)} controls only; "
            f"drop {', '.join(unsupported)} or use an animatediff model set"
        )
    for name, video in request.controls.items():
        _check_video(f"{name} control", video, (n, h, w, 3))
    if request.init_video is not None:
        _check_video("colour render", request.init_video, (n, h, w, 3))
        if not 0 < request.strength <= 1:
            raise EngineError(f"strength must be in (0, 1], got {request.strength}")
        if request.reference_images:
            raise EngineError(
                "wan-vace takes either the colour render or reference images for a shot, not both"
            )
    if (request.known is None) != (request.repaint_mask is None):
        raise EngineError("an edit needs both the parent take's frames and the repaint mask")
    if request.known is not None and request.repaint_mask is not None:
        _check_video("parent take frames", request.known, (n, h, w, 3))
        if request.repaint_mask.shape != (n, h, w):
            raise EngineError(f"repaint mask is {request.repaint_mask.shape}, expected {(n, h, w)}")
    for i, image in enumerate(request.reference_images):
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise EngineError(
                f"reference image {i} must be uint8 RGB (h, w, 3), got {image.dtype} {image.shape}"
            )


def _check_video(what: str, video: np.ndarray, shape: tuple[int, ...]) -> None:
    if video.shape != shape or video.dtype != np.uint8:
        raise EngineError(f"{what} is {video.dtype} {video.shape}, expected uint8 {shape}")


class WanVaceEngine:
    """A loaded Wan VACE model set; paints stylize, re-render and refine requests."""

    name = "wan-vace"
    # Asked by the server (model availability) and `underpaint models pull`, without loading anything.
    is_available = staticmethod(is_available)
    pull = staticmethod(pull)

    def __init__(self, model_set: ModelSet, data_dir: Path, device: str | None = None) -> None:
        self.model_set = model_set.name
        self.options = VaceOptions.from_model_set(model_set)
        self.device = choose_device(device)
        # The hub id or local folder the pipeline was loaded from.
        self.source = self.options.source(Path(data_dir))
        self.pipe = load_pipeline(self.model_set, self.source, self.device, self.options.offload)
        self._scheduler_config = dict(self.pipe.scheduler.config)
        self._temporal = self.pipe.vae_scale_factor_temporal
        self._size_multiple = self.pipe.vae_scale_factor_spatial * self.pipe.transformer.config.patch_size[1]

    def windows(self, request: PaintRequest) -> list[Window]:
        """The calls that paint `request`, in order."""
        return plan_windows(request.num_frames, self.options.window, self.options.overlap, self._temporal)

    @staticmethod
    def steps(request: PaintRequest) -> int:
        """Denoising steps per window: all of them, or the last `strength` of them from the colour render."""
        return request.steps if request.init_video is None else steps_run(request.steps, request.strength)

    def work_units(self, request: PaintRequest) -> int:
        """Model frames (padding, context and reference-image frames included) x denoising steps."""
        references = len(request.reference_images) * self._temporal
        return sum(window.length + references for window in self.windows(request)) * self.steps(request)

    def paint(self, request: PaintRequest, on_step: StepCallback) -> Iterator[FrameChunk]:
        """Paint the request window by window, yielding each window's new frames once final."""
        check_request(request)
        check_styles(request.styles, self.model_set)
        control = control_video(request)
        scales = control_scales(request, self.steps(request))
        windows = self.windows(request)
        self._use_flow_shift(self.options.flow_shift or flow_shift_for(request.height, request.width))
        painted = np.zeros((request.num_frames, request.height, request.width, 3), np.uint8)
        clock = _StepClock(on_step, self.steps(request), len(windows))
        with (
            styles_applied(self.pipe, request.styles, self.model_set),
            _scaled_control(self.pipe, scales, clock),
        ):
            for index, window in enumerate(windows):
                video, keep = self._conditions(request, control, painted, window)
                clock.start_window(index)
                frames = self._call(request, window, video, keep, scales, clock)
                frames = match_colours(frames, video.astype(np.float32) / 255, keep)
                painted[window.start : window.end] = self._keep_known(request, window, _to_uint8(frames))
                yield FrameChunk(window.new_start, painted[window.new_start : window.end].copy())

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
        generator = torch.Generator("cpu").manual_seed(request.seed + window.start)
        with (
            out_of_memory_as_error(self.device, what),
            self._start(request, window, (model_height, model_width), generator) as latents,
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

    def _start(
        self, request: PaintRequest, window: Window, size: tuple[int, int], generator: torch.Generator
    ) -> AbstractContextManager[torch.Tensor | None]:
        """Where the window's denoising starts: noise (None), or the colour render noised to `strength`."""
        if request.init_video is None:
            return nullcontext(None)
        video = pad_edges(request.init_video[window.start : window.end], window.length, *size)
        return from_video(self.pipe, video, request.steps, request.strength, generator)

    @staticmethod
    def _keep_known(request: PaintRequest, window: Window, frames: np.ndarray) -> np.ndarray:
        """Outside the repaint mask an edit's frames are the parent take's, bit for bit."""
        if request.known is None or request.repaint_mask is None:
            return frames
        span = slice(window.start, window.end)
        return np.where(request.repaint_mask[span, ..., None] > 0, frames, request.known[span])


def _to_uint8(frames: np.ndarray) -> np.ndarray:
    return np.round(np.clip(frames, 0.0, 1.0) * 255).astype(np.uint8)


class _StepClock:
    """Counts denoising steps: reports them across the whole request, and tells the control hook the step.

    Passed to the pipeline as its step-end callback; `on_step` may raise Cancelled, which propagates.
    """

    def __init__(self, on_step: StepCallback, steps: int, windows: int) -> None:
        self.on_step, self.steps, self.total = on_step, steps, steps * windows
        self.done_before = 0
        self.step = 0

    def start_window(self, index: int) -> None:
        self.done_before, self.step = index * self.steps, 0

    def __call__(self, pipe: Any, step: int, timestep: Any, tensors: dict) -> dict:
        self.step = step + 1
        self.on_step(self.done_before + self.step, self.total)
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
