"""The `animatediff` engine: SD1.5 + AnimateDiff motion modules + several ControlNets, in context windows.

`paint()` runs the steps of the method:

1. check the request and plan the context windows (`windows`);
2. build the diffusers pipeline for the request: `AnimateDiffControlNetPipeline`
   (text + control) or, with the rough colour render, the video-to-video
   `AnimateDiffVideoToVideoControlNetPipeline` (start from the render noised to
   `strength`), around a `MultiControlNetModel` of the requested controls;
3. apply the request's styles (LoRAs) for the duration of the job (`lora`);
4. encode the prompt schedule, one embedding per frame;
5. start latents: per-frame seeded noise, or the encoded colour render noised;
6. the denoising loop: per step, every window predicts the noise of its frames
   through the ControlNets (each with its own weight and start/end) and the
   motion UNet with classifier-free guidance; the predictions are blended
   across overlaps, the scheduler steps the whole shot, then the step hooks run
   on the latents (`StepHook`: where edits keep known content, `blend`);
7. decode and deliver the frames in chunks.

The pipeline supplies the models, LoRA handling, prompt encoding, VAE
encoding/decoding and CPU offload hooks; the loop is ours because a pipeline
call denoises one window from start to end, while windows must meet at every
step to join without a jump.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import (
    AnimateDiffControlNetPipeline,
    AnimateDiffVideoToVideoControlNetPipeline,
    DiffusionPipeline,
    MultiControlNetModel,
)
from PIL import Image

from ..base import CONTROL_TYPES, Capabilities, ControlSetting, FrameChunk, PaintRequest, StepCallback
from ..checks import check_request
from ..devices import (
    choose_device,
    choose_dtype,
    flush_denormals,
    out_of_memory_as_error,
    should_offload,
    use_sdpa,
)
from ..edits import keep_known
from ..lora import check_styles, styles_applied
from ..progress import StepCounter
from ..registry import ModelSet
from ..resume import EVERY_STEPS, save_state, saved_state
from ..schedule import control_weight, steps_run
from ..seeds import frame_generator, frame_noise
from .blend import outside_repaint_mask
from .config import parse_settings
from .factory import settings_capabilities
from .loading import Components, load_components, prepare
from .windows import Window, blend_weights, plan_windows

# Called with (step index, the timestep the latents are now at (None after the last step), the
# whole shot's latents) once before the first step (index -1) and after every scheduler step;
# returns the latents to continue with.
StepHook = Callable[[int, torch.Tensor | None, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class _Plan:
    """A checked request and how it will be painted."""

    request: PaintRequest
    windows: list[Window]
    weights: list[torch.Tensor]
    controls: list[str]
    settings: list[ControlSetting]
    steps: int

    @property
    def video(self) -> bool:
        return self.request.init_video is not None

    @property
    def guided(self) -> bool:
        return self.request.guidance > 1

    @property
    def total_steps(self) -> int:
        return self.steps * len(self.windows)

    def describe(self) -> str:
        r = self.request
        return f"{r.num_frames} frames at {r.width}x{r.height} ({self.windows[0].length} frames per window)"


class AnimateDiffEngine:
    """A loaded AnimateDiff model set that paints requests, one at a time.

    Not thread-safe: one worker paints with it. `work_units` may be called
    from anywhere (it touches no shared state).
    """

    name = "animatediff"

    def __init__(
        self,
        model_set: ModelSet,
        data_dir: Path | None = None,
        device: str | None = None,
        components: Components | None = None,
    ) -> None:
        """Load `model_set` (or take already built `components`, e.g. random full-size models in tests)."""
        self.settings = parse_settings(model_set, data_dir)
        self.model_set = model_set.name
        self.device = choose_device(device)
        self.dtype = choose_dtype(self.device, self.settings.dtype)
        flush_denormals(self.device)  # here too: torch's worker threads, started later, inherit it
        if components is None:
            prepare(self.settings, data_dir)
            components = load_components(self.settings, self.dtype)
        self.components = components
        self.offload = self._place(components)

    @property
    def controls(self) -> tuple[str, ...]:
        """The control types this model set has ControlNets for."""
        return tuple(c for c in CONTROL_TYPES if c in self.components.controlnets)

    @property
    def capabilities(self) -> Capabilities:
        capabilities = settings_capabilities(self.settings, self.controls)
        # Components built by the caller (benchmarks' full-size random models) may come without the draft.
        return capabilities if self.components.draft else replace(capabilities, draft=None)

    def _place(self, c: Components) -> bool:
        unets = [c.unet] if c.draft is None else [c.unet, c.draft.unet]
        models = [*unets, c.vae, c.text_encoder, *c.controlnets.values()]
        use_sdpa([*unets, *c.controlnets.values()])
        # The VAE works frame by frame, and in tiles on frames larger than its native size (512 for SD):
        # its memory stays that of one native-size image whatever the frame count and resolution.
        c.vae.enable_slicing()
        c.vae.enable_tiling()
        offload = should_offload(self.device, self.settings.offload, models)
        for model in models:
            if model.dtype != self.dtype:
                model.to(dtype=self.dtype)
            if not offload:
                model.to(self.device)
        return offload

    # -- the Engine protocol ------------------------------------------------------------------------

    def work_units(self, request: PaintRequest) -> int:
        plan = self._plan(request)
        return sum(w.length for w in plan.windows) * plan.steps

    def paint(self, request: PaintRequest, on_step: StepCallback) -> Iterator[FrameChunk]:
        """Check the request now (errors surface here, not at the first frame), then paint lazily."""
        return self._paint(self._plan(request), on_step, [])

    # -- 1. check and plan ----------------------------------------------------------------------------

    def _plan(self, request: PaintRequest) -> _Plan:
        check_request(request, self.capabilities, self.name)
        check_styles(request.styles, self.model_set)
        controls = [c for c in CONTROL_TYPES if c in request.controls]
        window, overlap = self.settings.window, self.settings.overlap
        windows = plan_windows(request.num_frames, window, overlap)
        return _Plan(
            request=request,
            windows=windows,
            weights=blend_weights(windows, request.num_frames, overlap),
            controls=controls,
            settings=[request.control_settings.get(c, ControlSetting()) for c in controls],
            steps=len(self._timesteps(self._scheduler(request.draft), request)),
        )

    def _scheduler(self, draft: bool) -> Any:
        """A fresh scheduler per use (schedulers keep per-run state): the set's, or its draft's."""
        return fresh_scheduler(self.components, draft)

    def _timesteps(self, scheduler: Any, request: PaintRequest) -> torch.Tensor:
        """The timesteps to run, as the pipelines compute them (video-to-video starts at `strength`)."""
        scheduler.set_timesteps(request.steps, device=self.device)
        timesteps = scheduler.timesteps
        if request.init_video is not None:
            kept = steps_run(request.steps, request.strength)
            timesteps = timesteps[(request.steps - kept) * scheduler.order :]
        return timesteps

    # -- 2. the pipeline ------------------------------------------------------------------------------

    def _pipeline(self, plan: _Plan) -> DiffusionPipeline:
        pipe = pipeline_for(self.components, plan.controls, plan.video, plan.request.draft)
        if self.offload:
            pipe.enable_model_cpu_offload(device=self.device)
        return pipe

    # -- 3 .. 7 -----------------------------------------------------------------------------------------

    def _paint(self, plan: _Plan, on_step: StepCallback, hooks: list[StepHook]) -> Iterator[FrameChunk]:
        pipe = self._pipeline(plan)
        progress = StepCounter(on_step, plan.total_steps)
        with (
            styles_applied(pipe, plan.request.styles, self.model_set),
            out_of_memory_as_error(self.device, plan.describe()),
        ):
            if plan.request.known is not None:
                hooks = [*hooks, self._keep_known(pipe, plan)]
            latents = self._denoise(pipe, plan, progress, hooks)
            chunk = self.settings.window
            for start in range(0, plan.request.num_frames, chunk):
                frames = self._frames(pipe, plan.request, latents, slice(start, start + chunk))
                yield FrameChunk(start=start, frames=frames)
            pipe.maybe_free_model_hooks()

    @torch.no_grad()
    def _denoise(
        self, pipe: DiffusionPipeline, plan: _Plan, progress: StepCounter, hooks: list[StepHook]
    ) -> torch.Tensor:
        """The whole shot's final latents (batch, channels, frames, height / 8, width / 8)."""
        request = plan.request
        flush_denormals(self.device)
        timesteps = self._timesteps(pipe.scheduler, request)
        prompts = self._prompt_embeddings(pipe, plan)
        generator = frame_generator(request.seed, -1)
        step_options = pipe.prepare_extra_step_kwargs(generator, 0.0)
        saved = saved_state(request)
        if saved is None:
            first = 0
            latents = self._start_latents(pipe, plan, timesteps[0])
            for hook in hooks:
                latents = hook(-1, timesteps[0], latents)
        else:
            # The latents after step `first` - 1, saved in float32 (exact for fp16 and bf16 alike). DDIM and
            # Euler find their place in the schedule from the timestep, so nothing else is needed.
            first = int(saved["step"])
            latents = torch.from_numpy(saved["latents"]).to(self.device, self.dtype)
            progress.resume(first * len(plan.windows))
        for i, t in enumerate(timesteps):
            if i < first:
                continue
            scales = self._control_scales(plan, i)
            noise = torch.zeros_like(latents)
            for window, weight in zip(plan.windows, plan.weights, strict=True):
                predicted = self._predict(
                    pipe, plan, window, latents[:, :, window.frames], t, prompts, scales
                )
                noise[:, :, window.frames] += predicted * weight.to(predicted).view(1, 1, -1, 1, 1)
                progress.step()
            latents = pipe.scheduler.step(noise, t, latents, **step_options).prev_sample
            following = timesteps[i + 1] if i + 1 < len(timesteps) else None
            for hook in hooks:
                latents = hook(i, following, latents)
            if (i + 1) % EVERY_STEPS == 0 and i + 1 < len(timesteps):
                save_state(request, step=np.array(i + 1), latents=latents.float().cpu().numpy())
        return latents

    def _control_scales(self, plan: _Plan, step: int) -> list[float]:
        """Each control's weight at this step: 0 outside its start..end part of the schedule."""
        return [control_weight(s, step, plan.steps) for s in plan.settings]

    def _predict(
        self,
        pipe: DiffusionPipeline,
        plan: _Plan,
        window: Window,
        latents: torch.Tensor,
        t: torch.Tensor,
        prompts: torch.Tensor,
        scales: list[float],
    ) -> torch.Tensor:
        """Guided noise prediction for one window, as the pipelines compute it."""
        request = plan.request
        copies = 2 if plan.guided else 1
        model_input = pipe.scheduler.scale_model_input(torch.cat([latents] * copies), t)
        # Unconditional rows first, like the pipelines: [negative x frames, prompt x frames].
        text = (
            prompts[:, window.frames].reshape(-1, *prompts.shape[2:])
            if plan.guided
            else prompts[1, window.frames]
        )
        controls = [
            self._control_frames(request.controls[c][window.frames]).repeat(copies, 1, 1, 1)
            for c in plan.controls
        ]
        down, mid = pipe.controlnet(
            model_input.transpose(1, 2).reshape(-1, model_input.shape[1], *model_input.shape[3:]),
            t,
            encoder_hidden_states=text,
            controlnet_cond=controls,
            conditioning_scale=scales,
            guess_mode=False,
            return_dict=False,
        )
        predicted = pipe.unet(
            model_input,
            t,
            encoder_hidden_states=text,
            down_block_additional_residuals=down,
            mid_block_additional_residual=mid,
        ).sample
        if not plan.guided:
            return predicted
        unconditional, conditional = predicted.chunk(2)
        return unconditional + request.guidance * (conditional - unconditional)

    def _control_frames(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 (n, h, w, 3) -> (n, 3, h, w) in [0, 1], as the pipelines' control processor makes them."""
        pixels = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device)
        # contiguous: a permuted (channels-last) input would switch every conv after it to channels-last
        # kernels, twice as slow on the CPU.
        return (pixels.permute(0, 3, 1, 2).contiguous().float() / 255).to(self.dtype)

    def _prompt_embeddings(self, pipe: DiffusionPipeline, plan: _Plan) -> torch.Tensor:
        """(2, frames, tokens, width): the negative prompt's and each frame's scheduled prompt's embedding."""
        request = plan.request
        encoded: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for span in request.prompts:
            if span.prompt not in encoded:
                positive, negative = pipe.encode_prompt(
                    span.prompt, self.device, 1, True, request.negative_prompt
                )
                encoded[span.prompt] = (negative[0], positive[0])
        frames = [encoded[request.prompt_at(i)] for i in range(request.num_frames)]
        return torch.stack([torch.stack([f[0] for f in frames]), torch.stack([f[1] for f in frames])])

    def _start_latents(self, pipe: DiffusionPipeline, plan: _Plan, first: torch.Tensor) -> torch.Tensor:
        """The noise; for video-to-video the encoded colour render noised to the first timestep."""
        request = plan.request
        noise = self._noise(pipe, request)
        if not plan.video or request.init_video is None:
            return noise * pipe.scheduler.init_noise_sigma
        return pipe.scheduler.add_noise(
            self._encode(pipe, request, request.init_video), noise, first.reshape(1)
        )

    def _noise(self, pipe: DiffusionPipeline, request: PaintRequest) -> torch.Tensor:
        """Noise drawn per frame from (seed, frame): a frame's noise never depends on the windows."""
        shape = (
            self.components.unet.config.in_channels,
            request.height // pipe.vae_scale_factor,
            request.width // pipe.vae_scale_factor,
        )
        noise = frame_noise(shape, request.seed, list(range(request.num_frames))).unsqueeze(0)
        return noise.to(self.device, self.dtype)

    @torch.no_grad()
    def _keep_known(self, pipe: DiffusionPipeline, plan: _Plan) -> StepHook:
        """The edit blend (`blend`): outside the repaint mask, the known frames' latents at every step.

        They are noised with the same per-frame noise the start latents come
        from, so with DDIM the kept part follows its own trajectory exactly and
        the repainted part is denoised to join it. Frames repainted whole keep
        nothing, so they are not encoded: an edit's VAE work follows what it keeps.
        """
        request = plan.request
        assert request.known is not None and request.repaint_mask is not None  # _check_request
        noise = self._noise(pipe, request)
        known = torch.zeros_like(noise)
        kept = torch.from_numpy(np.flatnonzero((request.repaint_mask < 1).any(axis=(1, 2))))
        if len(kept):
            known[:, :, kept] = self._encode(pipe, request, request.known[kept.numpy()])
        mask = torch.from_numpy(np.ascontiguousarray(request.repaint_mask)).to(self.device)
        fixed = outside_repaint_mask(known, mask)
        return lambda step, timestep, latents: fixed.apply(latents, pipe.scheduler, noise, timestep)

    def _encode(self, pipe: DiffusionPipeline, request: PaintRequest, source: np.ndarray) -> torch.Tensor:
        """Clean latents of `source` (the colour render or known frames), encoded chunk by chunk as the
        video-to-video pipeline does."""
        chunks = []
        for start in range(0, len(source), self.settings.window):
            frames = _images(source[start : start + self.settings.window])
            video = pipe.video_processor.preprocess_video(frames, height=request.height, width=request.width)
            video = video.permute(0, 2, 1, 3, 4)[0].to(self.device, self.dtype)
            generator = frame_generator(request.seed, start)
            # What the video-to-video pipeline's `encode_video` does; the text pipeline has no such method.
            chunks.append(pipe.vae.encode(video).latent_dist.sample(generator))
        latents = torch.cat(chunks) * pipe.vae.config.scaling_factor
        return latents.permute(1, 0, 2, 3).unsqueeze(0).to(self.dtype)

    def _frames(
        self, pipe: DiffusionPipeline, request: PaintRequest, latents: torch.Tensor, frames: slice
    ) -> np.ndarray:
        """The painted `frames`. An edit keeps its known pixels outside the repaint mask (`edits`), and
        its wholly kept frames are not decoded at all: that would only approximate what is known."""
        if request.known is None or request.repaint_mask is None:
            return self._decode(pipe, latents[:, :, frames])
        known, mask = request.known[frames], request.repaint_mask[frames]
        out = known.copy()
        painted = np.flatnonzero(mask.any(axis=(1, 2)))
        if len(painted):
            decoded = self._decode(pipe, latents[:, :, frames][:, :, torch.from_numpy(painted)])
            out[painted] = keep_known(decoded, known[painted], mask[painted])
        return out

    @torch.no_grad()
    def _decode(self, pipe: DiffusionPipeline, latents: torch.Tensor) -> np.ndarray:
        video = pipe.decode_latents(latents, latents.shape[2])
        frames = pipe.video_processor.postprocess_video(video, output_type="np")[0]
        return (frames * 255).round().astype(np.uint8)


def pipeline_for(
    components: Components, controls: list[str], video: bool = False, draft: bool = False
) -> DiffusionPipeline:
    """The diffusers pipeline around `components` for these controls, with a fresh scheduler.

    Text-to-video or, with `video`, video-to-video; with `draft`, the draft's
    motion UNet and scheduler. Building one is cheap (the models are shared,
    the motion UNets are already assembled).
    """
    cls = AnimateDiffVideoToVideoControlNetPipeline if video else AnimateDiffControlNetPipeline
    pipe = cls(
        vae=components.vae,
        text_encoder=components.text_encoder,
        tokenizer=components.tokenizer,
        unet=components.draft.unet if draft and components.draft else components.unet,
        motion_adapter=None,
        controlnet=MultiControlNetModel([components.controlnets[name] for name in controls]),
        scheduler=fresh_scheduler(components, draft),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def fresh_scheduler(components: Components, draft: bool = False) -> Any:
    """A new scheduler like the set's (its draft's, with `draft`): schedulers keep per-run state."""
    scheduler = components.draft.scheduler if draft and components.draft else components.scheduler
    return type(scheduler).from_config(scheduler.config)


def _images(frames: np.ndarray) -> list[Image.Image]:
    return [Image.fromarray(frame) for frame in frames]
