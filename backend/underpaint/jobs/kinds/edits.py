"""What the edit kinds (`rerender`, `refine`) share: a job kind around `paint.edit`, given its region.

Not a kind itself (it defines no `KIND`); `rerender.py` and `refine.py` each
build theirs with `edit_kind`.
"""

from __future__ import annotations

from underpaint.jobs.context import JobContext, JobKind, Services
from underpaint.paint.edit import EditParams, RegionBuilder, plan_edit, run_edit
from underpaint.paint.stylize import load_references
from underpaint.shot.package import ShotPackage


def edit_kind(name: str, params: type[EditParams], region_of: RegionBuilder) -> JobKind:
    """A job kind that edits a take within the region `region_of` gives; everything is checked at submit."""

    def check(parsed: EditParams, package: ShotPackage | None, services: Services) -> None:
        assert package is not None  # an edit needs a shot, so the queue assembled one
        plan_edit(package, parsed, region_of, services)

    def run(ctx: JobContext, parsed: EditParams) -> None:
        package = ctx.package()
        plan = plan_edit(package, parsed, region_of, ctx.services, check=False)  # checked at submit
        run_edit(
            package, plan, name,
            takes=ctx.services.takes, engines=ctx.engines, report=ctx.report, check=ctx.check,
            on_take=ctx.set_take, resolve_style=ctx.services.resolve_style,
            references=load_references(ctx.services.blobs, plan.params.references),
            checkpoints=ctx.services.checkpoints, resume=ctx.resume,
        )

    return JobKind(name, params, run, check)
