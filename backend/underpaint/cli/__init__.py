"""`underpaint` command line: serve | stylize | models | styles | qc | doctor | gc.

Each subcommand lives in its own module with `add_parser(subparsers)`, which
registers its arguments and sets `func`; this module only assembles them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from underpaint import __version__
from underpaint.cli.logs import LEVELS, configure

if TYPE_CHECKING:
    from pydantic import ValidationError

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


def describe_flag_errors(exc: ValidationError, flags: Mapping[str, str] | None = None) -> str:
    """A validation error of a command's params in the command line's words: '--steps must be ...'.

    Each error names the flag that set the field (`flags` maps the fields whose flag is not
    `--field-name`), never the API's field names or pydantic's 'Value error, ' prefixes.
    """
    parts = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        flag = (flags or {}).get(field) or "--" + field.replace("_", "-")
        flag = " ".join([flag, *(str(part) for part in error["loc"][1:] if isinstance(part, str))])
        message = str(error["msg"]).removeprefix("Value error, ").replace("Input should be", "must be")
        parts.append(f"{flag} {message}" if message.startswith("must") else f"{flag}: {message}")
    return "; ".join(parts)


def add_log_level_argument(parser: argparse.ArgumentParser, default: str) -> None:
    """--log-level: Underpaint's own lines at this level; `debug` also shows the libraries' notices."""
    parser.add_argument(
        "--log-level", choices=LEVELS, default=default,
        help=f"what to log (default: {default}); debug also shows the model libraries' notices and bars",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure(getattr(args, "log_level", "warning"))
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # `underpaint models list | head`: the reader left early, which is no error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # as the Python docs advise
        return 0

