"""Job kinds, one module each: a module here that defines `KIND = JobKind(...)` is a job kind.

To add a kind (e.g. `rerender`), create `underpaint/jobs/kinds/rerender.py`
with a params model, a `run(ctx, params)` and optionally a submit-time
`check(params, package, services)`, and end it with
`KIND = JobKind("rerender", RerenderParams, run, check)`. The queue and the
API find it here; nothing else changes.
"""

from __future__ import annotations

import importlib
import pkgutil

from underpaint.jobs.context import JobKind


def discover() -> dict[str, JobKind]:
    """Every job kind defined in this package, by name."""
    kinds: dict[str, JobKind] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        kind = getattr(module, "KIND", None)
        if isinstance(kind, JobKind):
            kinds[kind.name] = kind
    return kinds
