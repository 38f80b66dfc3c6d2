"""Learning-rate schedules for every objective: a factor of the configured rate, a pure function of the step.

* ``constant``: the configured rate throughout (the default);
* ``linear-decay``: constant until ``train.lr_decay_start`` (default: half of
  ``train.steps``), then linearly down to 0 at the last step (CycleGAN's
  100 + 100 epochs, expressed in generator steps);
* ``step``: multiplied by ``train.lr_step_factor`` every ``train.lr_step_every`` steps;
* ``plateau``: multiplied by ``train.lr_step_factor`` each time a logged statistic that should fall
  (``train.lr_plateau_stat``; BEGAN's ``convergence``, M) stalls, down to a floor of
  ``train.lr_min_factor`` (BEGAN's "decay the learning rate by a factor of 2 when the measure of
  convergence stalls"; carpedm20/BEGAN-tensorflow halves it with a lower bound). See ``PlateauSchedule``.

The first three are functions of the generator step and the config alone: a
resumed run sets the rate its step asks for, so it continues mid-decay
exactly where it stopped. ``plateau`` depends on the run's own numbers, so its
state goes in the checkpoint (``Trainer.state_dict``'s ``lr_schedule``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gankit.errors import ConfigError

LR_SCHEDULES = ("constant", "linear-decay", "step", "plateau")


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
    # plateau is not a function of the step: PlateauSchedule holds its factor.
    raise ValueError(f"unknown learning-rate schedule {schedule!r}")  # config validation prevents this


class PlateauSchedule:
    """The rate's factor for ``train.lr_schedule: plateau``, driven by one statistic the objective logs.

    Every generator step adds the step's values of ``stat`` (one per phase that reports it) to a running
    sum on the device; every ``every`` steps the window's mean is read (one host sync, averaged over
    ranks) and compared with the best window so far. A window counts as progress when its mean is below
    ``best * (1 - threshold)`` (for a positive statistic); after ``patience`` windows without progress the
    factor is multiplied by ``factor`` (never below ``floor``) and the count starts again. Everything is a
    function of the run's own numbers, so the same run gives the same factors, and ``state_dict`` (saved
    in each checkpoint, mid-window sum included) lets a resumed run continue exactly.
    """

    def __init__(self, stat: str, every: int, patience: int, factor: float, floor: float, threshold: float,
                 device: torch.device | str = "cpu") -> None:
        self.stat, self.every, self.patience = stat, every, patience
        self.step_factor, self.floor, self.threshold = factor, floor, threshold
        self.total = torch.zeros((), device=device)
        self.count = 0
        self.best = math.inf
        self.stalled = 0
        self.factor = 1.0
        self.seen: set[str] = set()

    def observe(self, stats: dict[str, Tensor]) -> None:
        """Add one phase's value of the statistic, if that phase reports it (no host sync)."""
        value = stats.get(self.stat)
        if value is None:
            self.seen.update(stats)
            return
        self.total = self.total + value.detach().float()
        self.count += 1

    def end_step(self, step: int, average=lambda t: t) -> bool:
        """After generator step ``step`` (1-based count of steps done): True when the factor just fell."""
        if step % self.every:
            return False
        if self.count == 0:
            known = ", ".join(sorted(self.seen)) or "none"
            raise ConfigError(
                f"train.lr_plateau_stat '{self.stat}' is not a statistic this objective logs (it logs: {known}): "
                "name one that should fall, e.g. convergence for began"
            )
        mean = float(average(self.total / self.count))
        self.total = torch.zeros_like(self.total)
        self.count = 0
        if not math.isfinite(self.best) or mean < self.best - self.threshold * abs(self.best):
            self.best, self.stalled = mean, 0
            return False
        self.stalled += 1
        if self.stalled < self.patience:
            return False
        self.stalled = 0
        lowered = max(self.floor, self.factor * self.step_factor)
        changed = lowered < self.factor
        self.factor = lowered
        return changed

    def state_dict(self) -> dict:
        return {"total": self.total.detach().cpu(), "count": self.count, "best": self.best,
                "stalled": self.stalled, "factor": self.factor}

    def load_state_dict(self, state: dict) -> None:
        self.total = state["total"].to(self.total.device, self.total.dtype)
        self.count, self.best = int(state["count"]), float(state["best"])
        self.stalled, self.factor = int(state["stalled"]), float(state["factor"])
