"""The style registry: one folder per trained style under `<data dir>/styles/<name>/`.

A style folder holds `lora.safetensors` (diffusers format, loadable by
`load_lora_weights`), `card.json` (`StyleCard`) and `validation/` renders.
Styles appear only whole: training writes into a hidden staging folder next
to the registry and renames it into place as its very last step, so a
cancelled, failed or killed training leaves no half-written style — at most
a hidden `.train-*` folder, which listings ignore and the next training
removes once the process that made it is gone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError

from underpaint.engines.base import StyleRef
from underpaint.errors import InputError, NotFound

from .card import StyleCard

STYLES_DIR = "styles"
CARD_FILE = "card.json"
LORA_FILE = "lora.safetensors"
VALIDATION_DIR = "validation"
STAGING_PREFIX = ".train-"
# The same names the stylize params accept: they become folder names, so no separators and no leading dot.
# 1-64 letters, digits, spaces, '_', '-', '.'; a letter or digit first; no space or dot last (the OpenAPI says it).
NAME_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9 _.-]{0,62}[A-Za-z0-9_-])?$"
_NAME = re.compile(NAME_PATTERN)
MAX_STRENGTH = 2.0


def styles_root(data_dir: Path) -> Path:
    return data_dir / STYLES_DIR


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InputError(
            "invalid_style_name",
            f"style name {str(name)[:80]!r} is not allowed: use 1-64 letters, digits, spaces, '_', '-' or '.', "
            "starting with a letter or digit and not ending in a space or dot",
        )
    return name


def style_dir(data_dir: Path, name: str) -> Path:
    return styles_root(data_dir) / check_name(name)


def style_exists(data_dir: Path, name: str) -> bool:
    return style_dir(data_dir, name).exists()


def refuse_existing(data_dir: Path, name: str, force: bool) -> None:
    """A name that is taken is an error unless the caller asked to replace it."""
    if not force and style_exists(data_dir, name):
        raise InputError(
            "style_exists",
            f"a style named {name!r} already exists: choose another name, or replace it (\"force\": true)",
            409,
        )


def read_card(data_dir: Path, name: str) -> StyleCard:
    folder = style_dir(data_dir, name)
    path = folder / CARD_FILE
    if not path.is_file():
        known = ", ".join(card.name for card in list_styles(data_dir)) or "none yet"
        raise NotFound("unknown_style", f"no style named {name!r}; trained styles: {known}")
    try:
        return StyleCard.model_validate_json(path.read_bytes())
    except (ValidationError, ValueError) as exc:
        raise InputError("corrupt_style", f"style {name!r}: {path} is not a valid style card ({exc})", 500) from exc


def delete_style(data_dir: Path, name: str) -> StyleCard:
    """Remove a trained style whole: renamed out of the listing first, so it never shows half-deleted."""
    card = read_card(data_dir, name)
    folder = style_dir(data_dir, name)
    hidden = folder.with_name(f".deleted-{folder.name}-{os.getpid()}")
    os.replace(folder, hidden)
    shutil.rmtree(hidden, ignore_errors=True)
    return card


def list_styles(data_dir: Path) -> list[StyleCard]:
    """Every complete style (a readable card beside its LoRA), by name; anything else in the folder is skipped."""
    root = styles_root(data_dir)
    if not root.is_dir():
        return []
    cards = []
    for folder in sorted(root.iterdir(), key=lambda p: p.name.lower()):
        if folder.name.startswith(".") or not (folder / LORA_FILE).is_file():
            continue
        try:
            cards.append(StyleCard.model_validate_json((folder / CARD_FILE).read_bytes()))
        except (OSError, ValidationError, ValueError):
            continue
    return cards


def check_strength(weight: float) -> float:
    if not -MAX_STRENGTH <= weight <= MAX_STRENGTH:
        raise InputError("invalid_style", f"style strength {weight} is outside [-{MAX_STRENGTH}, {MAX_STRENGTH}]")
    return weight


def resolve_style(name: str, weight: float, data_dir: Path) -> StyleRef:
    """The LoRA of style `name` at `weight`, carrying the base model set it was trained on.

    The engine refuses to apply it to any other model set (`StyleRef.base_model`).
    """
    try:
        card = read_card(data_dir, name)
    except NotFound as exc:
        # A request naming a style that does not exist is bad input (400), not a missing resource.
        raise InputError(exc.code, exc.message) from None
    path = style_dir(data_dir, name) / card.lora_file
    if not path.is_file():
        raise InputError("corrupt_style", f"style {name!r} has lost its LoRA file {path}", 500)
    return StyleRef(path=str(path), weight=check_strength(weight), name=name, base_model=card.base_model)


@contextmanager
def staged_style(data_dir: Path, name: str, force: bool) -> Iterator[tuple[Path, StyleCommit]]:
    """A hidden folder to write a style into, and `commit()` to publish it as `name` in one rename.

    Leaving the block without committing (an error, a cancel) removes the folder.
    """
    root = styles_root(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(root)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=root))
    try:
        yield staging, StyleCommit(staging, style_dir(data_dir, name), force)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class StyleCommit:
    """Publishes a staged style folder under its name; with `force`, replaces an existing style."""

    def __init__(self, staging: Path, target: Path, force: bool) -> None:
        self.staging, self.target, self.force = staging, target, force

    def __call__(self) -> Path:
        _fsync_tree(self.staging)
        if not self.target.exists():
            try:
                os.rename(self.staging, self.target)
                return self.target
            except OSError:
                if not self.target.exists():
                    raise
        if not self.force:
            raise InputError("style_exists", f"a style named {self.target.name!r} appeared while training", 409)
        # Move the old style aside first: a rename onto a non-empty folder fails on every platform.
        retired = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-old-", dir=self.target.parent))
        os.rename(self.target, retired / "style")
        os.rename(self.staging, self.target)
        shutil.rmtree(retired, ignore_errors=True)
        return self.target


def write_card(folder: Path, card: StyleCard) -> None:
    (folder / CARD_FILE).write_text(json.dumps(card.model_dump(mode="json"), indent=2) + "\n")


def _fsync_tree(folder: Path) -> None:
    """Flush every file of the staged style to disk, so the rename never publishes empty files after a crash."""
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as f:
                os.fsync(f.fileno())


def _remove_abandoned(root: Path) -> None:
    """Staging folders of trainings whose process is gone (killed, crashed)."""
    for folder in root.glob(f"{STAGING_PREFIX}*"):
        pid = folder.name[len(STAGING_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    # On Windows os.kill(pid, 0) would terminate the process: there, staging folders are kept.
    if pid == os.getpid() or os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
