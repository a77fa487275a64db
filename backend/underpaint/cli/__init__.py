"""`underpaint` command line: serve | stylize | models | styles | qc | doctor | gc.

Each subcommand lives in its own module with `add_parser(subparsers)`, which
registers its arguments and sets `func`; this module only assembles them.
"""

from __future__ import annotations

import argparse
import importlib

from underpaint import __version__

# Modules under underpaint.cli, one per subcommand, in --help order.
SUBCOMMANDS = ("serve", "stylize", "models", "styles", "qc", "doctor", "gc")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="underpaint",
        description="Underpaint render server and tools: paint over Blender blocking with video diffusion.",
    )
    parser.add_argument("--version", action="version", version=f"underpaint {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"underpaint.cli.{name}").add_parser(subparsers)
    return parser


def add_data_dir_argument(parser: argparse.ArgumentParser) -> None:
    """Every command takes --data-dir (default: $UNDERPAINT_DATA_DIR or the platform's user data dir)."""
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        default=None,
        help="job database, takes, styles and cached test models (default: $UNDERPAINT_DATA_DIR "
        "or the platform's user data directory)",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)

