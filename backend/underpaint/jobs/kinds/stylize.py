"""Job kind `stylize`: paint a whole shot (or a frame range of it) into a new take."""

from __future__ import annotations

from underpaint.engines.base import EngineError
from underpaint.engines.registry import get_model_set
from underpaint.errors import InputError
from underpaint.jobs.context import JobContext, JobKind, Services
from underpaint.paint.stylize import StylizeParams, load_references, plan_stylize, run_stylize
from underpaint.shot.package import ShotPackage


def check(params: StylizeParams, package: ShotPackage | None, services: Services) -> None:
    """Refuse at submit time what would fail later: ranges, controls, model set, styles, reference images."""
    assert package is not None  # KIND needs a shot, so the queue assembled one
    plan = plan_stylize(package, params, services.default_model())
    try:
        get_model_set(plan.model, services.data_dir)
    except EngineError as exc:
        raise InputError("unknown_model", str(exc)) from exc
    if params.styles:
        if services.resolve_style is None:
            raise InputError("unknown_style", "this server has no style registry; remove 'styles' from the request")
        for style in params.styles:
            services.resolve_style(style.name, style.weight)
    load_references(services.blobs, params.references)


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
    )


KIND = JobKind("stylize", StylizeParams, run, check)
