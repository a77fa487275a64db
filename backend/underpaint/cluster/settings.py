"""How the server reaches a Ray cluster (`underpaint serve --ray ADDRESS --workers N`); no Ray import."""

from __future__ import annotations

from dataclasses import dataclass

# `--ray local`: start a cluster of this machine alone; `auto`: the cluster this machine belongs to.
LOCAL = "local"


@dataclass(frozen=True)
class RaySettings:
    """`address`: a cluster address (`HOST:PORT`, `ray://HOST:PORT`), `auto` or `local`.
    `workers`: paint actors to start; None: one per GPU of the cluster, one when it has none."""

    address: str
    workers: int | None = None
