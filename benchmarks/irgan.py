"""IRGAN against its BPR baseline on the embedded synthetic implicit-feedback set (issue 20).

    python -m benchmarks.irgan            # irgan-synthetic and bpr-synthetic at their defaults, seeds 0, 1, 2
    python -m benchmarks.irgan --quick    # 20 steps each: checks the wiring, not the numbers

Both presets train the same command (``gankit train --preset ...``) on the same
fixed split; the numbers are the final evaluation's precision@3/5/10 and
NDCG@3/5/10 on the test split, mean and sample std over the seeds. The
synthetic set is not MovieLens: its numbers say nothing about the paper's.

Results: ``benchmarks/results/irgan-synthetic.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import gankit

RESULTS = Path(__file__).resolve().parent / "results"
PRESETS = ("bpr-synthetic", "irgan-synthetic")
COLUMNS = ("precision@3", "precision@5", "precision@10", "ndcg@3", "ndcg@5", "ndcg@10")
SEEDS = (0, 1, 2)


def final_metrics(run_dir: Path) -> dict[str, float]:
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    last = [r for r in records if "eval/ndcg@10" in r][-1]
    return {c: last[f"eval/{c}"] for c in COLUMNS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    results: dict = {"seeds": list(SEEDS), "presets": {}}
    with tempfile.TemporaryDirectory() as out:
        for preset in PRESETS:
            runs = []
            for seed in SEEDS:
                overrides = ["train.tensorboard=false", f"train.seed={seed}"]
                if args.quick:
                    overrides += ["train.steps=20", "eval.every=10", "objective.pretrain_steps=10"
                                  if preset.startswith("irgan") else "train.log_every=10"]
                start = time.perf_counter()
                run = gankit.train(gankit.build_config(preset, overrides=overrides), out=out,
                                   name=f"{preset}-{seed}", progress=False, log=lambda _: None)
                runs.append({"seed": seed, "seconds": round(time.perf_counter() - start, 1),
                             **final_metrics(run.path)})
            results["presets"][preset] = {
                "runs": runs,
                "mean": {c: statistics.mean(r[c] for r in runs) for c in COLUMNS},
                "std": {c: statistics.stdev(r[c] for r in runs) for c in COLUMNS},
            }
    print(f"{'preset':<16}" + "".join(f"{c:>16}" for c in COLUMNS))
    for preset, r in results["presets"].items():
        print(f"{preset:<16}" + "".join(f"{r['mean'][c]:>9.4f}+-{r['std'][c]:.4f}" for c in COLUMNS))
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "irgan-synthetic.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
