"""comparison.html: several runs side by side, for choosing between objectives or settings.

Numbers such as FD, exact W1 or mode coverage only compare across runs that
saw the same data at the same size, so runs trained on different data are
refused unless the caller insists (``force``): a page that silently put
MNIST's FD next to CIFAR-10's would invite a wrong conclusion.

The same holds within one dataset for how a number was measured: each
evaluation record carries its provenance (``gankit.evaluation.provenance``),
and two runs whose final value of a metric was measured differently (another
feature network or weights, real set, sample count or resize) are refused
with one line naming the field. With ``force`` the page is written and such a
row is marked with a dagger and explained under the table. A run written
before gankit kept provenance is compared as it is, its rows marked with a
double dagger ("unknown, unchecked"): refusing every older run would make
them unreadable, and its numbers are as good as its reader's knowledge.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from gankit.errors import ConfigError, DataError
from gankit.evaluation.provenance import describe, differences
from gankit.evaluation.records import metric_title
from gankit.report.across_seeds import summarise, summary_table
from gankit.report.figures import DEFAULT_MEDIAN_WINDOW, overlay_figure
from gankit.report.html import Page, figure_png
from gankit.report.run_data import RunData, ordered_keys
from gankit.report.run_report import CURVE_WIDTH, check_median_window

COMPARISON_FILE = "comparison.html"


def run_labels(runs: Sequence[RunData]) -> list[str]:
    """Short, distinct names: the folder names, with their parent folder where two share a name."""
    names = [run.name for run in runs]
    labels = []
    for run, name in zip(runs, names):
        if names.count(name) > 1:
            name = f"{run.path.resolve().parent.name}/{name}"
        labels.append(name)
    # The same folder given twice still gets two distinct labels.
    return [f"{label} ({i + 1})" if labels.count(label) > 1 else label for i, label in enumerate(labels)]


def check_same_data(runs: Sequence[RunData], labels: Sequence[str]) -> None:
    """Refuse runs trained on different data, naming each run's dataset and the way round it."""
    signatures = {run.data_signature for run in runs}
    if len(signatures) > 1:
        which = ", ".join(f"{label}: {run.describe_data()}" for run, label in zip(runs, labels))
        raise DataError(
            f"these runs were trained on different data ({which}), so their metrics do not compare: "
            "compare runs of one dataset, or pass --force to compare them anyway"
        )


class ProvenanceMismatch(DataError):
    """Two runs' values of one metric were measured differently (feature network, real set, counts, resize)."""


DIFFERS_MARK = "†"
UNKNOWN_MARK = "‡"


def provenance_notes(runs: Sequence[RunData], labels: Sequence[str]) -> dict[str, tuple[str, str]]:
    """{evaluation key: (mark, why)} for each metric whose final values do not share one known provenance.

    The runs are compared pairwise with the first run that has a known provenance for the key; the
    first differing field is named, with each run's value of it.
    """
    notes: dict[str, tuple[str, str]] = {}
    for key in _union(run.keys(evaluation=True) for run in runs):
        having = [(label, run.last_provenance(key)) for run, label in zip(runs, labels) if run.last(key) is not None]
        known = [(label, found) for label, found in having if found is not None]
        unknown = [label for label, found in having if found is None]
        if known:
            first_label, first = known[0]
            for label, other in known[1:]:
                fields = differences(first, other)
                if fields:
                    field = fields[0]
                    notes[key] = (DIFFERS_MARK, (
                        f"{key} of {first_label} ({describe(first, (field,))}) and {label} "
                        f"({describe(other, (field,))}) differ in {field}"))
                    break
        if key not in notes and unknown and len(having) > 1:
            notes[key] = (UNKNOWN_MARK, f"{key}: the provenance of {', '.join(unknown)} is unknown (written by a "
                                        "gankit that recorded none), so this row is unchecked")
    return notes


def check_same_provenance(runs: Sequence[RunData], labels: Sequence[str]) -> None:
    """Refuse runs whose final value of some metric was measured differently, naming the metric and field."""
    for mark, why in provenance_notes(runs, labels).values():
        if mark == DIFFERS_MARK:
            raise ProvenanceMismatch(
                f"{why}, so these numbers do not compare: evaluate the runs alike (gankit eval RUN with the same "
                "--samples and --features), or pass --force to compare them with the row marked"
            )


def _final_table(runs: Sequence[RunData], labels: Sequence[str],
                 marks: Mapping[str, tuple[str, str]] | None = None) -> tuple[list[str], list[list[object]]]:
    """Quantities down the side, runs across: a few runs stay readable however many metrics there are."""
    rows: list[list[object]] = [
        ["objective"] + [run.setting("objective.name") for run in runs],
        ["final step"] + [run.final_step for run in runs],
        ["training time (s)"] + [run.training_seconds for run in runs],
        ["mean steps/s"] + [run.mean_steps_per_s for run in runs],
    ]
    evaluation = _union(run.keys(evaluation=True) for run in runs)
    training = [k for k in _union(run.keys(evaluation=False) for run in runs) if k != "steps_per_s"]
    marks = marks or {}
    for key in evaluation:
        mark = f" {marks[key][0]}" if key in marks else ""
        rows.append([f"{metric_title(key)} (last){mark}"] + [run.last(key) for run in runs])
    for key in training:
        rows.append([f"{key} (last logged)"] + [run.last(key) for run in runs])
    return ["", *labels], rows


def _union(key_lists: Iterable[list[str]]) -> list[str]:
    """Every key of the lists, once each, in the usual order."""
    return ordered_keys({key for keys in key_lists for key in keys})


def _shared(runs: Sequence[RunData], evaluation: bool) -> list[str]:
    """Quantities logged by at least two runs (or by the only run): the ones an overlay can compare."""
    keys = _union(run.keys(evaluation) for run in runs)
    needed = min(2, len(runs))
    return [k for k in keys if sum(k in run.keys(evaluation) for run in runs) >= needed]


def build_comparison_page(
    runs: Sequence[RunData],
    median_window: int = DEFAULT_MEDIAN_WINDOW,
    notes: Sequence[str] = (),
    seed_groups: Mapping[str, Sequence[int]] | None = None,
) -> Page:
    """The comparison of loaded runs, not yet written (the data check is the caller's).

    ``seed_groups`` names sets of runs (indices into ``runs``) that differ only in their seed: the page then
    opens with each group's final numbers as mean +- std over its seeds.
    """
    labels = run_labels(runs)
    written = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    datasets = {run.describe_data() for run in runs}
    data = runs[0].describe_data() if len(datasets) == 1 else "different data"
    page = Page(
        f"Comparison of {len(runs)} runs on {data}",
        subtitle=", ".join(labels),
        footer=f"written by gankit on {written}",
    )
    if seed_groups:
        across = page.section("Across seeds")
        across.add_text("Each final number as mean ± sample std over the seeds (how many in brackets); "
                        "the table below has every seed's own values.")
        across.add_table(*summary_table(summarise({g: [runs[i] for i in idx] for g, idx in seed_groups.items()})))
    summary = page.section("Final numbers")
    for note in notes:
        summary.add_text(note)
    marks = provenance_notes(runs, labels)
    columns, rows = _final_table(runs, labels, marks)
    summary.add_table(columns, rows)
    for mark, why in marks.values():
        # The footnote of a marked row: which runs measured it how.
        summary.add_text(f"{mark} {why}" + (": the values are not like for like." if mark == DIFFERS_MARK else "."))
    summary.add_table(
        ("run", "folder", "preset", "data"),
        [(label, str(run.path), run.setting("preset"), run.describe_data()) for run, label in zip(runs, labels)],
    )
    for heading, evaluation in (("Evaluation metrics", True), ("Training curves", False)):
        keys = _shared(runs, evaluation)
        if not keys:
            continue
        figures = []
        for key in keys:
            curves = [
                (label, i, *run.series(key))
                for i, (run, label) in enumerate(zip(runs, labels))
                if key in run.keys(evaluation)
            ]
            figures.append((figure_png(overlay_figure(key, curves, median_window)), ""))
        page.section(heading).add_gallery(figures, min_width=CURVE_WIDTH)
    finals = [(run.final_samples, label) for run, label in zip(runs, labels) if run.final_samples is not None]
    missing = [label for run, label in zip(runs, labels) if run.final_samples is None]
    if finals or missing:
        section = page.section("Final samples")
        if missing:
            section.add_text(f"No samples/final.png in: {', '.join(missing)} (training did not finish).")
        section.add_gallery(finals, min_width=260)
    return page


def write_comparison(
    run_dirs: Sequence[str | Path],
    out_path: str | Path,
    force: bool = False,
    median_window: int = DEFAULT_MEDIAN_WINDOW,
    notes: Sequence[str] = (),
    seed_groups: Mapping[str, Sequence[int]] | None = None,
    refuse_mixed_provenance: bool = True,
) -> Path:
    """Write one page comparing ``run_dirs`` to ``out_path`` and return its path.

    Runs trained on different data (``data.name``, ``image_size``,
    ``channels`` of their config.yaml) raise DataError unless ``force``.
    ``notes`` are lines of text put above the table (the zoo lists failed runs there); ``seed_groups``
    (name: indices into ``run_dirs``) adds the across-seeds table. Runs whose final value of a metric was
    measured differently (its provenance) raise ProvenanceMismatch unless ``force`` or not
    ``refuse_mixed_provenance`` (the zoo's, which has trained them already); the page then marks the row.
    """
    if not run_dirs:
        raise ConfigError("nothing to compare: pass at least one run folder")
    check_median_window(median_window)
    runs = [RunData.load(path) for path in run_dirs]
    if not force:
        check_same_data(runs, run_labels(runs))
        if refuse_mixed_provenance:
            check_same_provenance(runs, run_labels(runs))
    out_path = Path(out_path)
    if out_path.is_dir():
        out_path = out_path / COMPARISON_FILE
    if not out_path.parent.is_dir():
        raise ConfigError(f"cannot write '{out_path}': the folder '{out_path.parent}' does not exist")
    return build_comparison_page(runs, median_window, notes, seed_groups).write(out_path)
