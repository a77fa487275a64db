"""The opt-in step cache of `wan-vace`: diffusers' TaylorSeer on the transformer's attention, per window.

TaylorSeer computes every attention module's output on some steps and, on the
others, predicts it from the last computed ones (a first-order Taylor step), so
those steps skip the attention work. First Block Cache and MagCache, which
diffusers also offers for Wan, are not used: they skip the transformer blocks
after the first and add back a cached residual, but VACE adds its control hints
between the blocks in the transformer's own loop, so on a skipped step the hints
are added twice (measured on the tiny VACE transformer: the same input again gives
an output 0.78 away under either of them, where an exact cache gives 0).

The cache is enabled around each window's pipeline call and removed after it, so
no state (step counts, Taylor factors) leaks from one window or job to the next.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from diffusers import TaylorSeerCacheConfig, WanVACETransformer3DModel

# diffusers' defaults: every step computed until step 3, then one computed step in every 5.
WARMUP_STEPS = 3
INTERVAL = 5
# The self- and cross-attention of every block, the VACE blocks' included. Named here because
# diffusers' default patterns ("^blocks.*attn", matched whole) miss Wan's `attn1` / `attn2`: left to
# them, the cache would hook nothing and change nothing.
ATTENTION = [r"(vace_)?blocks\.\d+\.attn[12]"]


def computed_steps(steps: int) -> int:
    """Steps of `steps` on which a cached window runs its attention (per guidance branch), by TaylorSeer's
    rule: every step before the warm-up ends, then the first of every `INTERVAL` after it."""
    return sum(s < WARMUP_STEPS or (s - WARMUP_STEPS - 1) % INTERVAL == 0 for s in range(steps))


@contextmanager
def step_cache(transformer: WanVACETransformer3DModel, enabled: bool) -> Iterator[None]:
    """TaylorSeer on `transformer` for the block when `enabled`; the transformer is as before afterwards."""
    if not enabled:
        yield
        return
    # Taylor factors in the model's own dtype: bf16 factors on an fp32 model would round every prediction.
    transformer.enable_cache(
        TaylorSeerCacheConfig(
            cache_interval=INTERVAL,
            disable_cache_before_step=WARMUP_STEPS,
            taylor_factors_dtype=transformer.dtype,
            cache_identifiers=ATTENTION,
        )
    )
    try:
        yield
    finally:
        transformer.disable_cache()
