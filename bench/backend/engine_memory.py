"""AnimateDiff engine peak memory: a 16-frame against a 96-frame tiny shot; windows should keep it flat.

Each shot is painted in its own process (the `tiny` set, 256x256, depth
control, 2 steps, frames consumed as they arrive, as the job worker does).
Measured is the memory painting adds: peak resident memory during `paint`
(Linux VmHWM, reset just before) minus resident memory just before it, with
the engine loaded and the shot's control images already in memory. Target:
the 96-frame shot within 20% of the 16-frame one. The motion module only ever
sees one window; what grows with the shot is its latents and per-frame prompt
embeddings, a few KB per frame.

Seen here: 16 frames (3 windows) add 206.7 MB, 96 frames (16 windows) 211.6 MB: +2.4%.
On an H100 with the full-size models (bench engine_gpu), 16 and 48 frames at 512x512 peak at
6.89 and 6.90 GiB.

    .venv/bin/python bench/backend/engine_memory.py [--size 256]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _synthetic import moving_disc

FRAMES = (16, 96)


def resident_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(frames: int, size: int, data_dir: str) -> None:
    """Paint one shot and print what it cost, as JSON."""
    from underpaint.engines.base import PaintRequest, PromptSpan
    from underpaint.engines.registry import load_engine

    engine = load_engine("tiny", Path(data_dir), device="cpu")
    depth = moving_disc(frames, size, speed=1)
    request = PaintRequest(
        prompts=[PromptSpan(0, "a painted fox")],
        width=size,
        height=size,
        num_frames=frames,
        steps=2,
        controls={"depth": depth},
    )
    warm = PaintRequest(**{**request.__dict__, "num_frames": 1, "controls": {"depth": depth[:1]}})
    for _ in engine.paint(warm, lambda done, total: None):
        pass
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current resident size
    before = resident_kb("VmRSS")
    start = time.perf_counter()
    for _ in engine.paint(request, lambda done, total: None):
        pass
    seconds = time.perf_counter() - start
    peak = resident_kb("VmHWM")
    windows = len(engine._plan(request).windows)
    print(
        json.dumps(
            {
                "frames": frames,
                "windows": windows,
                "before_mb": before / 1024,
                "peak_mb": peak / 1024,
                "added_mb": (peak - before) / 1024,
                "seconds": seconds,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.size, args.data_dir)
        return
    data_dir = tempfile.mkdtemp(prefix="engine-memory-")
    results = []
    for frames in FRAMES:
        command = [
            sys.executable,
            __file__,
            "--child",
            str(frames),
            "--size",
            str(args.size),
            "--data-dir",
            data_dir,
        ]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    print(
        f"engine_memory: tiny set, {args.size}x{args.size}, 2 steps, memory painting adds (peak RSS - RSS before)"
    )
    print(f"  {'frames':>6} {'windows':>8} {'added MB':>9} {'RSS before':>11} {'seconds':>8}")
    for r in results:
        print(
            f"  {r['frames']:6d} {r['windows']:8d} {r['added_mb']:9.1f} {r['before_mb']:11.1f} {r['seconds']:8.1f}"
        )
    base, long = results[0]["added_mb"], results[-1]["added_mb"]
    growth = (long / base - 1) * 100
    verdict = "OK" if growth <= 20 else "OVER TARGET"
    print(
        f"  {FRAMES[-1]} frames add {growth:+.1f}% over {FRAMES[0]} (baseline: the 16-frame shot; "
        f"target within 20%: {verdict})"
    )


if __name__ == "__main__":
    main()
