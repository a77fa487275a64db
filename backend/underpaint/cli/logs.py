"""What the user's console shows: Underpaint's own lines at the level asked, the libraries' noise only when asked.

The libraries under the engines talk a lot (dtype notices, LoRA key notices, a tqdm bar per
weight file) in words that mean nothing to an artist. At every level but `debug` they are kept to
their errors; the environment variables are set before those libraries are imported (they read
them once, at import), so this runs first, in `underpaint.cli.main`.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import warnings

LEVELS = ("debug", "info", "warning", "error")
# Loggers of the libraries the engines use, silenced but for errors unless the level is debug.
LIBRARIES = ("diffusers", "transformers", "huggingface_hub", "accelerate", "peft", "torch", "PIL", "httpx")
# Read by those libraries at import: their verbosity and their progress bars.
QUIET_ENVIRONMENT = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "DIFFUSERS_VERBOSITY": "error",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}


def configure(level: str = "info") -> None:
    """Log Underpaint's lines at `level` to stderr ('12:01:02 INFO job ... done'); quiet the libraries
    unless `level` is debug."""
    logging.basicConfig(format="%(asctime)s %(levelname)-7s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("underpaint").setLevel(level.upper())
    if level != "debug":
        quiet_libraries()


def quiet_libraries() -> None:
    """Keep the libraries' warnings, notices and progress bars out of the console (a variable the
    user set wins)."""
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    for name in LIBRARIES:
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"(diffusers|transformers|torch|peft|accelerate)(\.|$)")
    # Libraries imported already (a test session, a host program) read the variables too early.
    for name in ("diffusers", "transformers"):
        if name in sys.modules:
            importlib.import_module(f"{name}.utils.logging").disable_progress_bar()
    if "huggingface_hub" in sys.modules:
        importlib.import_module("huggingface_hub.utils").disable_progress_bars()
