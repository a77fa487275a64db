"""Studio scale: the job workers on the actors of a Ray cluster (`underpaint serve --ray ADDRESS`).

The queue, the database, the takes and the API stay the server's. What moves
is the engine: each queue worker drives one Ray actor (`actor.PaintActor`)
that keeps its engine loaded between jobs, through `remote_engine.RemoteEngine`,
an `Engine` like any other, so every job kind paints on the cluster unchanged.
The server builds each request (controls, references, styles) and sends it
whole through Ray's object store; the actor streams steps, painted frames and
checkpoints back, and the server writes the frames into the take.

Nothing here is imported, and Ray is not either, unless the server is started
with `--ray`.
"""
