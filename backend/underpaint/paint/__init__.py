"""Painting a shot: the params, the plan and the service behind the `stylize` job (`stylize`) and the
edits `rerender` / `refine` (`edit`). Plain Python, callable without the queue or HTTP."""
