"""Job kind `stylize`: paint a whole shot (or a frame range of it) into a new take."""

from __future__ import annotations

from underpaint.jobs.context import JobContext, JobKind, Services
from underpaint.paint.stylize import StylizeParams, check_stylize, load_references, plan_stylize, run_stylize
from underpaint.shot.package import ShotPackage


def check(params: StylizeParams, package: ShotPackage | None, services: Services) -> None:
    """Refuse at submit time what would fail later: ranges, passes, model set, controls, styles, references."""
    assert package is not None  # KIND needs a shot, so the queue assembled one
    check_stylize(params, plan_stylize(package, params, services.default_model()), services)


def run(ctx: JobContext, params: StylizeParams) -> None:
    run_stylize(
        ctx.package(),
        params,
        takes=ctx.services.takes,
        engines=ctx.engines,
        default_model=ctx.services.default_model(),
        report=ctx.report,
        check=ctx.check,
        on_take=ctx.set_take,
        resolve_style=ctx.services.resolve_style,
        references=load_references(ctx.services.blobs, params.references),
        checkpoints=ctx.services.checkpoints,
        resume=ctx.resume,
    )


KIND = JobKind("stylize", StylizeParams, run, check)
