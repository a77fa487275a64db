"""The export as the UI runs it, shared by Export Shot and the shot job operators (Stylize, Re-render, Refine).

One exported frame per modal timer event, so the UI stays live between frames; progress on
the cursor and in the status bar; Esc, or Cancel in the panel, stops it before the next
frame. Closing the export's generator undoes its temporary render set-up, whatever ended it.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bpy

from .. import job_timer
from ..passes import ExportError

# Seconds between modal timer events: one exported frame per event.
EXPORT_STEP_SECONDS = 0.01
CANCELLED = "Export cancelled; the package is incomplete (no shot.json)"


@dataclass(frozen=True)
class Step:
    """What one event did: `outcome` is running | ignored | done | cancelled | failed."""

    outcome: str
    message: str = ""
    shot_json: Path | None = None


class ModalExport:
    """One export in progress for a modal operator; the scene counts as busy until it ends."""

    def __init__(self, scene: str, steps: Generator[tuple[int, int], None, Path], frames: int,
                 on_progress: Callable[[int, int], None] | None = None) -> None:
        self.scene = scene
        self.frames = frames
        self._steps = steps
        self._on_progress = on_progress
        self._timer: Any = None
        job_timer.EXPORTING[scene] = False

    def begin(self, context: bpy.types.Context, operator: bpy.types.Operator) -> None:
        """Start the timer and the operator's modal handler (needs a window)."""
        manager = context.window_manager
        manager.progress_begin(0, self.frames)
        self._timer = manager.event_timer_add(EXPORT_STEP_SECONDS, window=context.window)
        manager.modal_handler_add(operator)
        _status_text(context, "Underpaint: exporting the shot (Esc to cancel)")

    def handle(self, context: bpy.types.Context, event: Any) -> Step:
        """The operator's `modal` for one event while the export runs."""
        if (event.type == "ESC" and event.value == "PRESS") or job_timer.EXPORTING.get(self.scene):
            self.end(context)
            return Step("cancelled", CANCELLED)
        if event.type != "TIMER":
            return Step("ignored")
        try:
            done, total = next(self._steps)
        except StopIteration as finished:
            self.end(context)
            return Step("done", shot_json=finished.value)
        except ExportError as exc:
            self.end(context)
            return Step("failed", f"Exporting the passes failed: {exc}")
        except Exception as exc:  # the modal must end cleanly whatever broke, or the scene stays "busy"
            traceback.print_exc()
            self.end(context)
            return Step("failed", f"Exporting the passes failed unexpectedly: {exc!r}")
        context.window_manager.progress_update(done)
        _status_text(context, f"Underpaint: exported frame {done} of {total} (Esc to cancel)")
        if self._on_progress is not None:
            self._on_progress(done, total)
        return Step("running")

    def end(self, context: bpy.types.Context) -> None:
        """Close the export (which undoes its temporary set-up), its timer and the progress display."""
        self._steps.close()
        job_timer.EXPORTING.pop(self.scene, None)
        manager = context.window_manager
        if self._timer is not None:
            manager.event_timer_remove(self._timer)
            self._timer = None
        manager.progress_end()
        _status_text(context, None)


def _status_text(context: bpy.types.Context, text: str | None) -> None:
    if context.workspace is not None:
        context.workspace.status_text_set(text)
