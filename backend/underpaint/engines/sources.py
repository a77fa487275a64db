"""Weight files inside Hugging Face repositories: found in the local cache, fetched only by `pull`.

Some models ship as one file among many in a repository (AnimateDiff-Lightning's
4-step module, Wan's distillation LoRAs): a model set names them as
`{ repo = "owner/name", path = "file.safetensors" }`. Painting reads them from
the local cache (`HF_HOME` / `HF_HUB_CACHE`) and never downloads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from huggingface_hub import hf_hub_download, try_to_load_from_cache
from pydantic import Field, ValidationInfo, field_validator, model_validator

from .config import StrictModel, expand_path


def cached_file(repo: str, filename: str) -> Path | None:
    """`filename` of hub repository `repo` in the local cache, else None (no network)."""
    found = try_to_load_from_cache(repo, filename)
    return Path(found) if isinstance(found, str) else None


def local_weights(path: str, repo: str | None) -> Path | None:
    """File `path` on this machine: inside hub repository `repo` (from the cache) or on disk; else None."""
    if repo:
        return cached_file(repo, path)
    return Path(path) if Path(path).is_file() else None


def weights_location(path: str, repo: str | None) -> str:
    """How a file is named to the artist: `owner/name/file.safetensors` for a hub file, else its path."""
    return f"{repo}/{path}" if repo else path


def fetch_file(repo: str, filename: str) -> Path:
    """Download `filename` of `repo` into the cache (`underpaint models pull` only)."""
    return Path(hf_hub_download(repo, filename))


class FileSource(StrictModel):
    """One .safetensors file: a path on disk (`"..."` or `{path = "..."}`), or `{repo = "...", path = "..."}`."""

    path: str = Field(min_length=1, pattern=r"\.safetensors$")
    repo: str | None = Field(None, pattern=r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"path": value} if isinstance(value, str) else value

    @field_validator("path")
    @classmethod
    def _expand(cls, value: str, info: ValidationInfo) -> str:
        return expand_path(value, info)

    @property
    def location(self) -> str:
        return weights_location(self.path, self.repo)

    def local(self) -> Path | None:
        """The file on this machine, else None."""
        return local_weights(self.path, self.repo)

    def fetch(self) -> Path | None:
        """Download a hub file (a path on disk is left as it is); the file, or None when it is not there."""
        return fetch_file(self.repo, self.path) if self.repo else self.local()
