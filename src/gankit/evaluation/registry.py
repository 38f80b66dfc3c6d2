"""The metric registry: a metric is one function and one ``@metric(...)`` line.

    @metric("w1", kinds=("points",), description="exact Wasserstein-1 to real samples (POT)")
    def w1(ctx: EvalContext) -> dict[str, float]:
        return {"w1": exact_wasserstein1(ctx.fake, ctx.real)}

A function receives the ``EvalContext`` (samples, real data, lazily computed
features, the critic) and returns named numbers. ``applies`` may explain why a
metric does not fit a run; asked for by name it then fails with that reason,
chosen by default it is skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gankit.errors import EvaluationError, did_you_mean

if TYPE_CHECKING:
    from gankit.evaluation.context import EvalContext


@dataclass(frozen=True)
class Metric:
    name: str
    kinds: tuple[str, ...]  # the data kinds it measures: "points", "images"
    description: str
    compute: Callable[[EvalContext], dict[str, float]]
    # Extra conditions beyond the data kind: returns why the metric does not fit, or None.
    applies: Callable[[EvalContext], str | None] | None = None
    default: bool = True  # part of the default set for its data kind

    def unsuitable_because(self, ctx: EvalContext) -> str | None:
        if ctx.kind not in self.kinds:
            what = {"points": "2-D points", "interactions": "(user, item) interactions"}.get(ctx.kind, "images")
            fitting = ", ".join(m.name for m in METRICS.values() if ctx.kind in m.kinds)
            return (
                f"metric '{self.name}' needs {' or '.join(self.kinds)} data, but this run's data "
                f"'{ctx.data_name}' is {what}: use {fitting}"
            )
        return self.applies(ctx) if self.applies is not None else None


METRICS: dict[str, Metric] = {}


def metric(
    name: str,
    kinds: tuple[str, ...],
    description: str,
    applies: Callable[[EvalContext], str | None] | None = None,
    default: bool = True,
) -> Callable[[Callable[[EvalContext], dict[str, float]]], Callable[[EvalContext], dict[str, float]]]:
    """Register the decorated function as metric ``name``."""

    def register(compute: Callable[[EvalContext], dict[str, float]]) -> Callable[[EvalContext], dict[str, float]]:
        if name in METRICS:
            raise ValueError(f"metric '{name}' is registered twice")
        METRICS[name] = Metric(name, kinds, description, compute, applies, default)
        return compute

    return register


def parse_metric_names(text: str | list[str] | None) -> list[str] | None:
    """'fd,kid' or ['fd', 'kid'] as a list of known names; None or 'default' means the default set."""
    if text is None:
        return None
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    if names in ([], ["default"]):
        return None
    for name in names:
        if name not in METRICS:
            hint = did_you_mean(name, METRICS)
            raise EvaluationError(f"unknown metric '{name}'{hint}: choose from {', '.join(sorted(METRICS))}")
    return names


def select_metrics(ctx: EvalContext, names: list[str] | None) -> list[Metric]:
    """The metrics to run: those named (each must fit the run), or every default metric that fits."""
    if names is None:
        return [m for m in METRICS.values() if m.default and m.unsuitable_because(ctx) is None]
    chosen = [METRICS[name] for name in names]
    for m in chosen:
        reason = m.unsuitable_because(ctx)
        if reason is not None:
            raise EvaluationError(reason)
    return chosen
