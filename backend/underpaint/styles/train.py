"""Train a style: the service behind `underpaint styles train` and the `train_style` job.

    card = train_style(folder_files(Path("concept_art")), TrainConfig(name="inkwash", model="sd15"), data_dir)

reads top to bottom as the method: check the settings and the name, check the
images (all problems before any model loads), load the base model, then —
inside a staging folder that becomes the style only at the very end — add the
LoRA, encode the images, train, score the held-out images, render the
validation images, save the LoRA and its card, and publish. `check` is called
between steps and raises to stop (cancel); the staging folder is removed and
the registry is as it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from underpaint.blobs import sha256_file
from underpaint.database import now_iso
from underpaint.engines.base import EngineError
from underpaint.engines.devices import choose_device, choose_dtype, release_memory
from underpaint.errors import InputError

from .base_models import load_base_models
from .card import CardImage, StyleCard
from .dataset import TrainingImage, hold_out, images_hash, load
from .lora_trainer import Examples, LoraTrainer
from .registry import LORA_FILE, VALIDATION_DIR, staged_style, write_card
from .request import PRECISION_NAMES, TrainConfig, check_request, trainable_settings
from .validation import render_validation

PRECISIONS = dict(zip(PRECISION_NAMES, (torch.float32, torch.float16, torch.bfloat16), strict=True))
# Share of the progress bar each stage takes.
ENCODE_SHARE, TRAIN_SHARE = 0.05, 0.85
# The loss curve's start and end are averaged over this fraction of the steps (at most MAX_WINDOW steps).
WINDOW_FRACTION, MAX_WINDOW = 0.1, 100
# Seconds between progress reports during training (each is a database write and an event for the add-on).
REPORT_EVERY = 0.25


@dataclass(frozen=True)
class TrainProgress:
    fraction: float
    message: str


def train_style(
    files: Mapping[str, Path],
    config: TrainConfig,
    data_dir: Path,
    *,
    device: str | None = None,
    label: str = "the images folder",
    on_progress: Callable[[TrainProgress], None] | None = None,
    check: Callable[[], None] | None = None,
) -> StyleCard:
    """Train `config.name` on `files` (relative name -> path) and publish it in the registry; returns its card."""
    stop = check or (lambda: None)
    report = on_progress or (lambda progress: None)
    images = check_request(files, config, data_dir, label)
    held = hold_out(images, config.validation_images, config.seed)
    train_images = [i for i in images if i.name not in held]
    held_images = [i for i in images if i.name in held]
    settings = trainable_settings(config.model, data_dir)
    where = choose_device(device)
    dtype = training_dtype(where, config.precision, settings.dtype)
    report(TrainProgress(0.0, f"loading model set {config.model}"))
    base = load_base_models(settings, data_dir, dtype)
    stop()
    with staged_style(data_dir, config.name, config.force) as (folder, commit), _memory_errors(where):
        trainer = LoraTrainer(
            base,
            rank=config.rank,
            learning_rate=config.learning_rate,
            device=where,
            dtype=dtype,
            gradient_checkpointing=config.gradient_checkpointing,
            seed=config.seed,
        )
        encoded = _Encoder(trainer, config.resolution, len(images), report, stop)
        examples = encoded(train_images)
        held_examples = encoded(held_images) if held_images else None
        loss_before = trainer.evaluate(held_examples) if held_examples else None

        started = reported = time.perf_counter()
        losses = []
        for step in range(1, config.steps + 1):
            stop()
            losses.append(trainer.step(examples.select(trainer.next_batch(len(examples), config.batch_size))))
            if time.perf_counter() - reported >= REPORT_EVERY or step == config.steps:
                reported = time.perf_counter()
                fraction = ENCODE_SHARE + TRAIN_SHARE * step / config.steps
                report(TrainProgress(fraction, f"training: step {step}/{config.steps}, loss {losses[-1]:.4f}"))
        seconds = time.perf_counter() - started
        loss_after = trainer.evaluate(held_examples) if held_examples else None

        report(TrainProgress(ENCODE_SHARE + TRAIN_SHARE, "rendering validation images"))
        renders = render_validation(
            base,
            _validation_prompts(held_images, encoded.pixels, config),
            folder / VALIDATION_DIR,
            VALIDATION_DIR,
            config.resolution,
            config.validation_steps,
            on_render=stop,
        )
        lora = trainer.save(folder, LORA_FILE)
        window = max(1, min(MAX_WINDOW, int(config.steps * WINDOW_FRACTION)))
        card = StyleCard(
            name=config.name,
            created=now_iso(),
            base_model=settings.name,
            engine="animatediff",
            base=settings.base.location,
            trigger=config.trigger_word,
            steps=config.steps,
            rank=config.rank,
            lora_alpha=float(config.rank),
            resolution=config.resolution,
            learning_rate=config.learning_rate,
            batch_size=config.batch_size,
            seed=config.seed,
            precision=str(dtype).removeprefix("torch."),
            gradient_checkpointing=config.gradient_checkpointing,
            device=str(where),
            images=[CardImage(file=i.name, caption=i.caption, sha256=i.sha256, held_out=i.name in held) for i in images],
            images_hash=images_hash(images),
            loss_curve=[round(loss, 6) for loss in losses],
            loss_start=float(np.mean(losses[:window])),
            loss_end=float(np.mean(losses[-window:])),
            validation_loss_before=loss_before,
            validation_loss_after=loss_after,
            validation=renders,
            train_seconds=round(seconds, 3),
            steps_per_second=round(config.steps / seconds, 3) if seconds > 0 else 0.0,
            lora_file=LORA_FILE,
            lora_sha256=sha256_file(lora),
        )
        write_card(folder, card)
        stop()
        commit()
    report(TrainProgress(1.0, f"style {config.name!r} is ready: use it with trigger {config.trigger_word!r}"))
    return card


def training_dtype(device: torch.device, precision: str, set_dtype: str) -> torch.dtype:
    """`auto`: the model set's half precision on a GPU, float32 on the CPU; half precision needs a GPU."""
    if precision == "auto":
        return choose_dtype(device, set_dtype)
    dtype = PRECISIONS[precision]
    if device.type == "cpu" and dtype != torch.float32:
        raise InputError("invalid_params", f"precision {precision} needs a GPU; on the CPU training runs in fp32")
    return dtype


class _Encoder:
    """Loads and encodes images one by one (cancellable, with progress), keeping the pixels for the renders."""

    def __init__(
        self,
        trainer: LoraTrainer,
        resolution: int,
        total: int,
        report: Callable[[TrainProgress], None],
        stop: Callable[[], None],
    ) -> None:
        self.trainer, self.resolution, self.total, self.report, self.stop = trainer, resolution, total, report, stop
        self.pixels: dict[str, np.ndarray] = {}

    def __call__(self, images: list[TrainingImage]) -> Examples:
        loaded = []
        for image in images:
            self.stop()
            self.pixels[image.name] = load(image, self.resolution)
            loaded.append(self.pixels[image.name])
            done = len(self.pixels)
            self.report(TrainProgress(ENCODE_SHARE * done / self.total, f"encoding image {done}/{self.total}"))
        return self.trainer.encode(loaded, [i.caption for i in images], on_item=self.stop)


def _validation_prompts(
    held: list[TrainingImage], pixels: dict[str, np.ndarray], config: TrainConfig
) -> list[tuple[str, np.ndarray | None]]:
    """Held-out captions with their images; with none held out, the trigger word alone."""
    if not config.validation_images:
        return []
    if held:
        return [(image.caption, pixels[image.name]) for image in held]
    return [(config.trigger_word, None)]


@contextmanager
def _memory_errors(device: torch.device) -> Iterator[None]:
    """Out of memory -> an EngineError saying what to lower; the memory is freed either way."""
    failed = False
    try:
        yield
    except torch.OutOfMemoryError:
        failed = True
    finally:
        release_memory(device)
    if failed:
        raise EngineError(
            f"out of {device.type.upper()} memory while training; lower the resolution, the batch size or the "
            "rank, or turn on gradient checkpointing"
        )
