"""Where training numbers go: metrics.jsonl, TensorBoard, the progress bar.

The loop accumulates statistics as device tensors and hands them here every
``log_every`` steps, so the host waits for the device once per interval
rather than once per step.
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

METRICS_FILE = "metrics.jsonl"
# A metrics.jsonl record with this key is a live alarm (training/alarms.py): {"step", "alarm": kind, "message"}.
ALARM_KEY = "alarm"


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl; a torn last line (a crash mid-write) is ignored."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


class MetricsLog:
    """Appends one JSON object per logged step to metrics.jsonl (or another JSON-lines file of the run)."""

    def __init__(self, run_dir: Path, resume_step: int | None = None, filename: str = METRICS_FILE):
        self.path = Path(run_dir) / filename
        if resume_step is not None:
            # Records past the checkpoint will be logged again, with the same
            # values, by the resumed run; drop them so no step appears twice.
            kept = [r for r in read_metrics(self.path) if r.get("step", 0) <= resume_step]
            self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))
        self._handle = open(self.path, "a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
        self._handle.write(json.dumps(clean) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


class TensorBoardLog:
    """Scalars to TensorBoard event files in the run folder, if tensorboard is installed."""

    def __init__(self, run_dir: Path, resume_step: int | None = None):
        self.writer = None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            print("note: tensorboard is not installed, so no event files are written", file=sys.stderr)
            return
        # purge_step discards events past the checkpoint when a run resumes.
        self.writer = SummaryWriter(log_dir=str(run_dir), purge_step=resume_step)

    def write(self, step: int, scalars: dict[str, float]) -> None:
        if self.writer is None:
            return
        for key, value in scalars.items():
            self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class ProgressBar:
    """A tqdm bar: step, it/s, time left, and the headline numbers."""

    def __init__(self, total: int, initial: int, enabled: bool, max_seconds: float | None = None,
                 log: Callable[[str], None] = print):
        # Without a bar, messages go to the run's log: silent on non-main ranks and for quiet callers
        # (tqdm.write would print them on every rank, bar or not).
        self.enabled = enabled
        self.log = log
        interval = 0.1 if sys.stderr.isatty() else 10.0
        self.bar = tqdm(
            # Under a time budget the step count that ends the run is unknown: no total, no misleading ETA.
            total=None if max_seconds is not None else total,
            initial=initial,
            disable=not enabled,
            unit="step",
            dynamic_ncols=True,
            desc="train" if max_seconds is None else f"train (budget {max_seconds:g} s)",
            # Redirected to a file, a bar that redraws ten times a second floods the log.
            mininterval=interval,
            maxinterval=max(interval, 10.0),
            # tqdm's adaptive miniters stops redrawing altogether once the step
            # rate changes under a long interval; checking the clock every step is cheap.
            miniters=1,
        )

    def advance(self, steps: int = 1) -> None:
        self.bar.update(steps)

    def show(self, numbers: dict[str, float]) -> None:
        self.bar.set_postfix({k: f"{v:.4g}" for k, v in numbers.items()}, refresh=False)

    def write(self, message: str) -> None:
        if self.enabled:
            self.bar.write(message)
        else:
            self.log(message)

    def close(self) -> None:
        self.bar.close()
