"""Mean and standard deviation of runs that differ only in their seed.

One run's FD or mode count is one draw from the seed's distribution; a table
of single runs invites conclusions the next seed overturns. The zoo trains a
preset with several seeds and reports, per preset, each final number as
mean +- std over its seeds, with the values themselves kept beside them.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence

from gankit.report.run_data import RunData, ordered_keys

# Numbers every run has beside its evaluation metrics.
RUN_QUANTITIES = {"training time (s)": lambda run: run.training_seconds,
                  "mean steps/s": lambda run: run.mean_steps_per_s}


def _final_values(run: RunData) -> dict[str, float]:
    """The run's last evaluation of each metric and its run-wide quantities, finite values only."""
    values = {key: run.last(key) for key in run.keys(evaluation=True)}
    values.update({name: of(run) for name, of in RUN_QUANTITIES.items()})
    return {k: float(v) for k, v in values.items() if isinstance(v, (int, float)) and math.isfinite(v)}


def summarise(groups: Mapping[str, Sequence[RunData]]) -> dict[str, dict[str, dict]]:
    """{group: {quantity: {"mean", "std", "n", "values"}}} over each group's runs.

    ``std`` is the sample standard deviation (n - 1 in the denominator: a
    handful of seeds estimates a spread, it does not enumerate one); 0 for a
    single value. A run that never evaluated a metric is left out of that
    metric's count, so ``n`` says how many seeds each number rests on.
    """
    summary: dict[str, dict[str, dict]] = {}
    for group, runs in groups.items():
        finals = [_final_values(run) for run in runs]
        keys = ordered_keys({k for f in finals for k in f if k not in RUN_QUANTITIES}) + list(RUN_QUANTITIES)
        summary[group] = {}
        for key in keys:
            values = [f[key] for f in finals if key in f]
            if values:
                summary[group][key] = spread(values)
    return summary


def spread(values: Sequence[float]) -> dict:
    """{"mean", "std", "n", "values"} of one quantity over seeds; std is the sample std, 0 for one value."""
    values = list(values)
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "n": len(values), "values": values}


def summary_table(summary: Mapping[str, Mapping[str, dict]]) -> tuple[list[str], list[list[object]]]:
    """Quantities down the side, groups across, each cell 'mean +- std (n)'; columns and rows for a Page table."""
    groups = list(summary)
    keys = ordered_keys({k for g in summary.values() for k in g} - set(RUN_QUANTITIES))
    keys += [k for k in RUN_QUANTITIES if any(k in g for g in summary.values())]
    rows = []
    for key in keys:
        cells = []
        for group in groups:
            cell = summary[group].get(key)
            cells.append("-" if cell is None else f"{_short(cell['mean'])} ± {_short(cell['std'])} ({cell['n']})")
        rows.append([key, *cells])
    return ["", *groups], rows


def _short(value: float) -> str:
    return f"{value:.4g}"
