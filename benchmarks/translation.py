"""The translation papers' ablations as measured tables (issue 15).

    python -m benchmarks.translation                 # both tables at the stated budgets (about 25 minutes on 2 CPU cores)
    python -m benchmarks.translation --quick         # a few steps each: checks the wiring, not the numbers

* CycleGAN's table (Zhu et al., Table 4: GAN alone, cycle alone, GAN + forward
  cycle, GAN + both) on ``mnist:mnist-inverted`` and ``mnist:digits``, each
  setting the preset with one override, scored by label preservation (plain
  and Hungarian), cycle ratio and classifier FD, both directions;
* DiscoGAN's toy (Kim et al., Figure 3) on ``5gaussians:arc``: GAN, GAN +
  reconstruction, DiscoGAN, scored by target modes hit, the high-quality
  share and the mode-to-mode assignment.

Each row is one run from the command line's API (``gankit.train``), wall
seconds included; results go to ``benchmarks/results/translation.{json,txt}``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from benchmarks.preset_runs import table, train_preset

RESULTS = Path(__file__).resolve().parent / "results"

CYCLEGAN_ABLATIONS = {
    "GAN alone": ["objective.cycle=none", "objective.identity_weight=0"],
    "cycle alone": ["objective.adversarial_weight=0"],
    "GAN + forward cycle": ["objective.cycle=forward", "objective.identity_weight=0"],
    "GAN + both cycles (CycleGAN)": [],
}
DISCOGAN_TRIO = {
    "GAN": ["objective.model=gan"],
    "GAN + reconstruction": ["objective.model=recongan"],
    "DiscoGAN": ["objective.model=discogan"],
}
CYCLEGAN_COLUMNS = (
    "label_preservation_a2b", "label_preservation_hungarian_a2b", "label_preservation_b2a",
    "label_preservation_hungarian_b2a", "cycle_ratio_a2b", "cycle_ratio_b2a", "fd_classifier_a2b", "fd_classifier_b2a",
)
DISCOGAN_COLUMNS = (
    "modes_covered_a2b", "high_quality_a2b", "targets_per_source_mode_a2b", "source_modes_collapsed_a2b",
    "cycle_ratio_a2b",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few steps per run: checks the wiring only")
    parser.add_argument("--cyclegan-steps", type=int, default=800, help="generator steps per CycleGAN run (default 800)")
    parser.add_argument("--discogan-steps", type=int, default=2000, help="generator steps per DiscoGAN run (default 2000)")
    parser.add_argument("--out", default="translation", help="results name under benchmarks/results/")
    parser.add_argument("--only", action="append", choices=("mnist:mnist-inverted", "mnist:digits", "arc"),
                        help="run only this table (repeatable; default: all three)")
    args = parser.parse_args(argv)
    only = set(args.only or ("mnist:mnist-inverted", "mnist:digits", "arc"))
    cycle_steps, disco_steps = (5, 5) if args.quick else (args.cyclegan_steps, args.discogan_steps)
    results: dict[str, dict] = {}
    text = []
    with tempfile.TemporaryDirectory() as tmp:
        for data in [d for d in ("mnist:mnist-inverted", "mnist:digits") if d in only]:
            rows = {}
            for name, overrides in CYCLEGAN_ABLATIONS.items():
                rows[name], _ = train_preset("cyclegan-mnist-inverted", [f"data.name={data}", *overrides], cycle_steps,
                                           Path(tmp), f"cg-{len(results)}-{len(rows)}")
                print(f"cyclegan {data} {name}: {rows[name]}", flush=True)
            results[f"cyclegan {data}"] = rows
            text.append(table(f"CycleGAN ablation on {data} ({cycle_steps} steps each)", rows, CYCLEGAN_COLUMNS))
        rows = {}
        for name, overrides in (DISCOGAN_TRIO if "arc" in only else {}).items():
            rows[name], _ = train_preset("discogan-arc", overrides, disco_steps, Path(tmp), f"dg-{len(rows)}")
            print(f"discogan arc {name}: {rows[name]}", flush=True)
        if rows:
            results["discogan 5gaussians:arc"] = rows
            text.append(table(f"DiscoGAN's toy, 5gaussians:arc ({disco_steps} steps each)", rows, DISCOGAN_COLUMNS))
    report = "\n\n".join(text)
    print(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(results, indent=1) + "\n")
    (RESULTS / f"{args.out}.txt").write_text(report + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
