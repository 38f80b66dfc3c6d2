"""Issue 18's table: the stabilisers against the main job at equal wall time, on the MNIST sample and on its
class-stratified subsets of 500 and 50 digits, over seeds.

    python -m benchmarks.equal_time                            # every row and size (about 3 h on 2 cores)
    python -m benchmarks.equal_time --sizes 500 --rows main,sngan
    python -m benchmarks.equal_time --collect runs/equal-time  # the table from zoos already trained there

Each (row, size) is one ``gankit zoo --presets P --max-seconds S --seeds N``
into ``OUT/<size>-<row>``, run with one thread (``OMP_NUM_THREADS=1``) and
``--jobs`` of them at a time (default 2: one per core of this project's
machine, the condition every published number of this table was measured
under). Equal wall time means equal *training* seconds: each run trains for
``--seconds`` and then has its one final evaluation (classifier FD, precision
and recall, classes, IS) against all 5,000 digits, not the subset trained on.

A zoo already finished in OUT (its ``seeds.json`` is there) is not trained
again, so an interrupted table resumes where it stopped.

Results: ``benchmarks/results/<--name>.{json,txt}`` (default ``equal-time-mnist-sizes``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
SHOWN = ("fd_classifier", "precision", "recall", "classes_covered", "is")


@dataclass(frozen=True)
class Row:
    """One setting of the table: a preset plus overrides, and what it adds to the main job."""

    key: str
    preset: str
    what: str
    overrides: tuple[str, ...] = ()


ROWS = (
    Row("no-ema", "wgan-gp-mnist", "wgan-gp-mnist without its generator EMA", ("train.ema_decay=0",)),
    Row("main", "wgan-gp-mnist", "wgan-gp-mnist (WGAN-GP, layer-norm DCGAN critic, generator EMA 0.99)"),
    Row("diffaug", "wgan-gp-mnist-diffaug", "the main job + DiffAugment translation,cutout"),
    Row("r1", "nsgan-r1-mnist", "NS-GAN + R1 (gamma 10), no critic norm, Adam 1e-3 (0, 0.99), EMA 0.99"),
    Row("sngan", "hinge-sngan-mnist", "hinge + spectral norm (SNGAN), Adam 1e-3 (0, 0.99), EMA 0.99"),
    # LeCam on the hinge critic, as its paper uses it (BigGAN and StyleGAN2 with bounded-margin losses), at the
    # weight of the authors' CIFAR-10 BigGAN scripts.
    Row("sngan-lecam", "hinge-sngan-mnist", "hinge + spectral norm + LeCam (weight 0.3, decay 0.99)",
        ("objective.lecam_weight=0.3",)),
)
ROW_KEYS = tuple(r.key for r in ROWS)


def size_overrides(size: int) -> tuple[str, ...]:
    """The settings that train on ``size`` digits: the whole sample at 5,000, else a fixed stratified subset.

    A batch cannot be larger than the data, so on 50 digits every row trains with batches of 50 (the same
    for all rows, so the comparison stays fair).
    """
    if size >= 5000:
        return ()
    overrides = (f"data.subset={size}", "data.subset_seed=0")
    return overrides + ((f"train.batch_size={size}",) if size < 64 else ())


def zoo_command(row: Row, size: int, seconds: float, seeds: int, out: Path) -> list[str]:
    command = [sys.executable, "-m", "gankit", "zoo", "--presets", row.preset, "--max-seconds", f"{seconds:g}",
               "--seeds", str(seeds), "--out", str(out), "--no-progress"]
    for override in (*row.overrides, *size_overrides(size)):
        command += ["--set", override]
    return command


def zoo_folder(root: Path, row: Row, size: int) -> Path:
    return root / f"{size}-{row.key}"


def train_zoo(row: Row, size: int, seconds: float, seeds: int, root: Path, say=print) -> None:
    out = zoo_folder(root, row, size)
    if (out / "seeds.json").exists():
        say(f"{out.name}: already trained, kept")
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    done = subprocess.run(zoo_command(row, size, seconds, seeds, out), env=env, capture_output=True, text=True, check=False)
    lines = (done.stderr or done.stdout).strip().splitlines()
    say(f"{out.name}: " + ("done" if done.returncode == 0 else f"failed: {lines[-1] if lines else done.returncode}"))


def collect(root: Path, sizes: list[int], rows: list[Row]) -> dict:
    """{"cells": {size: {row key: {number: spread over seeds}}}, "missing": [folder names]} from OUT's zoos."""
    cells: dict[str, dict] = {}
    missing = []
    for size in sizes:
        for row in rows:
            path = zoo_folder(root, row, size) / "seeds.json"
            if not path.exists():
                missing.append(path.parent.name)
                continue
            per_number = json.loads(path.read_text())[row.preset]
            cells.setdefault(str(size), {})[row.key] = {
                **{k[len("eval/"):]: v for k, v in per_number.items() if k.startswith("eval/")},
                "steps_per_s": per_number["mean steps/s"],
            }
    return {"cells": cells, "missing": missing}


def _mean_std(cell: dict, key: str) -> str:
    value = cell.get(key)
    return "-" if value is None else f"{value['mean']:.3g} +- {value['std']:.2g}"


def render(table: dict, rows: list[Row], seconds: float, jobs: int) -> str:
    """One block per data size: a line per row with mean +- std over seeds, then each seed's FD."""
    lines = [(f"== equal wall time: {seconds:g} training s per run, one thread, {jobs} run(s) at once; mean +- std "
              "over seeds; FD against all 5,000 digits"), "rows: " + "; ".join(f"{r.key} = {r.what}" for r in rows)]
    for size, by_row in table["cells"].items():
        lines.append(f"-- {size} digits" + (f" (batch {size})" if int(size) < 64 else ""))
        lines.append("  ".join(["row", *SHOWN, "steps/s"]))
        for row in rows:
            cell = by_row.get(row.key)
            if cell is not None:
                lines.append("  ".join([row.key, *(_mean_std(cell, k) for k in (*SHOWN, "steps_per_s"))]))
        for row in rows:
            if row.key in by_row:
                values = by_row[row.key]["fd_classifier"]["values"]
                lines.append(f"  {row.key} FD per seed: " + ", ".join(f"{v:.2f}" for v in values))
        best = min(by_row, key=lambda key: by_row[key]["fd_classifier"]["mean"])
        lines.append(f"  lowest mean FD: {best}")
    if table["missing"]:
        lines.append("not trained: " + ", ".join(table["missing"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.equal_time", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="5000,500,50", help="digits to train on, comma-separated (default "
                                                                "5000,500,50)")
    parser.add_argument("--rows", default=",".join(ROW_KEYS), help=f"rows, comma-separated: {', '.join(ROW_KEYS)}")
    parser.add_argument("--seconds", type=float, default=300.0, help="training seconds per run (default 300)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per row (default 3)")
    parser.add_argument("--jobs", type=int, default=2, help="zoos at a time, one thread each (default 2)")
    parser.add_argument("--out", default="runs/equal-time", help="folder of the zoos (default runs/equal-time)")
    parser.add_argument("--collect", action="store_true", help="train nothing: the table from the zoos in --out")
    parser.add_argument("--name", default="equal-time-mnist-sizes", help="results name under benchmarks/results/")
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
    except ValueError:
        parser.error(f"--sizes takes whole numbers of digits, e.g. 5000,500,50: got '{args.sizes}'")
    if any(not 0 < s <= 5000 for s in sizes):
        parser.error(f"--sizes must each be between 1 and 5000 (the MNIST sample): got '{args.sizes}'")
    unknown = [k for k in args.rows.split(",") if k not in ROW_KEYS]
    if unknown:
        parser.error(f"unknown row '{unknown[0]}': choose from {', '.join(ROW_KEYS)}")
    if Path(args.name).name != args.name:
        parser.error(f"--name is a name under benchmarks/results/, not a path: got '{args.name}'")
    rows = [r for r in ROWS if r.key in args.rows.split(",")]
    root = Path(args.out)
    if not args.collect:
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for future in [pool.submit(train_zoo, row, size, args.seconds, args.seeds, root)
                           for size in sizes for row in rows]:
                future.result()
    table = collect(root, sizes, rows)
    text = render(table, rows, args.seconds, args.jobs)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    commands = [" ".join(["OMP_NUM_THREADS=1", "gankit", *zoo_command(r, s, args.seconds, args.seeds,
                                                                     zoo_folder(root, r, s))[3:]])
                for s in sizes for r in rows]
    record = {"what": "issue 18: the stabilisers at equal wall time on the MNIST sample and its subsets",
              "seconds": args.seconds, "rows": {r.key: {"preset": r.preset, "what": r.what,
                                                        "overrides": list(r.overrides)} for r in rows},
              "commands": commands, **table}
    (RESULTS / f"{args.name}.json").write_text(json.dumps(record, indent=1) + "\n")
    (RESULTS / f"{args.name}.txt").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
