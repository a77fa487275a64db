"""What every engine guarantees an edit: where the repaint mask is 0, the known pixels, bit for bit.

The engine's latent blend makes new content join the kept content; this
makes the kept content exact. (The take's final composite, with feathering,
is `underpaint.takes.composite`'s.)
"""

from __future__ import annotations

import numpy as np


def keep_known(painted: np.ndarray, known: np.ndarray, repaint_mask: np.ndarray) -> np.ndarray:
    """uint8 (n, h, w, 3): `painted` where the float mask (n, h, w) is above 0, `known` elsewhere."""
    return np.where(repaint_mask[..., None] > 0, painted, known)
