"""The `wan-vace` step cache (job param `cache`) against the same painting without it.

One window of the tiny set on the CPU, uncached (the baseline) and cached,
alternating: seconds, the attention computations the cache leaves (counted on
one block), and how far the cached frames move from the uncached ones. On the
tiny set attention is a small share of the work (the VAE and the text encoder
weigh as much), so the speed-up here is a floor, not the figure for real weights;
those need an accelerator (`wan_vace_gpu.py`).

    .venv/bin/python bench/backend/wan_vace_cache.py [--repeats 3] [--steps 30]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

import numpy as np
from wan_vace_overhead import FRAMES, engine_call, requests, seconds

from underpaint.engines.registry import load_engine
from underpaint.engines.wan_vace.cache import computed_steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        (Path(data_dir) / "models.toml").write_text(
            f'[bench-vace]\nengine = "wan-vace"\nbuilder = "tiny-vace"\nwindow = {FRAMES}\noverlap = 5\n'
        )
        engine = load_engine("bench-vace", Path(data_dir), device="cpu")
        plain = dataclasses.replace(requests()["stylize"], steps=args.steps)
        cached = dataclasses.replace(plain, cache=True)
        calls = [0]
        engine.pipe.transformer.blocks[1].attn1.to_q.register_forward_hook(
            lambda *_: calls.__setitem__(0, calls[0] + 1)
        )
        runs = {}
        for name, req in (("uncached", plain), ("cached", cached)):
            calls[0] = 0
            runs[name] = (np.concatenate(engine_call(engine, req)()), calls[0])  # also the warm-up
        times: dict[str, list[float]] = {"uncached": [], "cached": []}
        for _ in range(args.repeats):
            times["uncached"].append(seconds(engine_call(engine, plain)))
            times["cached"].append(seconds(engine_call(engine, cached)))
        base, fast = min(times["uncached"]), min(times["cached"])
        difference = np.abs(runs["cached"][0].astype(int) - runs["uncached"][0].astype(int))
        print(
            f"wan-vace step cache (TaylorSeer), tiny-vace on CPU: {FRAMES} frames 64x64, {args.steps} steps, "
            f"guidance {plain.guidance}, best of {args.repeats} alternating runs"
        )
        print(f"{'':10} {'seconds':>9} {'attention calls (block 1)':>27}")
        print(f"{'uncached':10} {base:9.3f} {runs['uncached'][1]:27d}   (baseline)")
        print(f"{'cached':10} {fast:9.3f} {runs['cached'][1]:27d}   (claimed {2 * computed_steps(args.steps)})")
        print(
            f"speed-up {base / fast:.2f}x; cached frames vs uncached: mean {difference.mean():.4f}, "
            f"largest {difference.max()} of 255"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
