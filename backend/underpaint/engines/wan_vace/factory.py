"""The `wan-vace` engine's factory: what a set can do and has, without loading diffusers."""

from __future__ import annotations

import importlib
from pathlib import Path

from ...control.registry import CONTROLS
from ..base import Capabilities, Component, Engine, Log
from ..registry import ModelSet
from .availability import local_folder
from .config import VaceOptions, parse_options

# Wan's VAE: 8x spatially, 4x temporally; the transformer's 2x2 patches make the size multiple 16.
SIZE_MULTIPLE = 16
TEMPORAL = 4


def options_capabilities(options: VaceOptions) -> Capabilities:
    """One control video, masks, reference images, styles, video-to-video, the step cache (unless the set
    compiles its blocks), a draft where the set has a draft LoRA; windows of 4k+1 frames."""
    return Capabilities(
        controls=tuple(c for c in CONTROLS if c in options.controls),
        native_size=options.native_size,
        size_multiple=SIZE_MULTIPLE,
        window=options.window,
        context=options.overlap,
        frame_multiple=TEMPORAL,
        frame_remainder=1,
        references=True,
        cache=options.compile == "never",
        draft=None if options.draft is None else options.draft.schedule(),
    )


class WanVaceFactory:
    name = "wan-vace"

    def capabilities(self, model_set: ModelSet, data_dir: Path | None) -> Capabilities:
        return options_capabilities(parse_options(model_set, data_dir))

    def components(self, model_set: ModelSet, data_dir: Path | None) -> list[Component]:
        options = parse_options(model_set, data_dir)
        if options.builder:
            # Built on first use, the draft LoRA with the pipeline: present as far as painting is concerned.
            built = [Component("pipeline", f"built locally ({options.builder})", True)]
            return built + ([Component("draft.lora", options.draft.lora.location, True)] if options.draft else [])
        components = [Component("pipeline", options.pipeline, local_folder(options.pipeline) is not None)]
        if options.draft:
            lora = options.draft.lora
            components.append(Component("draft.lora", lora.location, lora.local() is not None))
        return components

    def pull(self, model_set: ModelSet, data_dir: Path, log: Log) -> None:
        from .loading import pull

        pull(parse_options(model_set, data_dir), data_dir, log)

    def preload(self) -> None:
        importlib.import_module(".engine", __package__)

    def load(self, model_set: ModelSet, data_dir: Path, device: str | None) -> Engine:
        from .engine import WanVaceEngine

        return WanVaceEngine(model_set, data_dir, device)


FACTORY = WanVaceFactory()
