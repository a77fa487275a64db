"""How a request's numbers become a schedule, one rule for every engine.

- strength -> steps: video-to-video runs the last `int(steps * strength)` of
  the steps (as diffusers' img2img pipelines count them); a strength that
  leaves no step is refused, never rounded up to one behind the artist's back.
- the control schedule: a control steers step `i` of `n` when its start..end
  span (fractions of the schedule) covers the whole step.
"""

from __future__ import annotations

from .base import ControlSetting, EngineError, PaintRequest


def steps_run(steps: int, strength: float) -> int:
    """Denoising steps video-to-video runs from the colour render; refuses a strength that leaves none."""
    kept = min(int(steps * strength), steps)
    if kept < 1:
        raise EngineError(
            f"strength {strength} with {steps} steps leaves no step to run; raise the strength to at least "
            f"{1 / steps:.2f} or the steps to at least {_steps_for_one(strength)}"
        )
    return kept


def _steps_for_one(strength: float) -> int:
    steps = 1
    while int(steps * strength) < 1:
        steps += 1
    return steps


def request_steps(request: PaintRequest) -> int:
    """Steps the request runs: all of them from noise, the last `strength` of them from the colour render."""
    return request.steps if request.init_video is None else steps_run(request.steps, request.strength)


def control_active(setting: ControlSetting, step: int, steps: int) -> bool:
    """Whether a control steers step `step` (0-based) of `steps`."""
    return setting.start <= step / steps and (step + 1) / steps <= setting.end


def control_weight(setting: ControlSetting, step: int, steps: int) -> float:
    """The control's weight at this step: its weight inside its span, 0 outside."""
    return setting.weight if control_active(setting, step, steps) else 0.0
