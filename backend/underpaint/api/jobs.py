"""Jobs: submit, status, progress events, cancel."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from underpaint.jobs.store import check_job_id

from .deps import QueueDep, ServerDep
from .events import job_events
from .models import JobCreated, JobIn, JobList, JobOut

router = APIRouter()


@router.post("/v1/jobs", response_model=JobCreated, status_code=201)
def submit_job(body: JobIn, queue: QueueDep) -> JobCreated:
    """Check the job completely (params, shot package, kind rules), then queue it."""
    return JobCreated(id=queue.submit(body.kind, body.shot, body.params).id)


@router.get("/v1/jobs", response_model=JobList)
def list_jobs(queue: QueueDep) -> JobList:
    """The latest jobs, newest first (so a client can find its jobs again after a restart)."""
    return JobList(jobs=[JobOut(**job.to_json()) for job in queue.services.jobs.list()])


@router.get("/v1/jobs/{job_id}", response_model=JobOut)
def get_job(job_id: str, queue: QueueDep) -> JobOut:
    return JobOut(**queue.get(job_id).to_json())


@router.get("/v1/jobs/{job_id}/events", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
def job_event_stream(job_id: str, server: ServerDep) -> StreamingResponse:
    """Server-sent events: `data: <job JSON>` on every change; the stream ends after a terminal state."""
    server.queue.get(check_job_id(job_id))
    return StreamingResponse(
        job_events(server.hub, server.queue, job_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post("/v1/jobs/{job_id}/cancel", response_model=JobOut)
def cancel_job(job_id: str, queue: QueueDep) -> JobOut:
    """Cancel: a queued job at once, a running one within one denoising step (its frames are kept)."""
    return JobOut(**queue.cancel(job_id).to_json())
