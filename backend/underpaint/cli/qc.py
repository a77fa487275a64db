"""`underpaint qc SHOT_DIR FRAMES_DIR`: how much painted frames flicker along the shot's true motion.

Scores every consecutive pair of FRAMES_DIR's `####.png` frames (a take, or
any render of the shot) by the warp error along the shot's motion vectors,
prints the summary and the worst ranges to re-render, and writes JSON, a plot
and heat maps on request (`underpaint.qc`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from underpaint.cli.stylize import frame_range
from underpaint.errors import InputError
from underpaint.images import write_atomic


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "qc", help="measure a painted shot's flicker along the scene's motion",
        description="Warp each painted frame back onto the previous one along the shot's motion vectors (occluded "
        "and out-of-frame pixels left out) and report the mean error per pair, its median and p95, the worst "
        "ranges, and the same figure for the shot's rough colour render (the floor).",
    )
    parser.add_argument("shot", metavar="SHOT_DIR", type=Path, help="the shot package the frames were painted over")
    parser.add_argument("frames_dir", metavar="FRAMES_DIR", type=Path, help="folder of ####.png frames")
    parser.add_argument("--frames", metavar="A-B", type=frame_range, default=None, help="only Blender frames A to B")
    parser.add_argument("--json", metavar="OUT.json", type=Path, default=None, help="write the full report as JSON")
    parser.add_argument("--plot", metavar="OUT.png", type=Path, default=None, help="write the error curve as a PNG")
    parser.add_argument("--heatmaps", metavar="DIR", type=Path, default=None,
                        help="write one heat map per frame pair (black: consistent; red to yellow: flicker; "
                        "blue: not comparable)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from underpaint.qc.plot import plot_report, write_heat_map
    from underpaint.qc.report import OUTLIER_SIGMAS, measure
    from underpaint.shot.package import load_package

    try:
        package = load_package(args.shot)
        on_pair = (lambda first, result: write_heat_map(args.heatmaps, first, result)) if args.heatmaps else None
        report = measure(package, args.frames_dir, args.frames, on_pair)
    except InputError as exc:
        print(f"underpaint qc: {exc}", file=sys.stderr)
        return 2
    pairs = report.pairs
    print(f"{len(pairs)} frame pairs: median {report.median:.2f}, p95 {report.p95:.2f} ({report.units})")
    if report.floor_median is not None:
        print(f"the shot's rough colour render (the floor): median {report.floor_median:.2f}")
    for first, last in report.worst:
        peak = max(p.error for p in pairs if first <= p.first < last)
        print(f"worst: frames {first}-{last} (peak {peak:.2f}); re-render with --frames {first}-{last}")
    if not report.worst:
        print(f"no frame pair stands out above {report.threshold:.2f} (median + {OUTLIER_SIGMAS:g} robust deviations)")
    for note in report.notes:
        print(f"note: {note}")
    if args.json:
        write_atomic(args.json, (json.dumps(report.to_json(), indent=2) + "\n").encode())
    if args.plot:
        plot_report(report, args.plot)
    return 0
