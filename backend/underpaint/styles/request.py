"""What to train, and every check a training request can fail before a model loads.

Kept free of torch, diffusers and peft: the server runs `check_request` when a
`train_style` job is submitted, and importing the training stack there would
stall the server's start-up (every job kind is imported then) or the first
submit by several seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from underpaint.engines.animatediff.config import AnimateDiffSettings, parse_settings
from underpaint.engines.base import EngineError
from underpaint.engines.registry import get_model_set
from underpaint.errors import InputError

from .dataset import TrainingImage, scan
from .registry import check_name, refuse_existing

# Engines whose model sets have an SD1.5-family base that a style LoRA can train on.
TRAINABLE_ENGINES = ("animatediff",)
# Training precisions besides `auto`; `underpaint.styles.train` maps each to its torch dtype.
PRECISION_NAMES = ("fp32", "fp16", "bf16")


@dataclass(frozen=True)
class TrainConfig:
    """What to train: the style's name, the model set it is for, and the recipe's knobs."""

    name: str
    model: str
    steps: int = 1000
    rank: int = 16
    resolution: int = 512
    trigger: str = ""
    force: bool = False
    learning_rate: float = 1e-4
    batch_size: int = 1
    seed: int = 0
    precision: str = "auto"
    gradient_checkpointing: bool = False
    validation_images: int = 2
    validation_steps: int = 20

    @property
    def trigger_word(self) -> str:
        """The word that calls up the style in prompts: `trigger`, else the style's name."""
        return self.trigger.strip() or self.name

    def check(self) -> None:
        """Every out-of-range setting as an InputError naming it."""
        check_name(self.name)
        _within("steps", self.steps, 1, 100_000)
        _within("rank", self.rank, 1, 256)
        _within("resolution", self.resolution, 8, 2048)
        if self.resolution % 8:
            raise InputError("invalid_params", f"resolution must be a multiple of 8, got {self.resolution}")
        if not 0 < self.learning_rate <= 1:
            raise InputError("invalid_params", f"learning rate must be in (0, 1], got {self.learning_rate}")
        _within("batch size", self.batch_size, 1, 64)
        _within("validation images", self.validation_images, 0, 8)
        _within("validation steps", self.validation_steps, 1, 150)
        if self.precision not in ("auto", *PRECISION_NAMES):
            raise InputError(
                "invalid_params", f"precision must be auto, {', '.join(PRECISION_NAMES)}; got {self.precision!r}"
            )
        if len(self.trigger) > 200 or any(c in self.trigger for c in "\r\n\0"):
            raise InputError("invalid_params", "the trigger must be one line of at most 200 characters")


def check_request(files: Mapping[str, Path], config: TrainConfig, data_dir: Path, label: str) -> list[TrainingImage]:
    """Everything that can be refused before a model loads: settings, name, model set, images."""
    config.check()
    refuse_existing(data_dir, config.name, config.force)
    trainable_settings(config.model, data_dir)
    return scan(files, config.resolution, config.trigger_word, label)


def trainable_settings(model: str, data_dir: Path) -> AnimateDiffSettings:
    """The settings of model set `model`, refusing sets a style cannot be trained on."""
    try:
        model_set = get_model_set(model, data_dir)
    except EngineError as exc:
        raise InputError("unknown_model", str(exc)) from exc
    if model_set.engine not in TRAINABLE_ENGINES:
        raise InputError(
            "model_not_trainable",
            f"model set {model!r} (engine {model_set.engine!r}) cannot be trained on; styles train on "
            f"model sets of the {', '.join(TRAINABLE_ENGINES)} engine (a Stable Diffusion 1.5 base)",
        )
    return parse_settings(model_set, data_dir)


def _within(label: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError("invalid_params", f"{label} must be an integer from {low} to {high}, got {value!r}")
