"""`underpaint models list | pull`: which model sets are on this machine, and fetching one.

Painting never downloads; this is where downloading happens, into the Hugging
Face cache (`HF_HOME` / `HF_HUB_CACHE` choose where). Engines answer for their
own sets through their factory (`EngineFactory.components`, `.pull`).
"""

from __future__ import annotations

import argparse
import sys

from underpaint.cli import add_data_dir_argument
from underpaint.engines.base import EngineError, available
from underpaint.engines.registry import SetFacts, engine_factory, get_model_set, load_model_sets
from underpaint.paths import data_dir


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list model sets and download them",
        description="Model sets (models.toml): list what is on this machine, download a set before painting.",
    )
    commands = parser.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    listing = commands.add_parser(
        "list", help="list model sets and which of their models are here", description="List the model sets."
    )
    add_data_dir_argument(listing)
    listing.set_defaults(func=run_list)
    pull = commands.add_parser(
        "pull",
        help="download a model set into the Hugging Face cache",
        description="Download every model of set NAME (or build it, for sets built locally such as 'tiny').",
    )
    pull.add_argument("name", metavar="NAME", help="model set name, as `underpaint models list` shows it")
    add_data_dir_argument(pull)
    pull.set_defaults(func=run_pull)


def run_list(args: argparse.Namespace) -> int:
    directory = data_dir(args.data_dir)
    try:
        sets = load_model_sets(directory)
    except EngineError as exc:
        print(f"underpaint models: {exc}", file=sys.stderr)
        return 1
    for model_set in sets.values():
        try:
            factory = engine_factory(model_set.engine)
            components = factory.components(model_set, directory)
            controls = factory.capabilities(model_set, directory).controls
        except EngineError as exc:
            print(f"{model_set.name}  [{model_set.engine}]  unusable: {exc}")
            continue
        if model_set.components.get("builder"):
            state = "built on first use"
        else:
            state = "available" if all(c.present for c in components) else "missing"
        print(f"{model_set.name}  [{model_set.engine}]  {state}  controls: {', '.join(controls)}")
        if model_set.description:
            print(f"    {model_set.description}")
        for line in fact_lines(model_set.facts):
            print(f"    {line}")
        for component in components:
            print(f"    {component.role:<20} {'here   ' if component.present else 'missing'}  {component.location}")
    print(f"\n(data dir: {directory}; `underpaint models pull NAME` downloads a set)")
    return 0


def fact_lines(facts: SetFacts) -> list[str]:
    """'download about 12 GB, needs about 8 GB of GPU memory', the speed, what the set is for."""
    sizes = [f"download about {facts.download_gb:g} GB" if facts.download_gb is not None else "",
             f"needs about {facts.vram_gb:g} GB of GPU memory" if facts.vram_gb is not None else ""]
    lines = [", ".join(filter(None, sizes)), f"speed: {facts.speed}" if facts.speed else "",
             f"use for: {facts.use_for}" if facts.use_for else ""]
    return [line for line in lines if line]


def run_pull(args: argparse.Namespace) -> int:
    directory = data_dir(args.data_dir)
    try:
        model_set = get_model_set(args.name, directory)
        factory = engine_factory(model_set.engine)
        factory.pull(model_set, directory, lambda line: print(line, flush=True))
        if not available(factory, model_set, directory):
            raise EngineError(f"model set {model_set.name!r} is still not complete on this machine")
    except EngineError as exc:
        print(f"underpaint models pull: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # network or disk trouble while downloading
        print(f"underpaint models pull: download of {args.name!r} failed: {exc}", file=sys.stderr)
        return 1
    print(f"{model_set.name}: ready")
    return 0
