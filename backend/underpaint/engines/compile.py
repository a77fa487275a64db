"""Regional compilation: `torch.compile` of a transformer's repeated blocks, opt-in per model set.

diffusers' `compile_repeated_blocks` compiles each repeated block class (Wan's
transformer blocks) rather than the whole model, so the warm-up is that of one
block, not of thirty. What is compiled is kept twice:

- in the process, while the engine stays loaded: the next job of the same
  shape (frame size, window length) runs compiled from its first step; a new
  shape compiles once more (torch marks the changing sizes dynamic then);
- on disk, in `<data dir>/cache/torch-compile` (inductor's FX-graph and kernel
  caches): a restarted server compiles from the cache, in seconds.

Changing the modules inside the blocks (a style's or the draft's LoRA layers)
makes the first job with that change compile again. The step cache is not
offered with compiled blocks: its per-step state would recompile them every step.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Literal

import torch

log = logging.getLogger(__name__)

# never: eager; cuda: compiled when painting on a CUDA device (the opt-in for real sets); always: on any
# device (inductor on the CPU needs a C++ compiler; the tests' setting).
CompileMode = Literal["never", "cuda", "always"]


def cache_folder(data_dir: Path) -> Path:
    return Path(data_dir) / "cache" / "torch-compile"


def wants_compile(mode: CompileMode, device: torch.device) -> bool:
    return mode == "always" or (mode == "cuda" and device.type == "cuda")


def compile_repeated_blocks(model: torch.nn.Module, data_dir: Path, model_set: str) -> None:
    """Compile `model`'s repeated blocks in place (they compile on their first call), caching on disk."""
    # Read by inductor when it first needs the folder: set before any compiled block runs.
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache_folder(data_dir)))
    log.info("model set %s: the transformer's blocks compile on the first job of each shape", model_set)
    model.compile_repeated_blocks()  # type: ignore[operator]
