"""`underpaint stylize SHOT_DIR --prompt P`: paint a shot package into `####.png` frames.

In-process it runs the same service as the server's `stylize` job
(`underpaint.paint.stylize.run_stylize`), so the take lands in the data dir's
take store like any job's; with `--server URL` it uploads the blobs the server
lacks, follows the job's events, and downloads the frames.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from underpaint.cli import add_data_dir_argument
from underpaint.control.registry import CONTROLS
from underpaint.engines.base import EngineError
from underpaint.errors import InputError

# Seconds between progress lines.
PRINT_EVERY = 2.0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "stylize",
        help="paint a shot package",
        description="Paint the shot package SHOT_DIR (exported by the Blender add-on) and write the frames as "
        "####.png (Blender frame numbers) into --out.",
    )
    parser.add_argument("shot", metavar="SHOT_DIR", type=Path, help="shot package folder (holds shot.json)")
    parser.add_argument("--prompt", required=True, help="what to paint")
    parser.add_argument("--negative-prompt", default="", help="what to avoid")
    parser.add_argument("--model", default=None, help="model set (default: the first one available)")
    parser.add_argument(
        "--seed", type=int, default=0, help="same seed + same inputs = same frames (default: 0)"
    )
    parser.add_argument("--steps", type=int, default=20, help="denoising steps (default: 20)")
    parser.add_argument("--guidance", type=float, default=7.5, help="classifier-free guidance (default: 7.5)")
    parser.add_argument(
        "--frames", metavar="A-B", type=frame_range, default=None, help="Blender frames A to B"
    )
    parser.add_argument(
        "--width", type=int, default=None, help="multiple of 8 (default: 512 on the long side)"
    )
    parser.add_argument(
        "--height", type=int, default=None, help="multiple of 8 (default: follows the aspect)"
    )
    parser.add_argument(
        "--controls",
        type=control_list,
        default=["depth"],
        metavar="LIST",
        help=f"comma-separated controls to follow: {', '.join(CONTROLS)} (default: depth)",
    )
    parser.add_argument("--use-color", action="store_true", help="paint over the shot's rough colour render")
    parser.add_argument(
        "--strength", type=float, default=0.6, help="with --use-color: how much to repaint (0-1]"
    )
    parser.add_argument(
        "--style",
        action="append",
        default=[],
        metavar="NAME[:STRENGTH]",
        type=style_ref,
        help="apply a trained style (repeatable), e.g. --style inkwash:0.8",
    )
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: ./<shot>-<take id>)")
    parser.add_argument(
        "--server", default=None, metavar="URL", help="paint on a running server, e.g. http://127.0.0.1:8765"
    )
    parser.add_argument("--token", default=None, help="the server's token, if it needs one")
    parser.add_argument(
        "--device", default=None, help="in-process: cuda, cuda:1, mps or cpu (default: the best)"
    )
    add_data_dir_argument(parser)
    parser.set_defaults(func=run)


def frame_range(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(-?\d+)\s*-\s*(-?\d+)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"frames must look like A-B (e.g. 1-48), got {text!r}")
    return int(match[1]), int(match[2])


def control_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONTROLS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"controls must be a comma-separated list of {', '.join(CONTROLS)}")
    return names


def style_ref(text: str) -> dict[str, Any]:
    name, _, strength = text.partition(":")
    try:
        return {"name": name, "weight": float(strength) if strength else 1.0}
    except ValueError:
        raise argparse.ArgumentTypeError(f"style strength must be a number, got {text!r}") from None


def job_params(args: argparse.Namespace) -> dict[str, Any]:
    """The `stylize` job's params (HTTP API v1), as the add-on would send them."""
    params: dict[str, Any] = {
        "prompt": args.prompt,
        "negative_prompt": args.negative_prompt,
        "seed": args.seed,
        "steps": args.steps,
        "guidance": args.guidance,
        "controls": {name: {} for name in args.controls},
        "use_color": args.use_color,
        "strength": args.strength,
        "styles": args.style,
    }
    optional = {"model": args.model, "width": args.width, "height": args.height, "frames": args.frames}
    params.update({key: value for key, value in optional.items() if value is not None})
    return params


class _Printer:
    """Progress lines, at most one every PRINT_EVERY seconds (and always the last)."""

    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self, fraction: float, message: str, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last >= PRINT_EVERY:
            self.last = now
            print(f"[{fraction * 100:5.1f}%] {message}", flush=True)


def run(args: argparse.Namespace) -> int:
    try:
        paths = run_on_server(args) if args.server else run_in_process(args)
    except (InputError, EngineError) as exc:
        print(f"underpaint stylize: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, InputError) else 1
    except ValidationError as exc:
        from underpaint.shot.package import describe_validation_error

        print(f"underpaint stylize: {describe_validation_error(exc)}", file=sys.stderr)
        return 2
    print(f"wrote {len(paths)} frames to {paths[0].parent if paths else args.out}")
    return 0


def run_in_process(args: argparse.Namespace) -> list[Path]:
    """Paint here, through the same service function as the server's job worker."""
    from underpaint.engines.pool import EngineCache
    from underpaint.paint.stylize import StylizeParams, run_stylize
    from underpaint.paths import data_dir
    from underpaint.server.catalog import model_catalog, pick_default_model
    from underpaint.server.services import style_resolver
    from underpaint.shot.package import load_package
    from underpaint.takes.store import TakeStore, frame_file_name

    directory = data_dir(args.data_dir)
    package = load_package(args.shot)
    params = StylizeParams.model_validate(job_params(args))
    printer = _Printer()
    takes = TakeStore.open(directory)
    take_id = run_stylize(
        package,
        params,
        takes=takes,
        engines=EngineCache(directory, args.device).get,
        default_model=None if args.model else pick_default_model(model_catalog(directory)),
        report=lambda progress: printer(progress.fraction, progress.message, progress.fraction >= 1),
        resolve_style=style_resolver(directory),
    )
    out = args.out or Path.cwd() / f"{package.shot.shot}-{take_id}"
    out.mkdir(parents=True, exist_ok=True)
    take = takes.get(take_id)
    return [_copy(takes.directory(take_id) / frame_file_name(f), out) for f in take.frames]


def _copy(source: Path, out: Path) -> Path:
    return Path(shutil.copy2(source, out / source.name))


def run_on_server(args: argparse.Namespace) -> list[Path]:
    """Upload what the server lacks, run the job there, follow it, download the take's frames."""
    from underpaint.client import ServerClient, ServerError

    printer = _Printer()
    with ServerClient(args.server, token=args.token) as client:
        try:
            upload = client.upload_package(args.shot)
            sent = f"uploaded {len(upload.sent)} files ({upload.bytes_sent} bytes), {upload.skipped} already there"
            printer(0.0, sent, True)
            job = client.submit("stylize", upload.shot, job_params(args))
        except ServerError as exc:
            raise EngineError(f"server refused: {exc.message} ({exc.code})") from exc
        try:
            final = _follow(client, job, printer)
        except KeyboardInterrupt:
            client.cancel(job)
            raise
        if final["state"] != "done":
            error = final.get("error") or {}
            raise EngineError(f"job {job} {final['state']}: {error.get('message', final.get('message', ''))}")
        take = final["take"]
        out = args.out or Path.cwd() / f"{client.take(take)['shot']}-{take}"
        return client.download_take(take, out)


def _follow(client: Any, job: str, printer: Callable[..., None]) -> dict[str, Any]:
    final = client.job(job)
    for event in client.events(job):
        final = event
        printer(event.get("progress", 0.0), event.get("message", event["state"]), event["state"] != "running")
    return final
