"""LoRA training of a base model's UNet attention layers: diffusers' text-to-image LoRA recipe.

The recipe (diffusers `examples/text_to_image/train_text_to_image_lora.py`):
LoRA adapters (peft, Gaussian A / zero B, alpha = rank) on the UNet's attention
projections `to_q, to_k, to_v, to_out.0`; everything else frozen; each step
draws a latent from the VAE's posterior of a training image, noise and a
random timestep, and regresses the UNet's prediction onto the scheduler's
target (the noise, or the velocity for v-prediction bases) with MSE; AdamW;
gradient-norm clipping at 1. On a GPU the frozen weights run in the model
set's half precision under autocast while the LoRA weights stay float32
(fp16 adds loss scaling); gradient checkpointing trades compute for memory.

The VAE and text encoder are frozen, so each image's latent distribution and
each caption's embedding are computed once up front (`encode`); a training
step then runs only the UNet. Sampling the latent from the cached posterior
each step is exactly what encoding every step would do.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, StableDiffusionPipeline
from diffusers.training_utils import cast_training_params
from diffusers.utils import convert_state_dict_to_diffusers
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict

from underpaint.engines.base import EngineError

from .base_models import BaseModels

TARGET_MODULES = ["to_q", "to_k", "to_v", "to_out.0"]
ADAPTER = "default"
MAX_GRAD_NORM = 1.0
# Timesteps at which held-out images are scored, spread over the schedule so the score covers coarse and fine detail.
EVAL_TIMESTEP_FRACTIONS = (0.1, 0.3, 0.5, 0.7, 0.9)
EVAL_SEED = 1234


@dataclass
class Examples:
    """Encoded training examples: VAE posterior (mean, std) per image and text embedding per caption."""

    mean: torch.Tensor
    std: torch.Tensor
    text: torch.Tensor

    def __len__(self) -> int:
        return self.mean.shape[0]

    def select(self, indices: list[int]) -> Examples:
        index = torch.tensor(indices, device=self.mean.device)
        return Examples(self.mean[index], self.std[index], self.text[index])


class LoraTrainer:
    """A base model with a fresh LoRA adapter on its UNet, and the optimizer that trains it."""

    def __init__(
        self,
        base: BaseModels,
        *,
        rank: int,
        learning_rate: float,
        device: torch.device,
        dtype: torch.dtype,
        gradient_checkpointing: bool = False,
        seed: int = 0,
    ) -> None:
        self.base, self.device, self.dtype, self.rank = base, device, dtype, rank
        for model in (base.unet, base.vae, base.text_encoder):
            model.requires_grad_(False)
            model.to(device)
            if model.dtype != dtype:
                model.to(dtype=dtype)
        base.vae.eval()
        base.text_encoder.eval()
        # peft draws the Gaussian init of the A matrices from torch's global CPU generator: seed it for this
        # call only, so training is reproducible and other threads' randomness is left alone.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            base.unet.add_adapter(
                LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian", target_modules=TARGET_MODULES),
                adapter_name=ADAPTER,
            )
        # Trainable weights in float32 even when the frozen ones are half precision (the recipe's mixed precision).
        cast_training_params(base.unet, dtype=torch.float32)
        if gradient_checkpointing:
            base.unet.enable_gradient_checkpointing()
        self.parameters = [p for p in base.unet.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            self.parameters, lr=learning_rate, betas=(0.9, 0.999), weight_decay=1e-2, eps=1e-8
        )
        self.noise_scheduler = DDPMScheduler.from_config(base.scheduler_config)
        self.scaler = torch.amp.GradScaler(device.type) if dtype == torch.float16 and device.type == "cuda" else None
        self.generator = torch.Generator("cpu").manual_seed(seed)
        self._order: list[int] = []

    @property
    def trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters)

    def _autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype != torch.float32)

    # -- encoding ---------------------------------------------------------------------------------------

    @torch.no_grad()
    def encode(self, pixels: list[np.ndarray], captions: list[str], on_item: Callable[[], None]) -> Examples:
        """Posterior and caption embedding of each (uint8 RGB image, caption); `on_item` runs after each."""
        means, stds, texts = [], [], []
        for image, caption in zip(pixels, captions, strict=True):
            x = torch.tensor(image).permute(2, 0, 1)[None].to(self.device, self.dtype) / 127.5 - 1.0
            posterior = self.base.vae.encode(x).latent_dist
            means.append(posterior.mean.float())
            stds.append(posterior.std.float())
            texts.append(self._embed(caption))
            on_item()
        return Examples(torch.cat(means), torch.cat(stds), torch.cat(texts))

    def _embed(self, caption: str) -> torch.Tensor:
        tokenizer = self.base.tokenizer
        ids = tokenizer(
            caption, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt"
        ).input_ids
        return self.base.text_encoder(ids.to(self.device))[0].float()

    # -- training ---------------------------------------------------------------------------------------

    def next_batch(self, count: int, batch_size: int) -> list[int]:
        """The next `batch_size` of `count` example indices: a fresh shuffle each epoch, as a data loader draws."""
        taken: list[int] = []
        while len(taken) < batch_size:
            if not self._order:
                self._order = torch.randperm(count, generator=self.generator).tolist()
            taken.append(self._order.pop())
        return taken

    def step(self, batch: Examples) -> float:
        """One optimisation step on `batch`; returns its loss."""
        unet = self.base.unet
        unet.train()
        latents = self._sample_latents(batch, self.generator)
        noise = torch.randn(latents.shape, generator=self.generator).to(self.device)
        timesteps = torch.randint(
            0, self.noise_scheduler.config.num_train_timesteps, (len(batch),), generator=self.generator
        ).to(self.device)
        loss = self._loss(batch, latents, noise, timesteps)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        torch.nn.utils.clip_grad_norm_(self.parameters, MAX_GRAD_NORM)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        value = loss.item()
        if not math.isfinite(value):
            raise EngineError(f"the training loss became {value}; lower the learning rate")
        return value

    def _sample_latents(self, batch: Examples, generator: torch.Generator) -> torch.Tensor:
        eps = torch.randn(batch.mean.shape, generator=generator).to(self.device)
        return (batch.mean + batch.std * eps) * self.base.vae.config.scaling_factor

    def _loss(
        self, batch: Examples, latents: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor
    ) -> torch.Tensor:
        scheduler = self.noise_scheduler
        noisy = scheduler.add_noise(latents, noise, timesteps)
        if scheduler.config.prediction_type == "v_prediction":
            target = scheduler.get_velocity(latents, noise, timesteps)
        else:
            target = noise
        with self._autocast():
            prediction = self.base.unet(noisy.to(self.dtype), timesteps, batch.text.to(self.dtype)).sample
        return F.mse_loss(prediction.float(), target.float())

    @torch.no_grad()
    def evaluate(self, examples: Examples) -> float:
        """Mean loss over fixed noise and fixed timesteps: comparable before and after training."""
        self.base.unet.eval()
        generator = torch.Generator("cpu").manual_seed(EVAL_SEED)
        total = self.noise_scheduler.config.num_train_timesteps
        losses = []
        for fraction in EVAL_TIMESTEP_FRACTIONS:
            latents = self._sample_latents(examples, generator)
            noise = torch.randn(latents.shape, generator=generator).to(self.device)
            timesteps = torch.full((len(examples),), int(fraction * total), device=self.device)
            losses.append(self._loss(examples, latents, noise, timesteps).item())
        return float(np.mean(losses))

    # -- output -----------------------------------------------------------------------------------------

    def save(self, folder: Path, file_name: str) -> Path:
        """Write the adapter as a diffusers-format LoRA (`unet.` keys), as `load_lora_weights` reads it."""
        layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(self.base.unet, adapter_name=ADAPTER))
        StableDiffusionPipeline.save_lora_weights(
            folder, unet_lora_layers=layers, weight_name=file_name, safe_serialization=True
        )
        return folder / file_name
