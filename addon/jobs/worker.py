"""A job from upload to result, in its own worker thread.

A job's life (`Job.state`):

    checking -> uploading -> queued -> running -> downloading -> done
         \\________________________________________________/-> failed | cancelled

Every network call runs in the job's worker thread, which only posts updates onto a
queue; `apply_updates()`, called on the caller's thread (Blender's main thread), copies
them into the job's fields. So the fields change only where they are read.
"""

from __future__ import annotations

import itertools
import queue
import shutil
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .. import client as api
from ..files import TEMPORAL_PLOT, frame_path, fresh_folder, package_files, sha256_file
from .follow import SERVER_FINAL, follow
from .requests import FetchTake, Refine, Request, ShowControls, TrainStyle

STATES_ACTIVE = ("checking", "uploading", "queued", "running", "downloading")
STATES_FINAL = ("done", "failed", "cancelled")

T = TypeVar("T")


# Copied from underpaint.cli.stylize.duration (the add-on cannot import the backend).
def duration(seconds: float) -> str:
    """'8 s', '2 min 05 s', '1 h 02 min'."""
    seconds = max(int(round(seconds)), 0)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def drain(items: queue.SimpleQueue[T]) -> Iterator[T]:
    """Everything a worker thread has put on the queue so far, without waiting for more."""
    while True:
        try:
            yield items.get_nowait()
        except queue.Empty:
            return


@dataclass
class Update:
    """One change the worker reports; `None` fields are unchanged."""

    state: str | None = None
    progress: float | None = None
    message: str | None = None
    server_id: str | None = None
    error_code: str | None = None
    take: dict[str, Any] | None = None
    frames_folder: Path | None = None
    result: dict[str, Any] | None = None


_ids = itertools.count(1)


class Job:
    """A running or finished job; its fields are written only by `apply_updates` and `fail`."""

    def __init__(self, request: Request, client: api.Client, label: str = "") -> None:
        self.id = f"local-{next(_ids)}"
        self.request = request
        self.client = client
        self.label = label or request.kind  # what progress lines call the job ("Stylize Shot 'sh010'")
        self.state = "checking"
        self.progress = 0.0
        self.message = "Connecting to the server"
        self.error_code = ""
        self.server_id: str | None = None
        self.take: dict[str, Any] | None = None  # the server's record of the finished take
        self.frames_folder: Path | None = None  # where its frames were downloaded
        self.result: dict[str, Any] = {}  # what a job without a take brought back (train_style: the styles)
        self._updates: queue.SimpleQueue[Update] = queue.SimpleQueue()
        self._cancel = threading.Event()
        self._worker_server_id: str | None = None  # worker's copy, read by cancel() on the caller's thread
        self._thread = threading.Thread(target=self._work, name=f"underpaint-{self.id}", daemon=True)

    # -- the caller's thread -----------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.state in STATES_FINAL

    def start(self) -> Job:
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the job to stop; the server is told from a short-lived thread, never from the caller's."""
        if self.finished or self._cancel.is_set():
            return
        self._cancel.set()
        self.message = "Cancelling"
        server_id = self._worker_server_id
        if server_id is not None:
            threading.Thread(target=self._cancel_on_server, args=(server_id,), daemon=True).start()

    def apply_updates(self) -> bool:
        """Take the worker's updates into this job's fields; True when anything changed."""
        changed = False
        for update in drain(self._updates):
            changed = True
            for name in ("state", "progress", "message", "server_id", "error_code", "take", "frames_folder",
                         "result"):
                value = getattr(update, name)
                if value is not None:
                    setattr(self, name, value)
        return changed

    def fail(self, code: str, message: str) -> None:
        """End the job as failed from the caller's side (its result could not be used)."""
        self.state, self.error_code, self.message = "failed", code, message

    def progress_line(self) -> str:
        return f"Underpaint: {self.label}: {self.state} {self.progress * 100:5.1f}% {self.message}"

    # -- worker thread -----------------------------------------------------------------------------

    def _post(self, **fields: Any) -> None:
        self._updates.put(Update(**fields))

    def _cancel_on_server(self, server_id: str) -> None:
        try:
            self.client.cancel_job(server_id)
        except api.ServerError:
            pass  # the worker's own follow loop reports an unreachable server

    def _work(self) -> None:
        try:
            self._run()
        except api.ServerError as exc:
            self._post(state="failed", message=str(exc), error_code=exc.code)
        except Exception as exc:  # never let a worker die silently: the job must end in a final state
            traceback.print_exc()
            self._post(state="failed", message=f"Unexpected error in the add-on: {exc!r}", error_code="internal")

    def _run(self) -> None:
        request, client = self.request, self.client
        info = client.health()
        if isinstance(request, FetchTake):
            self._download(request.take, request.folder)
            return
        if isinstance(request, ShowControls):
            self._fetch_controls(request)
            return
        model = client.check_model(info, request.model)
        shot = None
        if isinstance(request, TrainStyle):
            files, names = self._hash_images(request)
            params = request.params(model, names)
        elif isinstance(request, Refine):
            shot, files = package_files(request.shot.package)
            masks = {frame: sha256_file(path) for frame, path in request.masks}  # drawn in Blender, if any
            files.update({masks[frame]: path for frame, path in request.masks})
            params = request.params(model, masks)
        else:
            shot, files = package_files(request.shot.package)
            params = request.params(model)
        self._post(state="uploading", progress=0.0, message="Uploading")
        sent = client.upload_missing(files, self._upload_progress, self._cancel.is_set)
        if self._cancel.is_set():
            self._post(state="cancelled", message="Cancelled before the job reached the server")
            return
        self._post(message=f"Uploaded {sent} of {len(files)} files")
        server_id = client.create_job(request.kind, params, shot)
        self._worker_server_id = server_id
        self._post(state="queued", server_id=server_id, progress=0.0, message="Queued on the server")
        if self._cancel.is_set():
            self._cancel_on_server(server_id)
        final = follow(client, server_id, self._post_server_state)
        if final["state"] == "failed":
            error = final.get("error") or {}
            raise api.explain(str(error.get("code", "job_failed")),
                              str(error.get("message") or final.get("message") or "The job failed on the server."),
                              model=model)
        if final["state"] == "cancelled":
            self._post(state="cancelled", message="Cancelled on the server")
            return
        if isinstance(request, TrainStyle):
            self._post(state="done", progress=1.0, message=f"Style {request.name!r} is ready",
                       result={"styles": client.styles()})
            return
        if not final.get("take"):
            raise api.ServerError("no_take", f"Job {server_id} finished without a take.")
        take_id = str(final["take"])
        self._download(take_id, fresh_folder(request.shot.takes_folder, take_id))

    def _hash_images(self, request: TrainStyle) -> tuple[dict[str, Path], dict[str, str]]:
        """(sha256 -> file to upload, name -> sha256 for the params), hashed here, off the caller's thread."""
        by_digest: dict[str, Path] = {}
        names: dict[str, str] = {}
        for name, path in sorted(request.images.items()):
            digest = sha256_file(path)
            by_digest[digest] = path
            names[name] = digest
        return by_digest, names

    def _upload_progress(self, done: int, total: int) -> None:
        self._post(progress=done / max(total, 1), message=f"Uploading {done}/{total}")

    def _post_server_state(self, event: dict[str, Any]) -> None:
        state = str(event.get("state", "running"))
        if state in SERVER_FINAL:
            return  # the final state is posted once the result is in (or the failure explained)
        done, total = event.get("frames_done"), event.get("frames_total")
        message = str(event.get("message") or "")
        if not message:
            message = f"Painting: {done}/{total} frames" if total else state.capitalize()
        elapsed, eta = event.get("elapsed_s"), event.get("eta_s")
        if isinstance(elapsed, int | float):
            left = f", about {duration(eta)} left" if isinstance(eta, int | float) and eta >= 1 else ""
            message += f" ({duration(elapsed)}{left})"
        self._post(state=state if state in STATES_ACTIVE else "running",
                   progress=float(event.get("progress") or 0.0), message=message)

    def _fetch_controls(self, request: ShowControls) -> None:
        """Upload the shot, then fetch each enabled control of every frame into `request.folder/<control>/`."""
        client = self.client
        shutil.rmtree(request.folder, ignore_errors=True)  # an earlier range's or size's images go
        shot, files = package_files(request.shot.package)
        self._post(state="uploading", progress=0.0, message="Uploading")
        client.upload_missing(files, self._upload_progress, self._cancel.is_set)
        controls = [control.name for control in request.paint.controls]
        frames = range(request.frames[0], request.frames[1] + 1)
        total = len(controls) * len(frames)
        self._post(state="downloading", progress=0.0, message=f"Fetching {total} control images")
        for done, (control, frame) in enumerate(((c, f) for c in controls for f in frames), start=1):
            if self._cancel.is_set():
                self._post(state="cancelled", message="Cancelled while fetching the control images")
                return
            client.download_control(shot, control, frame, (request.width, request.height),
                                    frame_path(request.folder / control, frame))
            self._post(progress=done / total, message=f"Fetching control images {done}/{total}")
        self._post(state="done", progress=1.0, result={"controls": controls},
                   message=f"Controls {', '.join(controls)}: {len(frames)} frames each")

    def _download(self, take_id: str, folder: Path) -> None:
        """Fetch a take's frames into `folder/####.png`, then report the job done."""
        take = self.client.take(take_id)
        frames = [int(f) for f in take.get("frames", [])]
        self._post(state="downloading", progress=0.0, message=f"Downloading {len(frames)} frames")
        for done, frame in enumerate(frames, start=1):
            if self._cancel.is_set():
                self._post(state="cancelled", message="Cancelled while downloading")
                return
            self.client.download_frame(take_id, frame, frame_path(folder, frame))
            self._post(progress=done / len(frames), message=f"Downloading {done}/{len(frames)} frames")
        if (take.get("metrics") or {}).get("temporal"):
            self.client.download_temporal_plot(take_id, folder / TEMPORAL_PLOT)
        self._post(state="done", progress=1.0, take=take, frames_folder=folder,
                   message=f"Take {take_id}: {len(frames)} frames")
