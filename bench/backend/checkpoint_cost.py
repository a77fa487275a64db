"""What resumable jobs cost: a checkpoint's size and save time at real sizes, and a tiny job with and without.

A painting saves its state every `EVERY_STEPS` steps (animatediff: the whole
shot's latents; wan-vace: the next window's context frames, once per window),
fsynced and renamed into place. This prints, for states of the real sizes
(SD1.5 at 512x512, 48 and 240 frames; a Wan window's 17 context frames at
832x480), the file size and the save and load times (median of 5), and the
tiny set painting 48 frames at 20 steps with checkpoints beside the same paint
without them (median of 3 paired runs).

    .venv/bin/python bench/backend/checkpoint_cost.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "backend"))

from underpaint.engines.base import Engine, PaintRequest, PromptSpan  # noqa: E402
from underpaint.engines.registry import load_engine  # noqa: E402
from underpaint.engines.resume import EVERY_STEPS  # noqa: E402
from underpaint.takes.checkpoints import CheckpointStore  # noqa: E402

STATES = {
    "sd15 latents, 48 frames 512x512": {"latents": np.zeros((1, 4, 48, 64, 64), np.float32)},
    "sd15 latents, 240 frames 512x512": {"latents": np.zeros((1, 4, 240, 64, 64), np.float32)},
    "wan context, 17 frames 832x480": {"context": np.zeros((17, 480, 832, 3), np.uint8)},
}


def median_seconds(work: object, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def paint_seconds(engine: Engine, request: PaintRequest) -> float:
    result: list[float] = []

    def run() -> None:
        started = time.perf_counter()
        for _ in engine.paint(request, lambda done, total: None):
            pass
        result.append(time.perf_counter() - started)

    worker = threading.Thread(target=run)  # as the server paints
    worker.start()
    worker.join()
    return result[0]


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="underpaint-checkpoints-") as tmp:
        root = Path(tmp)
        store = CheckpointStore(root)
        print(f"checkpoints: saved every {EVERY_STEPS} steps (wan-vace: once per window), in {store.folder}")
        print(f"  {'state':36} {'MiB':>7} {'save s':>8} {'load s':>8}")
        for name, state in STATES.items():
            checkpoint = store.of("bench")
            full = {"key": np.zeros(6, np.int64), "step": np.array(5), **state}
            save = median_seconds(lambda checkpoint=checkpoint, full=full: checkpoint.save(full))
            load = median_seconds(checkpoint.load)
            print(f"  {name:36} {checkpoint.path.stat().st_size / 2**20:7.1f} {save:8.3f} {load:8.3f}")
        engine = load_engine("tiny", root / "data", "cpu")
        depth = np.zeros((48, 64, 64, 3), np.uint8)
        request = PaintRequest(prompts=[PromptSpan(0, "a painted street")], width=64, height=64, num_frames=48,
                               steps=20, seed=1, controls={"depth": depth})
        paint_seconds(engine, replace(request, steps=1))  # warm-up
        plain, saved = [], []
        for repeat in range(3):
            plain.append(paint_seconds(engine, request))
            saved.append(paint_seconds(engine, replace(request, checkpoint=store.of(f"tiny-{repeat}"))))
        ratio = statistics.median(s / p - 1 for s, p in zip(saved, plain, strict=True))
        print(f"  tiny set, 48 frames 64x64, 20 steps: {statistics.median(plain):.2f} s without checkpoints, "
              f"{statistics.median(saved):.2f} s with ({ratio * 100:+.1f} %, median of 3 paired runs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
