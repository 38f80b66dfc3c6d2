"""Every f-GAN divergence at equal budget, on 8gaussians and on the MNIST sample (issue 16).

    python -m benchmarks.fgan_sweep                    # both parts (about 30 minutes on 2 CPU cores)
    python -m benchmarks.fgan_sweep --only 8gaussians  # the eight fgan-<divergence>-8gaussians presets
    python -m benchmarks.fgan_sweep --quick            # a few steps each: checks the wiring, not the numbers

* ``8gaussians``: each ``fgan-<divergence>-8gaussians`` preset at its own
  budget (the shared 8gaussians recipe, 3,500 steps, equal for all),
  scored by modes covered, the high-quality share, exact W1 and reverse KL;
* ``mnist``: ``fgan-kl-mnist`` with each divergence in turn and nothing
  else changed (DCGAN, Adam 2e-4, no penalty), ``--mnist-steps`` each,
  scored by classifier FD, recall and classes covered.

A run that diverges is a result, not a crash: its row says at which step.
Each row also carries the critic's last logged estimate of its divergence
(the f-GAN bound, mean of the last five logged steps). Results:
``benchmarks/results/fgan-sweep-<part>.{json,txt}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from benchmarks.preset_runs import table, train_preset
from gankit import losses
from gankit.errors import TrainingDiverged

RESULTS = Path(__file__).resolve().parent / "results"
TOY_COLUMNS = ("modes_covered", "high_quality", "w1", "reverse_kl", "divergence_estimate", "steps_per_s")
MNIST_COLUMNS = ("fd_classifier", "recall", "precision", "classes_covered", "divergence_estimate", "steps_per_s")
BOUND_WINDOW = 5  # logged steps averaged for the bound: one step's minibatch estimate is noisy


def last_bound(run_path: Path) -> float | None:
    """Mean of the critic's last few logged f-divergence estimates, or None when none was logged."""
    records = [json.loads(line) for line in (run_path / "metrics.jsonl").read_text().splitlines()]
    values = [r["divergence_estimate"] for r in records if "divergence_estimate" in r][-BOUND_WINDOW:]
    return statistics.fmean(values) if values else None


def sweep_row(preset: str, overrides: list[str], steps: int | None, out: Path, name: str) -> dict:
    try:
        row, run = train_preset(preset, overrides, steps, out, name)
    except TrainingDiverged as stopped:
        return {"diverged": str(stopped).splitlines()[0]}
    row["divergence_estimate"] = last_bound(run.path)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few steps per run: checks the wiring only")
    parser.add_argument("--only", action="append", choices=("8gaussians", "mnist"), help="one part (repeatable)")
    parser.add_argument("--seed", type=int, default=0, help="training seed of every run (default 0)")
    parser.add_argument("--mnist-steps", type=int, default=1000,
                        help="generator steps per divergence on MNIST (default 1000, a third of fgan-kl-mnist's)")
    parser.add_argument("--divergences", help="comma-separated divergences to rerun (default all); their rows "
                        "replace those in the part's results, the others are kept")
    parser.add_argument("--out", default="fgan-sweep", help="results name under benchmarks/results/")
    args = parser.parse_args(argv)
    divergences = [d.strip() for d in args.divergences.split(",")] if args.divergences else list(losses.F_DIVERGENCES)
    unknown = [d for d in divergences if d not in losses.F_DIVERGENCES]
    if unknown:
        parser.error(f"unknown divergence '{unknown[0]}': use {', '.join(losses.F_DIVERGENCES)}")
    only = set(args.only or ("8gaussians", "mnist"))
    seed = [f"train.seed={args.seed}"]
    results: dict[str, dict] = {}
    text: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if "8gaussians" in only:
            rows = _kept_rows(args.out, "8gaussians", divergences)
            for divergence in divergences:
                preset = f"fgan-{divergence}-8gaussians"
                rows[divergence] = sweep_row(preset, seed, 5 if args.quick else None, Path(tmp), preset)
                print(divergence, rows[divergence], flush=True)
            results["8gaussians"] = rows
            text["8gaussians"] = _table(
                f"f-GAN divergences on 8gaussians, each preset at its budget, seed {args.seed}", rows, TOY_COLUMNS)
        if "mnist" in only:
            steps = 5 if args.quick else args.mnist_steps
            rows = _kept_rows(args.out, "mnist", divergences)
            for divergence in divergences:
                rows[divergence] = sweep_row("fgan-kl-mnist", [*seed, f"objective.divergence={divergence}"], steps,
                                             Path(tmp), f"mnist-{divergence}")
                print(divergence, rows[divergence], flush=True)
            results["mnist"] = rows
            text["mnist"] = _table(f"f-GAN divergences on the MNIST sample: fgan-kl-mnist's settings with each "
                                   f"divergence, {steps} steps, seed {args.seed}", rows, MNIST_COLUMNS)
    print("\n\n".join(text.values()))
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        for part, rows in results.items():  # one file pair per part, so a part run alone leaves the other's
            (RESULTS / f"{args.out}-{part}.json").write_text(json.dumps(rows, indent=1) + "\n")
            (RESULTS / f"{args.out}-{part}.txt").write_text(text[part] + "\n")
    return 0


def _kept_rows(out: str, part: str, rerun: list[str]) -> dict[str, dict]:
    """The part's earlier rows, in the table's order, with those about to be rerun left as placeholders."""
    path = RESULTS / f"{out}-{part}.json"
    if len(rerun) == len(losses.F_DIVERGENCES) or not path.exists():
        return {}
    earlier = json.loads(path.read_text())
    return {d: earlier.get(d, {}) for d in losses.F_DIVERGENCES if d in earlier or d in rerun}


def _table(title: str, rows: dict[str, dict], columns: tuple[str, ...]) -> str:
    """The shared table, with the diverged runs listed under it."""
    lines = [table(title, {k: v for k, v in rows.items() if "diverged" not in v}, columns, first="divergence")]
    lines += [f"{name}: {row['diverged']}" for name, row in rows.items() if "diverged" in row]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
