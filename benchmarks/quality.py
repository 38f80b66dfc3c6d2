"""Every preset at its default budget, from the command line, with its final evaluation (issue 17).

    python -m benchmarks.quality                           # every MNIST, Stacked MNIST and 2-D preset, seed 0
    python -m benchmarks.quality --group toy --seeds 5     # the 2-D presets over 5 seeds, mean +- std
    python -m benchmarks.quality --presets wgan-gp-mnist   # one preset
    python -m benchmarks.run --only quality                # the same, as a part of the benchmark
    python -m benchmarks.quality --group toy --runs runs/q # keep the runs there; rerun to finish a stopped sweep
    python -m benchmarks.quality --runs runs/q --collect   # train nothing: the table of the runs recorded there

Each run is ``gankit train --preset P --seed S`` in a fresh interpreter, timed
from outside: the wall seconds are what a user waits for, start-up, periodic
evaluations, figures, the GIF and the report included. The table has each
preset's final evaluation (FD, IS, precision and recall, classes, modes,
Stacked MNIST's triples, InfoGAN's code accuracy, whichever apply), steps/s
and wall s; with several seeds, mean +- std and every seed's value. A budget a
preset does not keep here is a finding, printed as such.

Results: ``benchmarks/results/quality-<group>.{json,txt}`` (or ``--out``).
With ``--runs DIR`` the run folders stay in DIR and each finished run's row
is appended to ``DIR/rows.jsonl`` as it ends, so a sweep of hours that is
stopped loses only the run in progress: the same command again skips the
(preset, seed) pairs already recorded there.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.preset_runs import outcome
from gankit.config import preset_names, read_preset
from gankit.evaluation.records import upgrade_record
from gankit.report.across_seeds import spread

RESULTS = Path(__file__).resolve().parent / "results"
GROUPS = {
    "mnist": ("mnist",),
    "stacked": ("stacked-mnist",),
    "toy": ("8gaussians", "25gaussians", "swissroll"),
}
# Final-evaluation numbers shown, in this order, where a preset's evaluation has them.
COLUMNS = ("fd_classifier", "fid", "is", "precision", "recall", "classes_covered", "modes_covered", "high_quality", "reverse_kl",
           "w1", "stacked_modes", "stacked_kl", "code_digit_accuracy", "encoding_nn_accuracy")
# A run may exceed its preset's stated budget by this share (machines of one kind differ by a few percent).
BUDGET_SLACK = 0.05
RUN_TIMEOUT_S = 3 * 3600  # a run that takes longer than this has no budget worth stating


@dataclass(frozen=True)
class Budget:
    steps: int | None  # None: each preset's own budget


FULL = Budget(steps=None)
QUICK = Budget(steps=5)


def presets_of(groups: list[str]) -> list[str]:
    """The presets that train on the groups' datasets (one data set each: translation presets are elsewhere)."""
    wanted = {name for group in groups for name in GROUPS[group]}
    return [p for p in preset_names() if (read_preset(p).get("data") or {}).get("name") in wanted]


def train_once(preset: str, seed: int, steps: int | None, out: Path) -> dict:
    """One command-line run; its wall time, steps/s and final evaluation, or why it failed."""
    name = f"{preset}-seed{seed}"
    command = [sys.executable, "-m", "gankit", "train", "--preset", preset, "--seed", str(seed), "--out", str(out),
               "--name", name, "--no-progress", "train.tensorboard=false"]
    if steps is not None:
        command += ["--steps", str(steps), f"eval.every={steps}"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    wall = time.perf_counter() - start
    row: dict = {"preset": preset, "seed": seed, "wall_s": round(wall, 1),
                 "budget_s": read_preset(preset).get("budget_seconds")}
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        row["failed"] = lines[-1] if lines else f"exit code {done.returncode}"
        return row
    row.update(outcome(out / name))
    row["curve"] = evaluation_curve(out / name)
    return row


def evaluation_curve(run_path: Path) -> list[dict]:
    """Every periodic evaluation's step and headline numbers: the convergence curve (modes and W1 for 2-D sets)."""
    records = [upgrade_record(json.loads(line)) for line in (run_path / "metrics.jsonl").read_text().splitlines()]
    return [{"step": r["step"], **{k[len("eval/"):]: r[k] for k in r if k[len("eval/"):] in COLUMNS}}
            for r in records if "eval_samples" in r]


def summarise(rows: list[dict]) -> dict[str, dict]:
    """Per preset: each number's mean, sample std and the seeds' values (failed runs listed apart)."""
    summary: dict[str, dict] = {}
    for preset in dict.fromkeys(r["preset"] for r in rows):
        runs = [r for r in rows if r["preset"] == preset]
        good = [r for r in runs if "failed" not in r]
        entry: dict = {"seeds": [r["seed"] for r in runs], "failed": [r["failed"] for r in runs if "failed" in r],
                       "budget_s": runs[0].get("budget_s")}
        for key in ("wall_s", "train_s", "steps", "steps_per_s", *COLUMNS):
            values = [r[key] for r in good if isinstance(r.get(key), (int, float))]
            if values:
                entry[key] = spread(values)
        summary[preset] = entry
    return summary


def render(summary: dict[str, dict], title: str) -> str:
    """One line per preset: each column as mean (+- std over seeds where there are several)."""
    shown = [c for c in COLUMNS if any(c in e for e in summary.values())]
    lines = [f"== {title}", "  ".join(["preset", *shown, "steps", "steps/s", "train s", "wall s"])]
    for preset, entry in summary.items():
        def cell(key: str) -> str:
            if key not in entry:
                return "-"
            v = entry[key]
            return f"{v['mean']:.3g}" + (f" +- {v['std']:.2g}" if len(v["values"]) > 1 else "")
        lines.append("  ".join([preset, *(cell(c) for c in shown), cell("steps"), cell("steps_per_s"),
                                cell("train_s"), cell("wall_s")]))
        lines += [f"  {preset} failed: {why}" for why in entry["failed"]]
        broken = broken_budget(entry)
        if broken:
            lines.append(f"  FINDING: {preset} {broken}")
    many = [p for p, e in summary.items() if len(e["seeds"]) > 1]
    for preset in many:
        values = {c: summary[preset][c]["values"] for c in shown if c in summary[preset]}
        lines.append(f"  {preset} per seed: " + "; ".join(f"{c} {', '.join(f'{v:.3g}' for v in vs)}"
                                                          for c, vs in values.items()))
    return "\n".join(lines)


def broken_budget(entry: dict) -> str | None:
    """Why a preset's runs did not keep its stated wall budget (``budget_seconds``), or None if they did."""
    stated = entry.get("budget_s")
    if stated is None or "wall_s" not in entry:
        return None
    slowest = max(entry["wall_s"]["values"])
    if slowest <= stated * (1 + BUDGET_SLACK):
        return None
    return f"took {slowest:.0f} s wall against its stated budget of {stated:.0f} s"


ROWS_FILE = "rows.jsonl"  # under --runs: one finished run's row per line, in the order they ended


def recorded_rows(runs: Path) -> list[dict]:
    """The rows of the runs already finished under ``runs`` (none if it holds no record yet)."""
    path = runs / ROWS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run(budget: Budget, presets: list[str], seeds: int, say=print, runs: Path | None = None) -> dict:
    """Train every preset with seeds 0..seeds-1; {"rows": per run, "summary": per preset, "text": the table}.

    ``runs``: keep the run folders there and record each row as its run ends; pairs recorded there already
    are not trained again (their recorded rows are used).
    """
    done = {(r["preset"], r["seed"]): r for r in recorded_rows(runs)} if runs is not None else {}
    rows = []
    if runs is not None:
        runs.mkdir(parents=True, exist_ok=True)
    with contextlib.nullcontext(str(runs)) if runs is not None else tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        for preset in presets:
            for seed in range(seeds):
                if (preset, seed) in done:
                    say(f"{preset} seed {seed}: recorded in {out / ROWS_FILE}, not trained again")
                    rows.append(done[(preset, seed)])
                    continue
                row = train_once(preset, seed, budget.steps, out)
                say(f"{preset} seed {seed}: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                                          for k, v in row.items() if k in (*COLUMNS, "wall_s",
                                                                                           "failed")))
                if runs is not None and "failed" not in row:
                    with open(out / ROWS_FILE, "a") as record:
                        record.write(json.dumps(row) + "\n")
                rows.append(row)
    what = "each preset's own budget" if budget.steps is None else f"{budget.steps} steps (quick: wiring only)"
    return tabulate(rows, f"presets at {what}, {seeds} seed(s), from the command line")


def tabulate(rows: list[dict], title: str) -> dict:
    """{"rows", "summary", "text"} of these rows."""
    summary = summarise(rows)
    return {"rows": rows, "summary": summary, "text": render(summary, title)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--group", action="append", choices=tuple(GROUPS),
                        help="presets by dataset (repeatable; default: all three groups)")
    parser.add_argument("--presets", help="comma-separated presets instead of the groups")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per preset (default 1)")
    parser.add_argument("--quick", action="store_true", help="5 steps per run: checks the wiring, not the numbers")
    parser.add_argument("--out", help="results name under benchmarks/results/ (default quality-<groups>)")
    parser.add_argument("--runs", help="keep the run folders in this folder, each finished run's row in its "
                                       f"{ROWS_FILE}; rerunning skips the runs recorded there")
    parser.add_argument("--collect", action="store_true",
                        help=f"train nothing: the table of the rows recorded in --runs' {ROWS_FILE}")
    args = parser.parse_args(argv)
    groups = args.group or list(GROUPS)
    presets = [p.strip() for p in args.presets.split(",")] if args.presets else presets_of(groups)
    unknown = [p for p in presets if p not in preset_names()]
    if unknown:
        parser.error(f"unknown preset '{unknown[0]}': see 'gankit presets'")
    if args.out and Path(args.out).name != args.out:
        # Checked before the runs (which take hours), not when the results are written after them.
        parser.error(f"--out is a name under benchmarks/results/, not a path: got '{args.out}', "
                     f"try '--out {Path(args.out).name}'")
    runs = Path(args.runs) if args.runs else None
    if args.collect:
        rows = recorded_rows(runs) if runs is not None else []
        if not rows:
            parser.error(f"--collect reads the rows recorded by an earlier --runs sweep, but "
                         f"{runs / ROWS_FILE if runs else 'no --runs folder'} has none: pass the --runs folder "
                         "that sweep used")
        wanted = set(presets) if args.presets or args.group else None
        rows = [r for r in rows if wanted is None or r["preset"] in wanted]
        result = tabulate(rows, f"presets at each preset's own budget, collected from {runs}, from the command line")
    else:
        result = run(QUICK if args.quick else FULL, presets, max(1, args.seeds), runs=runs)
    print(result["text"])
    if not args.quick:
        name = args.out or ("quality-" + ("presets" if args.presets else "-".join(groups)))
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{name}.json").write_text(json.dumps({k: result[k] for k in ("rows", "summary")}, indent=1) + "\n")
        (RESULTS / f"{name}.txt").write_text(result["text"] + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
