"""Jobs: submit, status, progress events, cancel.

The submit body is a union of one model per job kind, told apart by `kind`
(`models.job_request`), so OpenAPI documents every kind's params; the kinds
are the server's (`jobs.kinds.discover`), hence a router built per app.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from underpaint.jobs.context import JobKind
from underpaint.jobs.store import check_job_id

from .deps import QueueDep, ServerDep
from .events import job_events
from .models import JobCreated, JobList, JobOut, job_request


def router(kinds: dict[str, JobKind]) -> APIRouter:
    """The job routes, the submit body typed by `kinds`."""
    jobs = APIRouter()

    def submit_job(body: Any, queue: QueueDep) -> JobCreated:
        """Check the job completely (params, shot package, kind rules), then queue it."""
        return JobCreated(id=queue.submit(body.kind, body.shot, body.params).id)

    # The body's type exists only once the kinds are known; FastAPI reads it from the annotation.
    submit_job.__annotations__["body"] = job_request(kinds)
    jobs.post("/jobs", response_model=JobCreated, status_code=201)(submit_job)
    jobs.get("/jobs", response_model=JobList)(list_jobs)
    jobs.get("/jobs/{job_id}", response_model=JobOut)(get_job)
    jobs.get("/jobs/{job_id}/events", response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {}}}})(job_event_stream)
    jobs.post("/jobs/{job_id}/cancel", response_model=JobOut)(cancel_job)
    return jobs


def list_jobs(queue: QueueDep) -> JobList:
    """The latest jobs, newest first (so a client can find its jobs again after a restart)."""
    return JobList(jobs=[JobOut(**job.to_json()) for job in queue.services.jobs.list()])


def get_job(job_id: str, queue: QueueDep) -> JobOut:
    return JobOut(**queue.get(job_id).to_json())


def job_event_stream(job_id: str, server: ServerDep) -> StreamingResponse:
    """Server-sent events: `data: <job JSON>` on every change; the stream ends after a terminal state."""
    server.queue.get(check_job_id(job_id))
    return StreamingResponse(
        job_events(server.hub, server.queue, job_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def cancel_job(job_id: str, queue: QueueDep) -> JobOut:
    """Cancel: a queued job at once, a running one within one denoising step (its frames are kept)."""
    return JobOut(**queue.cancel(job_id).to_json())
