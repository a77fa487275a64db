"""Loading a model set's weights: `from_pretrained` for hub ids and folders, `from_single_file` for files.

Loading never downloads: hub ids are read from the local Hugging Face cache
(`HF_HOME` / `HF_HUB_CACHE` decide where it is), so a job never stalls on the
network and offline machines behave like online ones. Fetching is an explicit
step, `underpaint models pull NAME` (`pull` here). A model that is not there is
an EngineError naming it and that command.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import diffusers
import torch
from diffusers import (
    AutoencoderKL,
    ControlNetModel,
    MotionAdapter,
    SchedulerMixin,
    StableDiffusionPipeline,
    UNet2DConditionModel,
    UNetMotionModel,
)
from huggingface_hub import snapshot_download
from transformers import CLIPTextModel, CLIPTokenizer

from ..base import EngineError
from ..sources import fetch_file
from .availability import CONFIG_PATTERNS, is_available, missing, pull_command, required_files
from .config import AnimateDiffSettings, Source
from .tiny import ensure_tiny_models


@dataclass
class Components:
    """Every model an AnimateDiff + ControlNet pipeline needs, loaded and ready."""

    unet: UNetMotionModel
    vae: AutoencoderKL
    text_encoder: CLIPTextModel
    tokenizer: CLIPTokenizer
    scheduler: SchedulerMixin
    controlnets: dict[str, ControlNetModel]
    # The draft: the same base with the set's step-distilled motion module, and the sampler it was made for.
    draft: Draft | None = None


@dataclass
class Draft:
    """The draft's motion UNet (the set's base with the distilled motion module) and its scheduler."""

    unet: UNetMotionModel
    scheduler: SchedulerMixin


def prepare(settings: AnimateDiffSettings, data_dir: Path | None) -> None:
    """Build what a set builds locally (the tiny models) before anything checks or loads it."""
    if settings.builder == "tiny":
        if data_dir is None:
            raise EngineError(f"model set {settings.name!r} is built in the data directory; none was given")
        ensure_tiny_models(data_dir)


def check_available(settings: AnimateDiffSettings) -> None:
    absent = missing(settings)
    if not absent:
        return
    listed = ", ".join(f"{role} ({source.location})" for role, source in absent.items())
    if any(source.kind == "hub" or source.repo for source in absent.values()):
        hint = f"run `{pull_command(settings)}` to download it"
    else:
        hint = "fix the path in models.toml"
    raise EngineError(f"model set {settings.name!r} is missing {listed}; {hint}")


def pull(settings: AnimateDiffSettings, data_dir: Path | None, log: Callable[[str], None] = print) -> None:
    """Download every hub model of the set (and the configs its single files need) into the HF cache."""
    if settings.builder:
        log(f"{settings.name}: building the {settings.builder} models in {data_dir}")
    prepare(settings, data_dir)
    for role, source in settings.sources().items():
        if source.kind == "hub":
            log(f"{role}: downloading {source.location}")
            patterns = [*CONFIG_PATTERNS, *required_files(role)]
            snapshot_download(source.location, allow_patterns=patterns)
        if source.kind == "file" and source.repo:
            log(f"{role}: downloading {source.location}")
            fetch_file(source.repo, source.path)
        if source.kind == "file" and source.config and not Path(source.config).is_dir():
            log(f"{role}: downloading the configs of {source.config}")
            snapshot_download(source.config, allow_patterns=CONFIG_PATTERNS)
        if not is_available(source, role):
            raise EngineError(
                f"model set {settings.name!r}: {role} ({source.location}) is not on this machine"
            )


def load_components(settings: AnimateDiffSettings, dtype: torch.dtype) -> Components:
    """Load every model of the set on the CPU in `dtype` (placing them on a device is `devices`' job)."""
    check_available(settings)
    try:
        return _load(settings, dtype)
    except OSError as exc:
        raise EngineError(
            f"model set {settings.name!r} could not be loaded ({exc}); run `{pull_command(settings)}` "
            "or check the paths in models.toml"
        ) from exc


def _load(settings: AnimateDiffSettings, dtype: torch.dtype) -> Components:
    unet, vae, text_encoder, tokenizer, scheduler_config = load_base(settings.base, dtype)
    if settings.vae is not None:
        vae = load_model(AutoencoderKL, settings.vae, dtype)
    adapter = load_model(MotionAdapter, settings.motion_adapter, dtype)
    motion_unet = UNetMotionModel.from_unet2d(unet, adapter)
    controlnets = {c: load_model(ControlNetModel, s, dtype) for c, s in settings.controlnets.items()}
    draft = None
    if settings.draft is not None:
        # A second motion UNet, not a swap of motion modules: Lightning's modules (AnimateDiff v2's layout,
        # with a motion mid block) need not match the set's own (v3 has none).
        draft_adapter = load_model(MotionAdapter, settings.draft.motion_adapter, dtype)
        draft = Draft(
            unet=UNetMotionModel.from_unet2d(unet, draft_adapter),
            scheduler=make_scheduler(settings, scheduler_config, draft=True),
        )
    return Components(
        unet=motion_unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=make_scheduler(settings, scheduler_config),
        controlnets=controlnets,
        draft=draft,
    )


def load_base(source: Source, dtype: torch.dtype) -> tuple[Any, ...]:
    """UNet, VAE, text encoder, tokenizer and scheduler config of an SD1.5-family base model."""
    if source.kind == "file":
        pipe = StableDiffusionPipeline.from_single_file(
            str(source.local_file()), config=source.config, torch_dtype=dtype, local_files_only=True
        )
        return pipe.unet, pipe.vae, pipe.text_encoder, pipe.tokenizer, pipe.scheduler.config
    where = {"pretrained_model_name_or_path": source.location, "local_files_only": True}
    return (
        UNet2DConditionModel.from_pretrained(**where, subfolder="unet", torch_dtype=dtype),
        AutoencoderKL.from_pretrained(**where, subfolder="vae", torch_dtype=dtype),
        CLIPTextModel.from_pretrained(**where, subfolder="text_encoder", dtype=dtype),
        CLIPTokenizer.from_pretrained(**where, subfolder="tokenizer"),
        diffusers.DDIMScheduler.load_config(**where, subfolder="scheduler"),
    )


def load_model(cls: Any, source: Source, dtype: torch.dtype) -> Any:
    """One diffusers model (VAE, motion adapter, ControlNet) from a hub id, a folder or a single file."""
    if source.kind == "file":
        return cls.from_single_file(
            str(source.local_file()), config=source.config, torch_dtype=dtype, local_files_only=True
        )
    return cls.from_pretrained(source.location, torch_dtype=dtype, local_files_only=True)


def make_scheduler(settings: AnimateDiffSettings, base_config: Any, draft: bool = False) -> SchedulerMixin:
    """The set's scheduler (its draft's, with `draft`), from the base model's scheduler config with the
    table's options on top."""
    table = settings.draft if draft else settings
    if table is None:
        raise EngineError(f"model set {settings.name!r} has no draft table")
    cls = getattr(diffusers, table.scheduler, None)
    if not (isinstance(cls, type) and issubclass(cls, SchedulerMixin)):
        raise EngineError(f"model set {settings.name!r}: {table.scheduler!r} is not a diffusers scheduler")
    scheduler_class: Any = cls  # diffusers is read as Any, so the check above narrows to a bare `type`
    return scheduler_class.from_config(base_config, **table.scheduler_options)
