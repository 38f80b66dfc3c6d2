"""Learning-rate schedules for every objective: a factor of the configured rate, a pure function of the step.

* ``constant``: the configured rate throughout (the default);
* ``linear-decay``: constant until ``train.lr_decay_start`` (default: half of
  ``train.steps``), then linearly down to 0 at the last step (CycleGAN's
  100 + 100 epochs, expressed in generator steps);
* ``step``: multiplied by ``train.lr_step_factor`` every ``train.lr_step_every`` steps.

Being a function of the generator step and the config alone, a schedule
needs no state of its own: a resumed run sets the rate its step asks for, so
it continues mid-decay exactly where it stopped.
"""

from __future__ import annotations

LR_SCHEDULES = ("constant", "linear-decay", "step")


def lr_factor(schedule: str, step: int, total_steps: int, decay_start: int | None, step_every: int, step_factor: float) -> float:
    """The factor on the base learning rate for generator step ``step`` (0-based: the step about to be trained)."""
    if schedule == "constant":
        return 1.0
    if schedule == "linear-decay":
        start = total_steps // 2 if decay_start is None else decay_start
        last = total_steps - 1
        if step < start or last <= start:
            return 1.0
        return max(0.0, (last - step) / (last - start))
    if schedule == "step":
        return step_factor ** (step // step_every)
    raise ValueError(f"unknown learning-rate schedule {schedule!r}")  # config validation prevents this
