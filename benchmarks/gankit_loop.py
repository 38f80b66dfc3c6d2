"""gankit's training loop as the benchmark drives it: ``Trainer.train_step`` with ``fit``'s logging cadence.

``Trainer.fit`` adds run-folder work (samples, checkpoints, a progress bar)
that a benchmark does not want, but its statistics flush matters: gankit
keeps the per-step losses on the device and pays one host sync every
``train.log_every`` steps. This adapter calls ``train_step`` and flushes on
the same schedule through the trainer's own ``_flush_stats``, so the cost it
measures is the cost ``gankit train`` pays, and a diverged run still stops
with gankit's TrainingDiverged instead of being timed.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from benchmarks.settings import build_trainer, synchronise
from gankit.config import RunConfig
from gankit.data import Dataset
from gankit.training.logging import ProgressBar
from gankit.training.trainer import RunLogs


class _LastRecord:
    """Stands in for the run's MetricsLog: keeps the record a flush writes, so callers can read the losses."""

    def __init__(self) -> None:
        self.record: dict[str, Any] = {}

    def write(self, record: dict[str, Any]) -> None:
        self.record = record


class GankitLoop:
    """One gankit run, advanced a generator step at a time."""

    name = "gankit"

    def __init__(self, config: RunConfig, dataset: Dataset | None = None):
        self.config = config
        self.trainer = build_trainer(config, dataset)  # the config's own data unless given another
        self.device = self.trainer.device
        self.critic_steps = 0
        self._last = _LastRecord()
        self._logs = RunLogs(metrics=self._last)  # the record goes to _last; no TensorBoard, no diagnostics file
        self._bar = ProgressBar(0, 0, enabled=False)

    @property
    def generator(self) -> nn.Module:
        """What gankit samples from (the EMA copy where the config keeps one)."""
        return self.trainer.sampling_generator

    @property
    def generator_steps(self) -> int:
        return self.trainer.step

    def step(self) -> None:
        """One generator step and its critic steps; a host sync only where ``fit`` would log."""
        self.critic_steps += self.trainer.critic_steps_for(self.trainer.step)  # the schedule may vary it
        self.trainer.train_step()
        if self.trainer.step % self.config.train.log_every == 0:
            self.flush()

    def flush(self) -> dict[str, Any]:
        """Average the pending statistics (one host sync; raises if any is not finite) and return them."""
        self.trainer._flush_stats(self._logs, self._bar)
        return self._last.record

    def finish(self) -> None:
        """End of a timed window: what ``fit`` does at its last step, then wait for the device."""
        self.flush()
        synchronise(self.device)
