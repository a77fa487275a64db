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
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from underpaint.cli import add_data_dir_argument, add_log_level_argument, describe_flag_errors
from underpaint.control.registry import CONTROLS
from underpaint.engines.base import EngineError
from underpaint.errors import InputError

# Seconds between progress lines (when the output is not a terminal).
PRINT_EVERY = 2.0
# Characters of the progress bar on a terminal.
BAR_WIDTH = 24
# The frame files a take folder holds (`####.png`, Blender frame numbers); what --overwrite replaces.
FRAME_FILE = re.compile(r"-?\d+\.png")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Video-to-video's strength when --use-color is given without --strength.
DEFAULT_STRENGTH = 0.6


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "stylize",
        help="paint a shot package",
        description="Paint the shot package SHOT_DIR (exported by the Blender add-on) and write the frames as "
        "####.png (Blender frame numbers) into --out.",
    )
    parser.add_argument("shot", metavar="SHOT_DIR", type=Path, help="shot package folder (holds shot.json)")
    parser.add_argument("--prompt", required=True, help="what to paint")
    parser.add_argument(
        "--prompt-at", action="append", default=[], metavar="FRAME:PROMPT", type=prompt_key,
        help="from Blender frame FRAME on, paint PROMPT instead (repeatable: a prompt schedule)",
    )
    parser.add_argument("--negative-prompt", default="", help="what to avoid")
    parser.add_argument("--model", default=None, help="model set (default: the first one available)")
    parser.add_argument(
        "--seed", type=int, default=0, help="same seed + same inputs = same frames (default: 0)"
    )
    parser.add_argument("--steps", type=int, default=20, help="denoising steps (default: 20)")
    parser.add_argument("--guidance", type=float, default=7.5, help="classifier-free guidance (default: 7.5)")
    parser.add_argument(
        "--cache", action="store_true",
        help="reuse predicted transformer work between steps: faster, slightly different (wan-vace sets)",
    )
    parser.add_argument(
        "--draft", action="store_true",
        help="paint with the model set's step-distilled draft models (a few steps, no guidance: seconds on a "
        "GPU) in place of --steps and --guidance, which the take keeps for a final re-render",
    )
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
        default={"depth": {}},
        metavar="LIST",
        help=f"comma-separated controls to follow, each NAME[:WEIGHT[:START-END]] with NAME one of "
        f"{', '.join(CONTROLS)}, WEIGHT 0-2 (default 1) and START-END the part of the denoising it steers "
        "(fractions, default 0-1), e.g. depth:0.8,pose:1:0-0.6 (default: depth)",
    )
    parser.add_argument(
        "--fit", choices=("crop", "letterbox"), default=None,
        help="when the size's aspect differs from the camera's: crop the passes to fill it, or letterbox "
        "them to keep the whole frame (default: crop)",
    )
    parser.add_argument(
        "--reference", action="append", default=[], metavar="PNG", type=Path,
        help="a PNG image carrying the look (repeatable, up to 4; model sets that take them: wan-vace)",
    )
    parser.add_argument("--use-color", action="store_true", help="paint over the shot's rough colour render")
    parser.add_argument(
        "--strength", type=float, default=None,
        help=f"with --use-color: how much to repaint (0-1], default {DEFAULT_STRENGTH}",
    )
    parser.add_argument(
        "--style",
        action="append",
        default=[],
        metavar="NAME[:STRENGTH]",
        type=style_ref,
        help="apply a trained style (repeatable), e.g. --style inkwash:0.8",
    )
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: ./<take id>); refused if it holds frames, unless --overwrite")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the frames (####.png) already in --out; nothing else there is touched")
    parser.add_argument(
        "--server", default=None, metavar="URL", help="paint on a running server, e.g. http://127.0.0.1:8765"
    )
    parser.add_argument("--token", default=None, help="the server's token, if it needs one")
    parser.add_argument(
        "--device", default=None, help="in-process: cuda, cuda:1, mps or cpu (default: the best)"
    )
    add_data_dir_argument(parser)
    add_log_level_argument(parser, "warning")
    parser.set_defaults(func=run)


def frame_range(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(-?\d+)\s*-\s*(-?\d+)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"frames must look like A-B (e.g. 1-48), got {text!r}")
    return int(match[1]), int(match[2])


def control_list(text: str) -> dict[str, dict[str, float]]:
    """'depth:0.8,pose:1:0-0.6' -> {"depth": {"weight": 0.8}, "pose": {"weight": 1.0, "start": 0.0, "end": 0.6}}."""
    controls: dict[str, dict[str, float]] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, *rest = item.split(":")
        if name not in CONTROLS or len(rest) > 2:
            raise argparse.ArgumentTypeError(
                f"controls must be a comma-separated list of {', '.join(CONTROLS)}, each NAME[:WEIGHT[:START-END]]"
            )
        setting: dict[str, float] = {}
        try:
            if rest:
                setting["weight"] = float(rest[0])
            if len(rest) == 2:
                start, _, end = rest[1].partition("-")
                setting["start"], setting["end"] = float(start), float(end)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{item!r}: the weight and START-END of a control are numbers, e.g. pose:1:0-0.6"
            ) from None
        controls[name] = setting
    if not controls:
        raise argparse.ArgumentTypeError(f"controls must be a comma-separated list of {', '.join(CONTROLS)}")
    return controls


def prompt_key(text: str) -> dict[str, Any]:
    frame, sep, prompt = text.partition(":")
    try:
        number = int(frame)
    except ValueError:
        number = None
    if not sep or number is None or not prompt.strip():
        raise argparse.ArgumentTypeError(f"--prompt-at takes FRAME:PROMPT, e.g. 25:a storm rolls in; got {text!r}")
    return {"frame": number, "prompt": prompt.strip()}


def style_ref(text: str) -> dict[str, Any]:
    name, _, strength = text.partition(":")
    try:
        return {"name": name, "weight": float(strength) if strength else 1.0}
    except ValueError:
        raise argparse.ArgumentTypeError(f"style strength must be a number, got {text!r}") from None


def job_params(args: argparse.Namespace, references: list[str] | None = None) -> dict[str, Any]:
    """The `stylize` job's params (HTTP API v1), as the add-on would send them; `references`: the
    sha256s of the --reference images, once stored where the painting reads them."""
    params: dict[str, Any] = {
        "prompt": args.prompt,
        "negative_prompt": args.negative_prompt,
        "seed": args.seed,
        "steps": args.steps,
        "guidance": args.guidance,
        "controls": args.controls,
        "prompts": args.prompt_at,
        "use_color": args.use_color,
        "strength": DEFAULT_STRENGTH if args.strength is None else args.strength,
        "styles": args.style,
        "references": references or [],
        "cache": args.cache,
        "quality": "draft" if args.draft else "final",
    }
    optional = {"model": args.model, "width": args.width, "height": args.height, "frames": args.frames,
                "fit": args.fit}
    params.update({key: value for key, value in optional.items() if value is not None})
    return params


class _Printer:
    """Progress for the console: on a terminal one bar rewritten in place, else a line at most every
    PRINT_EVERY seconds (and always the last), each with the time spent and the time left."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.bar = self.stream.isatty()
        self.started = time.monotonic()
        self.last = 0.0

    def __call__(self, fraction: float, message: str, force: bool = False, eta: float | None = None) -> None:
        now = time.monotonic()
        if not (force or self.bar or now - self.last >= PRINT_EVERY):
            return
        self.last = now
        timing = duration(now - self.started) + (f", about {duration(eta)} left" if eta and eta >= 1 else "")
        if self.bar:
            filled = int(fraction * BAR_WIDTH)
            line = f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {fraction * 100:3.0f}% {message} ({timing})"
            self.stream.write(line[:200].ljust(100) + ("\n" if force else ""))
            self.stream.flush()
        else:
            print(f"[{fraction * 100:5.1f}%] {message} ({timing})", file=self.stream, flush=True)


def duration(seconds: float) -> str:
    """'8 s', '2 min 05 s', '1 h 02 min'."""
    seconds = max(int(round(seconds)), 0)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def run(args: argparse.Namespace) -> int:
    try:
        check_arguments(args)
        paths = run_on_server(args) if args.server else run_in_process(args)
    except (InputError, EngineError) as exc:
        print(f"underpaint stylize: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, InputError) else 1
    except ValidationError as exc:
        print(f"underpaint stylize: {describe_flag_errors(exc, {'styles': '--style'})}", file=sys.stderr)
        return 2
    print(f"wrote {len(paths)} frames to {paths[0].parent if paths else args.out}")
    return 0


def check_arguments(args: argparse.Namespace) -> None:
    """What can be refused before anything loads: flags that do nothing, an --out holding another run."""
    if args.strength is not None and not args.use_color:
        raise InputError(
            "invalid_params", "--strength only applies with --use-color (how far to repaint the colour render): "
            "add --use-color, or drop --strength",
        )
    for image in args.reference:
        if not image.is_file():
            raise InputError("invalid_params", f"--reference {image} does not exist")
        with image.open("rb") as f:
            if f.read(8) != PNG_SIGNATURE:
                raise InputError("invalid_params", f"--reference {image} is not a PNG image; save it as PNG")
    if args.out is not None:
        if args.out.exists() and not args.out.is_dir():
            raise InputError("invalid_params", f"--out {args.out} is a file, not a folder")
        stale = frame_files(args.out)
        if stale and not args.overwrite:
            raise InputError(
                "out_not_empty", f"--out {args.out} already holds {len(stale)} frames (####.png) of another run: "
                "choose an empty folder, or pass --overwrite to replace them",
            )


def frame_files(folder: Path) -> list[Path]:
    """The frame files in `folder` (none if it does not exist)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if FRAME_FILE.fullmatch(p.name) and p.is_file())


def output_folder(args: argparse.Namespace, take_id: str) -> Path:
    """Where the take's frames go: --out, emptied of old frames (checked by `check_arguments`), else
    `./<take id>` (`-2`, `-3`, ... when a take of another data dir already holds that folder)."""
    if args.out is not None:
        for stale in frame_files(args.out):
            stale.unlink()
        return args.out
    out, n = Path.cwd() / take_id, 1
    while frame_files(out):
        n += 1
        out = Path.cwd() / f"{take_id}-{n}"
    return out


def run_in_process(args: argparse.Namespace) -> list[Path]:
    """Paint here, through the same checks and service function as the server's job worker."""
    from underpaint.blobs import BlobStore
    from underpaint.engines.pool import EngineCache
    from underpaint.paint.context import PaintServices
    from underpaint.paint.stylize import (
        StylizeParams,
        check_stylize,
        load_references,
        plan_stylize,
        run_stylize,
    )
    from underpaint.paths import data_dir
    from underpaint.server.catalog import model_catalog, pick_default_model
    from underpaint.server.services import style_resolver
    from underpaint.shot.package import load_package
    from underpaint.takes.store import TakeStore, frame_file_name

    directory = data_dir(args.data_dir)
    package = load_package(args.shot)
    printer = _Printer()
    # The references go through a blob store of their own, as a job's do: the data dir's may be a
    # running server's, whose start-up and uploads are none of this command's business.
    with tempfile.TemporaryDirectory(prefix="underpaint-references-") as scratch:
        services = PaintServices(data_dir=directory, blobs=BlobStore(Path(scratch)), takes=TakeStore.open(directory),
                                 resolve_style=style_resolver(directory))
        shas = [services.blobs.put(image.read_bytes()).sha256 for image in args.reference]
        params = StylizeParams.model_validate(job_params(args, shas))
        default = None if args.model else pick_default_model(model_catalog(directory))
        check_stylize(params, plan_stylize(package, params, default), services)  # before anything loads
        take_id = run_stylize(
            package,
            params,
            takes=services.takes,
            engines=EngineCache(directory, args.device).get,
            default_model=default,
            report=lambda progress: printer(progress.fraction, progress.message, progress.fraction >= 1,
                                            progress.eta_seconds),
            resolve_style=services.resolve_style,
            references=load_references(services.blobs, params.references),
        )
    out = output_folder(args, take_id)
    out.mkdir(parents=True, exist_ok=True)
    take = services.takes.get(take_id)
    return [_copy(services.takes.directory(take_id) / frame_file_name(f), out) for f in take.frames]


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
            references = [client.upload_blob(image.read_bytes()) for image in args.reference]
            job = client.submit("stylize", upload.shot, job_params(args, references))
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
        return client.download_take(take, output_folder(args, take))


def _follow(client: Any, job: str, printer: Callable[..., None]) -> dict[str, Any]:
    final = client.job(job)
    for event in client.events(job):
        final = event
        printer(event.get("progress", 0.0), event.get("message", event["state"]), event["state"] != "running",
                event.get("eta_s"))
    return final
