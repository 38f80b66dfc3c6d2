"""Curve figures for the report pages: one quantity of one run, or of several runs overlaid.

The critic's Wasserstein estimate is measured on one batch per log interval
and jumps about from batch to batch; a running median shows its trend
without letting single outliers drag it around the way a mean would. The raw
values stay in the figure, in a light colour, so nothing is hidden.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

DEFAULT_MEDIAN_WINDOW = 25  # logged points; at log_every=50 that is about 1,250 generator steps
SMOOTHED = ("wasserstein",)  # the noisy quantities that get the median filter
_SIZE = (6.0, 3.0)


def median_filter(values: Sequence[float], window: int) -> np.ndarray:
    """A centred running median over ``window`` points, of the same length as ``values``.

    Near the ends the window shrinks to the points that exist, so the first
    and last values are not pulled towards made-up padding. An even window is
    widened by one so that it stays centred; a window of 1 or less returns
    the values unchanged.
    """
    data = np.asarray(values, dtype=float)
    half = max(int(window), 1) // 2
    if half == 0 or data.size == 0:
        return data.copy()
    return np.array([np.median(data[max(0, i - half): i + half + 1]) for i in range(data.size)])


def colour(index: int) -> str:
    """The colour of the ``index``-th run, the same in every figure of a page (matplotlib's ten-colour cycle)."""
    return f"C{index % 10}"


def _axes(title: str) -> tuple[Any, Any]:
    # A bare Figure, not pyplot: it needs no display and leaves the caller's
    # backend alone (a notebook keeps its inline plots). Imported here because
    # the command line imports this module to build its parser, and
    # matplotlib takes a second to load.
    from matplotlib.figure import Figure

    fig = Figure(figsize=_SIZE, dpi=100)
    ax = fig.subplots()
    ax.set_title(title)
    ax.set_xlabel("generator step")
    ax.grid(alpha=0.3)
    return fig, ax


def curve_figure(key: str, steps: Sequence[float], values: Sequence[float], median_window: int = 0) -> Any:
    """One quantity of one run; noisy ones (``SMOOTHED``) also get their running median on top."""
    fig, ax = _axes(key)
    # A window as long as the curve would flatten it to one number: the raw curve alone says more.
    smooth = key in SMOOTHED and 1 < median_window < len(values)
    marker = "o" if len(values) <= 20 else None  # a few evaluations read better as points
    if smooth:
        ax.plot(steps, values, color=colour(0), alpha=0.3, lw=0.8, label="raw")
        ax.plot(steps, median_filter(values, median_window), color=colour(0), lw=1.6,
                label=f"running median of {median_window}")
        ax.legend(loc="best", fontsize="small")
    else:
        ax.plot(steps, values, color=colour(0), lw=1.2, marker=marker, ms=3)
    fig.tight_layout()
    return fig


def overlay_figure(
    key: str,
    curves: Sequence[tuple[str, int, Sequence[float], Sequence[float]]],
    median_window: int = 0,
) -> Any:
    """One quantity of several runs: ``curves`` holds (run name, colour index, steps, values) per run.

    Overlaid raw estimates of several runs would be a tangle, so the noisy
    quantities show only their running medians here (when every run has more
    points than the window; otherwise all are shown raw, to compare like with like).
    """
    smooth = key in SMOOTHED and all(1 < median_window < len(values) for _, _, _, values in curves)
    fig, ax = _axes(f"{key} (running median of {median_window})" if smooth else key)
    for name, index, steps, values in curves:
        marker = "o" if len(values) <= 20 else None
        shown = median_filter(values, median_window) if smooth else values
        ax.plot(steps, shown, color=colour(index), lw=1.3, marker=marker, ms=3, label=name)
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    return fig
