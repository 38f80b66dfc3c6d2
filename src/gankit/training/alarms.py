"""Live training alarms: what users otherwise notice only when the run is over, said while it trains.

Five conditions are watched, each from numbers the loop already has:

* ``critic_loss_stuck``: the critic loss unchanged (to a relative 1e-6) over
  ``patience`` consecutive log intervals, at its first value or at 0. A
  critic that no longer learns gives its generator no gradient.
* ``w_estimate_negative``: the critic's Wasserstein estimate below 0 for
  ``patience`` consecutive log intervals (only objectives that declare one,
  ``Objective.w_estimate_stat``): the critic ranks generated samples above real ones.
* ``gradient_exploding``: a side's gradient norm (the largest of a log
  interval) over ``gradient_factor`` times the running median of its earlier
  intervals' largest.
* ``modes_collapsing``: an evaluation's mode count (``modes_covered`` on 2-D
  data, ``stacked_modes`` on Stacked MNIST) at or below ``modes_fall`` of the
  previous evaluation's.
* ``metric_jump``: an evaluation metric with a known direction worse by a
  factor of ``metric_factor`` than at the previous evaluation.

Each alarm fires once per episode: a condition that lasts is said once, and
said again only after it has ended and come back. The monitor reads
statistics by meaning (which key is the critic loss, which the W estimate,
declared by the objective), never by objective name. Its state is a dict of
Python numbers, kept in checkpoints, so a resumed run neither repeats an
alarm nor forgets the history a median or an episode needs.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from gankit.training.logging import ALARM_KEY

DOCS_HINT = "see README, 'Training alarms'"
GRADIENT_PEAK = "{side}_grad_norm_peak"  # how a side's peak travels with the logged statistics to the monitor
GRADIENT_HISTORY = 100  # log intervals the running median spans
GRADIENT_MIN_HISTORY = 3  # earlier intervals needed before a median means anything
STUCK_RELATIVE = 1e-6
ZERO = 1e-12

# Evaluation metrics by the direction that is better (names as evaluation/ writes them, without "eval/"; a
# translation's "_a2b"/"_b2a" suffix is ignored). The FD key may be fd, fd_classifier or fid.
LOWER_IS_BETTER = frozenset({"fd", "fd_classifier", "fid", "kid", "w1", "reverse_kl", "class_kl", "stacked_kl"})
HIGHER_IS_BETTER = frozenset({"is", "high_quality", "precision", "recall", "coverage"})
MODE_COUNTS = frozenset({"modes_covered", "stacked_modes"})
_DIRECTION_SUFFIXES = ("_a2b", "_b2a")


@dataclass(frozen=True)
class AlarmSettings:
    """The thresholds (``train.alarm_*``); the defaults are the README's."""

    warmup: int = 100  # generator steps before training statistics are judged: at first they are noise
    patience: int = 3  # log intervals a stuck critic loss or a negative W estimate must last
    gradient_factor: float = 100.0
    metric_factor: float = 3.0
    modes_fall: float = 0.5

    @classmethod
    def from_train_config(cls, train: Any) -> AlarmSettings:
        return cls(train.alarm_warmup, train.alarm_patience, train.alarm_gradient_factor, train.alarm_metric_factor,
                   train.alarm_modes_fall)


@dataclass(frozen=True)
class Alarm:
    step: int
    kind: str
    message: str

    def line(self) -> str:
        """What the progress bar's stream shows."""
        return f"alarm at step {self.step}: {self.message} - {DOCS_HINT}"

    def record(self) -> dict[str, Any]:
        """The metrics.jsonl record (no ``time`` key: the report tells it from the training records by that)."""
        return {"step": self.step, ALARM_KEY: self.kind, "message": self.message}


def _unchanged(values: Iterable[float]) -> bool:
    values = list(values)
    top = max(abs(v) for v in values)
    return top <= ZERO or max(values) - min(values) <= STUCK_RELATIVE * top


def _base_name(metric: str) -> str:
    for suffix in _DIRECTION_SUFFIXES:
        if metric.endswith(suffix):
            return metric[: -len(suffix)]
    return metric


class AlarmMonitor:
    """Fed each log interval's averaged statistics and each evaluation's values; returns the alarms they raise."""

    def __init__(self, settings: AlarmSettings, critic_loss_stat: str | None = "critic_loss",
                 w_estimate_stat: str | None = None):
        self.settings = settings
        self.critic_loss_stat = critic_loss_stat
        self.w_estimate_stat = w_estimate_stat
        self._losses: deque[float] = deque(maxlen=settings.patience)
        self._negative_intervals = 0
        self._gradients: dict[str, deque[float]] = {}
        self._last_eval: dict[str, float] = {}
        self._last_eval_step: int | None = None
        self._active: set[str] = set()  # episodes under way, each already said

    # ------------------------------------------------------------------ episodes
    def _episode(self, key: str, condition: bool, alarm: Alarm | None) -> list[Alarm]:
        """The alarm when ``condition`` starts an episode of ``key``; nothing while it lasts; ends it when false."""
        if not condition:
            self._active.discard(key)
            return []
        if key in self._active:
            return []
        self._active.add(key)
        return [alarm] if alarm is not None else []

    # ------------------------------------------------------------------ training statistics
    def observe_training(self, step: int, values: dict[str, float]) -> list[Alarm]:
        if step < self.settings.warmup:
            return []
        alarms = self._critic_loss(step, values.get(self.critic_loss_stat) if self.critic_loss_stat else None)
        alarms += self._w_estimate(step, values.get(self.w_estimate_stat) if self.w_estimate_stat else None)
        for side in ("critic", "generator"):
            alarms += self._gradient(step, side, values.get(GRADIENT_PEAK.format(side=side)))
        return alarms

    def _critic_loss(self, step: int, loss: float | None) -> list[Alarm]:
        if loss is None or not math.isfinite(loss):
            return []
        self._losses.append(loss)
        patience = self.settings.patience
        stuck = len(self._losses) == patience and _unchanged(self._losses)
        where = "0" if abs(loss) <= ZERO else f"{loss:.4g}"
        return self._episode("critic_loss_stuck", stuck, Alarm(
            step, "critic_loss_stuck",
            f"critic loss stuck at {where} for {patience} log intervals (a critic that stopped learning gives its "
            "generator no gradient; said once until it moves)",
        ) if stuck else None)

    def _w_estimate(self, step: int, w: float | None) -> list[Alarm]:
        if w is None or not math.isfinite(w):
            return []
        self._negative_intervals = self._negative_intervals + 1 if w < 0 else 0
        patience = self.settings.patience
        negative = self._negative_intervals >= patience
        return self._episode("w_estimate_negative", negative, Alarm(
            step, "w_estimate_negative",
            f"the critic's W estimate {self.w_estimate_stat} negative for {self._negative_intervals} log intervals "
            f"(now {w:.4g}): it scores generated samples above real ones; said once until it turns positive",
        ) if negative else None)

    def _gradient(self, step: int, side: str, peak: float | None) -> list[Alarm]:
        if peak is None or not math.isfinite(peak):
            return []
        history = self._gradients.setdefault(side, deque(maxlen=GRADIENT_HISTORY))
        median = statistics.median(history) if len(history) >= GRADIENT_MIN_HISTORY else None
        history.append(peak)
        factor = self.settings.gradient_factor
        exploding = median is not None and peak > factor * max(median, ZERO)
        return self._episode(f"gradient_exploding/{side}", exploding, Alarm(
            step, "gradient_exploding",
            f"{side} gradient norm {peak:.4g} is {peak / max(median, ZERO):.3g}x the running median {median:.4g} of "
            f"earlier log intervals (over the {factor:g}x threshold): lower the learning rate, or check the "
            "penalty or clipping",
        ) if exploding else None)

    # ------------------------------------------------------------------ evaluations
    def observe_evaluation(self, step: int, values: dict[str, float]) -> list[Alarm]:
        """``values`` by metric name, as ``EvalResult.values`` holds them (no ``eval/`` prefix)."""
        alarms: list[Alarm] = []
        previous, since = self._last_eval, self._last_eval_step
        s = self.settings
        for name, value in values.items():
            old = previous.get(name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or old is None or old <= 0:
                continue
            base = _base_name(name)
            between = f"between the evaluations at steps {since} and {step}"
            if base in MODE_COUNTS and value <= s.modes_fall * old:
                alarms.append(Alarm(step, "modes_collapsing",
                                    f"{name} fell from {old:g} to {value:g} {between} (mode collapse?)"))
            elif base in LOWER_IS_BETTER and value > s.metric_factor * old:
                alarms.append(Alarm(step, "metric_jump",
                                    f"{name} rose from {old:.4g} to {value:.4g} (x{value / old:.3g}) {between}"))
            elif base in HIGHER_IS_BETTER and value * s.metric_factor < old:
                alarms.append(Alarm(step, "metric_jump",
                                    f"{name} fell from {old:.4g} to {value:.4g} (/{old / max(value, ZERO):.3g}) {between}"))
        self._last_eval = {k: float(v) for k, v in values.items() if isinstance(v, (int, float)) and math.isfinite(v)}
        self._last_eval_step = step
        return alarms

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Plain Python numbers, strings and lists: what ``torch.load(weights_only=True)`` reads back."""
        return {
            "losses": list(self._losses),
            "negative_intervals": self._negative_intervals,
            "gradients": {side: list(history) for side, history in self._gradients.items()},
            "last_eval": dict(self._last_eval),
            "last_eval_step": self._last_eval_step,
            "active": sorted(self._active),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._losses = deque(state.get("losses", []), maxlen=self.settings.patience)
        self._negative_intervals = int(state.get("negative_intervals", 0))
        self._gradients = {side: deque(h, maxlen=GRADIENT_HISTORY) for side, h in state.get("gradients", {}).items()}
        self._last_eval = dict(state.get("last_eval", {}))
        self._last_eval_step = state.get("last_eval_step")
        self._active = set(state.get("active", []))


class GradientPeaks:
    """The largest gradient norm of each optimiser side over a log interval, kept on the device.

    ``capture`` runs after a phase's backward (and gradient averaging, so
    every rank holds the same peak): one fused norm over the side's gradients
    and a max, no host sync. ``take`` hands the peaks to the flush, which
    reads them back with the other statistics in its one sync.
    """

    def __init__(self, sides: dict[str, list[nn.Parameter]]):
        self._parameters = sides
        self._peaks: dict[str, Tensor] = {}

    def capture(self, side: str) -> None:
        grads = [p.grad for p in self._parameters[side] if p.grad is not None]
        if not grads:
            return
        norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)).float())
        peak = self._peaks.get(side)
        self._peaks[side] = norm if peak is None else torch.maximum(peak, norm)

    def take(self) -> dict[str, Tensor]:
        peaks, self._peaks = self._peaks, {}
        return {GRADIENT_PEAK.format(side=side): value for side, value in peaks.items()}


class TrainingAlarms:
    """What the trainer holds when ``train.alarms`` is on: the gradient peaks and the monitor."""

    def __init__(self, settings: AlarmSettings, sides: dict[str, list[nn.Parameter]],
                 critic_loss_stat: str | None, w_estimate_stat: str | None):
        self.gradients = GradientPeaks(sides)
        self.monitor = AlarmMonitor(settings, critic_loss_stat, w_estimate_stat)

    def state_dict(self) -> dict[str, Any]:
        return self.monitor.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.monitor.load_state_dict(state)
