"""Whether a `wan-vace` set's pipeline is on this machine, without the network or diffusers."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import snapshot_download
from huggingface_hub.errors import LocalEntryNotFoundError

# What `pull` fetches of a VACE repository: the pipeline's folders, nothing else the repo may hold.
PIPELINE_FILES = [
    "model_index.json",
    "scheduler/*",
    "text_encoder/*",
    "tokenizer/*",
    "transformer/*",
    "vae/*",
]


def local_folder(pipeline: str) -> Path | None:
    """The diffusers folder `pipeline` names on this machine (a path, or a hub id in the HF cache), else None."""
    if (Path(pipeline).expanduser() / "model_index.json").is_file():
        return Path(pipeline).expanduser()
    try:
        return Path(snapshot_download(pipeline, allow_patterns=PIPELINE_FILES, local_files_only=True))
    except (LocalEntryNotFoundError, ValueError, OSError):
        return None
