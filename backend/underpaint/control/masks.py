"""Masks from the object index pass: white (1) = repaint, black (0) = keep.

The artist picks objects by name; the shot's object table maps names to the
`pass_index` values in the object index pass. Edges stay hard here: any
feathering belongs to compositing (`underpaint.takes`), where it is stated.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from underpaint.errors import InputError
from underpaint.shot.models import Shot


def object_indices(shot: Shot, names: Iterable[str]) -> set[int]:
    """The pass indices of the named objects; an unknown name is an error listing the known ones."""
    table = {o.name: o.index for o in shot.objects}
    names = list(names)
    unknown = [n for n in names if n not in table]
    if unknown:
        known = ", ".join(sorted(table)[:20]) or "none"
        missing = ", ".join(repr(n) for n in unknown)
        raise InputError("unknown_object", f"shot {shot.shot!r} has no object {missing} (objects: {known})")
    return {table[n] for n in names}


def objects_mask(object_index: np.ndarray, indices: set[int]) -> np.ndarray:
    """float32 (H, W): 1 where the pixel belongs to one of `indices`, else 0."""
    return np.isin(object_index, np.fromiter(indices, dtype=np.int64)).astype(np.float32)
