"""The `animatediff` engine's factory: what a set can do and has, without loading diffusers."""

from __future__ import annotations

import importlib
from pathlib import Path

from ..base import Capabilities, Component, Engine, Log
from ..registry import ModelSet
from .availability import missing
from .config import AnimateDiffSettings, parse_settings

# SD1.5's latents are 1/8 of the frame, and its UNet halves them three times.
SIZE_MULTIPLE = 8


def settings_capabilities(settings: AnimateDiffSettings, controls: tuple[str, ...] | None = None) -> Capabilities:
    """What a set can do: a ControlNet per listed control (at least one per request), masks, styles,
    video-to-video, a draft where the set has draft models; no reference images."""
    return Capabilities(
        controls=tuple(settings.controlnets) if controls is None else controls,
        native_size=settings.native_size,
        size_multiple=SIZE_MULTIPLE,
        window=settings.window,
        context=settings.overlap,
        control_required=True,
        references=False,
        draft=None if settings.draft is None else settings.draft.schedule(),
    )


class AnimateDiffFactory:
    name = "animatediff"

    def capabilities(self, model_set: ModelSet, data_dir: Path | None) -> Capabilities:
        return settings_capabilities(parse_settings(model_set, data_dir))

    def components(self, model_set: ModelSet, data_dir: Path | None) -> list[Component]:
        settings = parse_settings(model_set, data_dir)
        # A built set's models are made on first use: present as far as painting is concerned.
        absent = {} if settings.builder else missing(settings)
        return [Component(role, source.location, role not in absent) for role, source in settings.sources().items()]

    def pull(self, model_set: ModelSet, data_dir: Path, log: Log) -> None:
        from .loading import pull

        pull(parse_settings(model_set, data_dir), data_dir, log)

    def preload(self) -> None:
        importlib.import_module(".engine", __package__)

    def load(self, model_set: ModelSet, data_dir: Path, device: str | None) -> Engine:
        from .engine import AnimateDiffEngine

        return AnimateDiffEngine(model_set, data_dir, device)


FACTORY = AnimateDiffFactory()
