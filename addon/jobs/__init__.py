"""Jobs without Blender: what each job kind asks the server, the worker thread, and the follow loop.

Nothing in this package imports `bpy`, so plain pytest tests it (tests/addon/test_job_module.py).
The Blender side (the running jobs of each scene, the one timer, writing progress into the
scene's settings) is `job_timer`; the operators build the requests (`ui.job_params`).
"""

from .requests import (
    Control,
    FetchTake,
    Paint,
    Refine,
    Request,
    Rerender,
    Shot,
    ShowControls,
    Style,
    Stylize,
    TrainStyle,
)
from .worker import STATES_ACTIVE, STATES_FINAL, Job

__all__ = ["STATES_ACTIVE", "STATES_FINAL", "Control", "FetchTake", "Job", "Paint", "Refine", "Request", "Rerender",
           "Shot", "ShowControls", "Style", "Stylize", "TrainStyle"]
