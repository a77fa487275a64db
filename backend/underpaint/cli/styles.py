"""`underpaint styles train | list | show | delete`: teach the model a look from a folder of images, list what is
trained, remove what is not wanted."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from underpaint.cli import add_data_dir_argument, add_log_level_argument
from underpaint.engines.base import EngineError
from underpaint.errors import InputError
from underpaint.paths import data_dir

# Seconds between progress lines while training.
PRINT_EVERY = 2.0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "styles",
        help="train and list styles (LoRAs)",
        description="Train a style (a LoRA) from a folder of concept art, and list trained styles.",
    )
    commands = parser.add_subparsers(dest="styles_command", required=True, metavar="ACTION")

    train = commands.add_parser(
        "train",
        help="train a style from a folder of images",
        description="Train a style LoRA on IMAGES_DIR: PNG/JPEG/WebP images, each optionally with a NAME.txt "
        "caption beside it (else the trigger word is the caption). Images are scaled so their shorter side is "
        "the resolution, then centre-cropped to a square.",
    )
    train.add_argument("images", metavar="IMAGES_DIR", type=Path, help="folder of training images")
    train.add_argument("--name", required=True, help="the style's name, used as --style NAME later")
    train.add_argument("--model", default=None, help="model set to train on (default: the first one installed)")
    train.add_argument("--steps", type=int, default=1000, help="training steps (default: 1000)")
    train.add_argument("--rank", type=int, default=16, help="LoRA rank (default: 16)")
    train.add_argument("--resolution", type=int, default=512, help="training size in pixels (default: 512)")
    train.add_argument("--trigger", default="", help="word that calls up the style in prompts (default: the name)")
    train.add_argument("--force", action="store_true", help="replace an existing style of the same name")
    train.add_argument("--learning-rate", type=float, default=1e-4, help="AdamW learning rate (default: 1e-4)")
    train.add_argument("--batch-size", type=int, default=1, help="images per step (default: 1)")
    train.add_argument("--seed", type=int, default=0, help="seed for the LoRA init, noise and shuffling")
    train.add_argument(
        "--precision", choices=("auto", "fp32", "fp16", "bf16"), default="auto",
        help="auto: the model set's half precision on a GPU (mixed precision), fp32 on the CPU",
    )
    train.add_argument("--gradient-checkpointing", action="store_true", help="less GPU memory, slower steps")
    train.add_argument(
        "--validation-images", type=int, default=2,
        help="images held out of training and rendered at the end (at most one in four; default: 2)",
    )
    train.add_argument("--validation-steps", type=int, default=20, help="denoising steps per validation render")
    train.add_argument("--device", default=None, help="cuda, cuda:1, mps or cpu (default: the best available)")
    add_data_dir_argument(train)
    add_log_level_argument(train, "warning")
    train.set_defaults(func=run_train)

    listing = commands.add_parser("list", help="list trained styles", description="List the trained styles.")
    listing.add_argument("--json", action="store_true", help="print the list as JSON")
    add_data_dir_argument(listing)
    listing.set_defaults(func=run_list)

    show = commands.add_parser("show", help="print a style's card", description="Print a style's card as JSON.")
    show.add_argument("name", help="style name")
    add_data_dir_argument(show)
    show.set_defaults(func=run_show)

    delete = commands.add_parser("delete", help="remove a trained style",
                                 description="Remove a trained style: its LoRA, card and validation renders.")
    delete.add_argument("name", help="style name")
    add_data_dir_argument(delete)
    delete.set_defaults(func=run_delete)


def run_train(args: argparse.Namespace) -> int:
    from underpaint.styles.base_models import default_training_model
    from underpaint.styles.dataset import folder_files
    from underpaint.styles.train import TrainConfig, TrainProgress, train_style

    directory = data_dir(args.data_dir)
    last = [0.0]

    def report(progress: TrainProgress) -> None:
        now = time.monotonic()
        if now - last[0] >= PRINT_EVERY or progress.fraction >= 1.0:
            last[0] = now
            print(f"[{progress.fraction:4.0%}] {progress.message}", file=sys.stderr, flush=True)

    try:
        files = folder_files(args.images)  # a missing folder is said before the model set is looked for
        config = TrainConfig(
            name=args.name,
            model=args.model or default_training_model(directory),
            steps=args.steps,
            rank=args.rank,
            resolution=args.resolution,
            trigger=args.trigger,
            force=args.force,
            learning_rate=args.learning_rate,
            batch_size=args.batch_size,
            seed=args.seed,
            precision=args.precision,
            gradient_checkpointing=args.gradient_checkpointing,
            validation_images=args.validation_images,
            validation_steps=args.validation_steps,
        )
        card = train_style(
            files, config, directory, device=args.device, label=str(args.images), on_progress=report
        )
    except (InputError, EngineError) as exc:
        print(f"underpaint styles train: {train_error(exc, args)}", file=sys.stderr)
        return 2 if isinstance(exc, InputError) else 1
    except KeyboardInterrupt:
        print("underpaint styles train: cancelled; no style was written", file=sys.stderr)
        return 130
    print(f"style {card.name!r} trained on model set {card.base_model!r}: {card.steps} steps in "
          f"{card.train_seconds:.0f} s, loss {card.loss_start:.4f} -> {card.loss_end:.4f}")
    if card.validation_loss_before is not None:
        print(f"held-out loss {card.validation_loss_before:.4f} -> {card.validation_loss_after:.4f}")
    print(f"use it with: underpaint stylize ... --style {card.name!r}:0.8 and {card.trigger!r} in the prompt")
    return 0


def train_error(exc: InputError | EngineError, args: argparse.Namespace) -> str:
    """The error in the command line's words where the shared one names the API's fields."""
    if isinstance(exc, InputError) and exc.code == "style_exists":
        return f"a style named {args.name!r} already exists: choose another --name, or pass --force to replace it"
    return str(exc)


def run_list(args: argparse.Namespace) -> int:
    from underpaint.styles import list_styles

    summaries = [card.summary() for card in list_styles(data_dir(args.data_dir))]
    if args.json:
        print(json.dumps({"styles": [s.model_dump(mode="json") for s in summaries]}, indent=2))
        return 0
    if not summaries:
        print("no styles yet; train one with: underpaint styles train IMAGES_DIR --name NAME")
        return 0
    print(f"{'NAME':24} {'MODEL':12} {'TRIGGER':20} {'STEPS':>6} {'RANK':>4} {'IMAGES':>6}  CREATED")
    for s in summaries:
        print(f"{s.name:24} {s.base_model:12} {s.trigger:20} {s.steps:>6} {s.rank:>4} {s.images:>6}  {s.created}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from underpaint.styles import read_card

    try:
        card = read_card(data_dir(args.data_dir), args.name)
    except InputError as exc:
        print(f"underpaint styles show: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(card.model_dump(mode="json"), indent=2))
    return 0


def run_delete(args: argparse.Namespace) -> int:
    from underpaint.styles.registry import delete_style

    try:
        card = delete_style(data_dir(args.data_dir), args.name)
    except InputError as exc:
        print(f"underpaint styles delete: {exc}", file=sys.stderr)
        return 2
    print(f"deleted style {card.name!r} (model set {card.base_model!r})")
    return 0
