"""report.html: one run's config, timings, curves and pictures on one self-contained page.

The page is built from what the run folder already holds, so it can be
written at the end of training, or later for any run (``gankit report RUN``),
and rewritten after ``gankit eval`` appends new numbers. Pictures another
part of gankit may or may not have written (the exact-W1 comparison, critic
contours, the training GIF) are included when present and skipped otherwise.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
from pathlib import Path

from gankit.errors import ConfigError
from gankit.evaluation.provenance import describe
from gankit.evaluation.records import metric_title
from gankit.report.figures import DEFAULT_MEDIAN_WINDOW, curve_figure
from gankit.report.html import Page, figure_png
from gankit.report.run_data import RunData, flatten, thin

REPORT_FILE = "report.html"
MAX_TIMELINE = 12  # sample grids shown over training; more would bury the page in pictures
CURVE_WIDTH = 520  # pixels: two curves side by side on a laptop screen


def _model_text(run: RunData) -> str | None:
    """``model.arch``, unless the objective builds its own networks (IRGAN's factorisations) and ignores it."""
    from gankit.objectives import OBJECTIVES

    objective = OBJECTIVES.get(run.setting("objective.name") or "")
    if objective is not None and not objective.uses_model_arch:
        return f"the objective's own ({objective.name}: model.arch unused)"
    return run.setting("model.arch")


def check_median_window(window: int) -> int:
    if window < 0:
        raise ConfigError(f"the median window must be 0 or more logged points (0 or 1: no filter), got {window}")
    return window


def _seconds(value: float | None) -> str | None:
    if value is None:
        return None
    minutes, seconds = divmod(value, 60)
    return f"{value:.1f} s" if value < 60 else f"{value:.1f} s ({int(minutes)} min {seconds:.0f} s)"


def _title(run: RunData) -> str:
    recipe = run.setting("preset") or run.setting("objective.name") or "gankit run"
    return f"{recipe} on {run.describe_data()}"


def _summary(page: Page, run: RunData) -> None:
    import torch

    from gankit import __version__

    section = page.section("Run")
    description = run.setting("description")
    if description:
        section.add_text(description)
    section.add_key_values(
        [
            ("run folder", str(run.path)),
            ("preset", run.setting("preset")),
            ("objective", run.setting("objective.name")),
            ("model", _model_text(run)),
            ("data", run.describe_data()),
            ("final step", run.final_step),
            ("steps configured", run.setting("train.steps")),
            ("training time", _seconds(run.training_seconds)),
            ("mean steps/s", run.mean_steps_per_s),
            ("device (as configured)", run.setting("train.device")),
        ],
        caption="run and timings",
    )
    # The run folder does not record the machine it trained on; the report's
    # own machine is the training machine when the trainer writes the report.
    section.add_key_values(
        [
            ("python", platform.python_version()),
            ("torch", torch.__version__),
            ("gankit", __version__),
            ("platform", platform.platform()),
            ("CPU cores", os.cpu_count()),
            ("python executable", sys.executable),
        ],
        caption="machine that wrote this report",
    )


def _alarms(page: Page, run: RunData) -> None:
    """The live alarms, one red row each, at the top of the page; nothing when there are none."""
    alarms = run.alarms
    if not alarms:
        return
    section = page.section("Alarms")
    section.add_text("Raised while training (train.alarms); each once per episode. What they mean and their "
                     "thresholds: README, 'Training alarms'.")
    section.add_table(("step", "alarm", "message"), [(int(r["step"]), r["alarm"], r.get("message", "")) for r in alarms],
                      css_class="alarms")


def _curves(page: Page, run: RunData, median_window: int) -> None:
    keys = run.keys(evaluation=False)
    if not keys:
        return
    section = page.section("Training curves")
    if "wasserstein" in keys and 1 < median_window < len(run.series("wasserstein")[1]):
        section.add_text(
            f"The critic's Wasserstein estimate is shown raw (light) and as a running median over "
            f"{median_window} logged points (dark)."
        )
    section.add_gallery(
        [(figure_png(curve_figure(key, *run.series(key), median_window=median_window)), "") for key in keys],
        min_width=CURVE_WIDTH,
    )


def _evaluation(page: Page, run: RunData) -> None:
    keys = run.keys(evaluation=True)
    if not keys and run.w1_comparison is None:
        return
    section = page.section("Evaluation")
    if keys:
        section.add_table(
            ("metric", "last value", "at step"),
            [(metric_title(key), run.last(key), int(run.series(key)[0][-1])) for key in keys],
        )
        measured = run.last_provenance(keys[0])
        if measured is not None:  # how the last evaluation measured (eval_provenance of metrics.jsonl)
            section.add_text(f"Measured with {describe(measured, tuple(measured))}.")
    if run.w1_comparison is not None:
        section.add_figure(run.w1_comparison, "the critic's estimate against the exact W1 of the same evaluations")
    # A metric measured once is a number, not a curve: the table holds it. Spreads (_std) stay in the table too.
    curves = [key for key in keys if len(run.series(key)[0]) > 1 and not key.endswith("_std")]
    if curves:
        section.add_gallery([(figure_png(curve_figure(key, *run.series(key))), "") for key in curves], min_width=CURVE_WIDTH)


def _pictures(page: Page, run: RunData) -> None:
    timeline = run.sample_timeline
    if timeline:
        shown = thin(timeline, MAX_TIMELINE)
        note = f" ({len(shown)} of {len(timeline)} shown, evenly spaced)" if len(shown) < len(timeline) else ""
        section = page.section("Samples over training")
        section.add_text(f"Fixed noise, so each picture shows the same latent points{note}.")
        page.add_gallery([(path, f"step {step}") for step, path in shown])
    if run.final_samples is not None:
        page.section("Final samples").add_figure(run.final_samples, "samples/final.png")
    extra = run.objective_grids
    if extra:
        section = page.section("The objective's own grids")
        section.add_text("Grids an objective draws for itself, e.g. InfoGAN's (one latent code varied along each row) or "
                         "BiGAN/ALI's (rows of fixed held-out images, each followed by its reconstruction G(E(x))).")
        page.add_gallery([(path, path.name) for path in extra], min_width=320)
    contours = run.contour_timeline
    if contours:
        shown = thin(contours, MAX_TIMELINE)
        page.section("Critic contours").add_gallery([(path, f"step {step}") for step, path in shown])
    if run.training_gif is not None:
        page.section("Training animation").add_figure(run.training_gif, "training.gif")


def build_run_page(run: RunData, median_window: int = DEFAULT_MEDIAN_WINDOW) -> Page:
    """The report of one loaded run, not yet written."""
    check_median_window(median_window)
    written = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    page = Page(_title(run), subtitle=str(run.path), footer=f"written by gankit on {written}")
    _alarms(page, run)  # first: what went wrong is what a reader must not miss
    _summary(page, run)
    _curves(page, run, median_window)
    _evaluation(page, run)
    _pictures(page, run)
    page.section("Config").add_key_values(flatten(run.config), caption="config.yaml")
    return page


def write_run_report(run_dir: str | Path, median_window: int = DEFAULT_MEDIAN_WINDOW) -> Path:
    """Write ``run_dir/report.html`` from the run folder's files and return its path.

    ``median_window`` is the number of logged points the running median of the
    critic's Wasserstein estimate spans; 0 or 1 shows the raw curve alone.
    A folder without config.yaml or metrics.jsonl raises RunDirectoryError.
    """
    run = RunData.load(run_dir)
    return build_run_page(run, median_window).write(run.path / REPORT_FILE)
