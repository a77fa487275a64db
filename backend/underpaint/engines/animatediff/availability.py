"""Which models of an `animatediff` set are on this machine, without the network or diffusers.

Hub ids are looked up in the local Hugging Face cache (`HF_HOME` /
`HF_HUB_CACHE` decide where it is), folders and single files on disk. Cheap
enough for `/v1/health` to ask on every call.
"""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import try_to_load_from_cache

from .config import AnimateDiffSettings, Source

# What must be on disk for each kind of model (also what `pull` fetches, plus small json/txt files).
BASE_FILES = (
    "unet/config.json",
    "unet/diffusion_pytorch_model.safetensors",
    "vae/config.json",
    "vae/diffusion_pytorch_model.safetensors",
    "text_encoder/config.json",
    "text_encoder/model.safetensors",
    "tokenizer/tokenizer_config.json",
    "scheduler/scheduler_config.json",
)
MODEL_FILES = ("config.json", "diffusion_pytorch_model.safetensors")
CONFIG_PATTERNS = ["*.json", "*.txt"]


def pull_command(settings: AnimateDiffSettings) -> str:
    return f"underpaint models pull {settings.name}"


def required_files(role: str) -> tuple[str, ...]:
    """What a hub id or folder of this role must hold ('base' is a pipeline, the rest single models)."""
    return BASE_FILES if role == "base" else MODEL_FILES


def is_available(source: Source, role: str) -> bool:
    """Whether `source` can be loaded without the network."""
    if source.kind == "file":
        return source.local_file() is not None and (
            source.config is None or _configs_available(source.config)
        )
    files = required_files(role)
    if source.kind == "folder":
        return all((Path(source.location) / f).is_file() for f in files)
    return all(isinstance(try_to_load_from_cache(source.location, f), str) for f in files)


def _configs_available(config: str) -> bool:
    if Path(config).is_dir():
        return True
    return isinstance(try_to_load_from_cache(config, "model_index.json"), str) or isinstance(
        try_to_load_from_cache(config, "config.json"), str
    )


def missing(settings: AnimateDiffSettings) -> dict[str, Source]:
    """The models of the set that are not on this machine, by role."""
    return {role: source for role, source in settings.sources().items() if not is_available(source, role)}
