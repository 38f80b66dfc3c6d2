"""BiGAN and ALI's experiments as measured tables (issue 16).

    python -m benchmarks.inference_gans                # both parts (about 45 minutes on 2 CPU cores)
    python -m benchmarks.inference_gans --only modes   # ALI against GAN on 25gaussians, 10 seeds
    python -m benchmarks.inference_gans --quick        # a few steps each: checks the wiring, not the numbers

* ``mnist``: ``bigan-mnist`` and ``ali-mnist`` at their default budgets, with
  the encoding metric (BiGAN's NNC and CLS on a fixed held-out fifth, the
  reconstruction ratio EGr / EGr_b, latent regression) and the sample metrics;
  beside them the same two classifiers on raw pixels of the same split (what
  an encoder has to beat to have learned anything a pixel does not know).
* ``modes``: ALI's mode-coverage experiment on 25gaussians. ``ali-25gaussians``
  against the same networks trained as a non-saturating GAN (the encoder
  dropped, the critic scoring x alone), equal steps, 10 seeds; 10,000 samples
  each, counted by ALI's responsibility protocol and by ours (a high-quality
  sample within 3 std). The paper: ALI 13.4 +- 5.8 modes, GAN 10.4 +- 9.2.

Results: ``benchmarks/results/inference-gans.{json,txt}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import torch

import gankit
from benchmarks.preset_runs import table, train_preset
from gankit.data import evaluation_order, held_out_part, load_dataset, toy_mixture
from gankit.evaluation.encoding_metrics import classifier_accuracies
from gankit.evaluation.toy_metrics import mode_statistics, responsibility_modes

RESULTS = Path(__file__).resolve().parent / "results"
MNIST_PRESETS = ("bigan-mnist", "ali-mnist")
MNIST_COLUMNS = ("encoding_nn_accuracy", "encoding_linear_accuracy", "reconstruction_ratio", "reconstruction_error",
                 "reconstruction_baseline", "latent_regression", "latent_regression_ratio", "fd_classifier", "recall",
                 "classes_covered", "steps_per_s")
MODE_SAMPLES = 10_000
# The GAN baseline: ALI's networks less the encoder, the critic on x alone, the non-saturating loss (ALI's
# generator side uses swapped labels, the same non-saturating form).
MODE_SETTINGS = {"ALI": [], "GAN": ["objective.name=nsgan"]}
PAPER_MODES = {"ALI": (13.4, 5.8), "GAN": (10.4, 9.2)}


def pixel_baseline() -> dict[str, float]:
    """1-NN and logistic regression on raw pixels of the encoding metric's split of the MNIST sample."""
    dataset = load_dataset("mnist")
    order = evaluation_order(len(dataset), 5000, seed=0)
    images, labels = dataset.batch(order)
    fit, held = held_out_part(len(order))
    x, y = images.flatten(1).numpy(), labels.numpy()
    values = classifier_accuracies(x[fit], y[fit], x[held], y[held])
    return {"pixels_" + k.removeprefix("encoding_"): v for k, v in values.items()}


def mode_counts(run: gankit.Run, seed: int) -> dict[str, float]:
    centres, std = toy_mixture("25gaussians")
    samples = gankit.sample(run, MODE_SAMPLES, seed=1000 + seed)
    ours = mode_statistics(samples, centres, std)
    return {"responsibility_modes": responsibility_modes(samples, centres, std), **ours}


def _summary(values: list[float]) -> str:
    return f"{statistics.fmean(values):.1f} +- {statistics.pstdev(values):.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few steps per run: checks the wiring only")
    parser.add_argument("--seeds", type=int, default=10, help="seeds per setting in the mode table (default 10)")
    parser.add_argument("--only", action="append", choices=("mnist", "modes"), help="one part (repeatable)")
    parser.add_argument("--out", default="inference-gans", help="results name under benchmarks/results/")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's own); 1 lets two parts run side by side on 2 cores")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    only = set(args.only or ("mnist", "modes"))
    steps = 5 if args.quick else None
    results: dict[str, dict] = {}
    text = []
    out_path = RESULTS / f"{args.out}.json"
    previous = json.loads(out_path.read_text()) if out_path.exists() else {}
    with tempfile.TemporaryDirectory() as tmp:
        if "mnist" in only:
            rows = {}
            for preset in MNIST_PRESETS:
                rows[preset], _ = train_preset(preset, [], steps, Path(tmp), preset)
                print(preset, rows[preset], flush=True)
            rows["raw pixels (same split)"] = {
                "encoding_nn_accuracy": (base := pixel_baseline())["pixels_nn_accuracy"],
                "encoding_linear_accuracy": base["pixels_linear_accuracy"],
            }
            results["mnist"] = rows
            text.append(table("BiGAN / ALI on the 5,000-digit MNIST sample, default budgets; accuracies on the "
                              "held-out fifth (1,000 digits), classifiers fitted on the other 4,000", rows,
                              MNIST_COLUMNS, first="preset"))
        if "modes" in only:
            per_seed: dict[str, list[dict]] = {name: [] for name in MODE_SETTINGS}
            for seed in range(args.seeds):
                for name, overrides in MODE_SETTINGS.items():
                    row, run = train_preset("ali-25gaussians", [*overrides, f"train.seed={seed}"], steps,
                                            Path(tmp), f"{name}-{seed}")
                    row.update(mode_counts(run, seed), seed=seed)
                    per_seed[name].append(row)
                    print(name, seed, {k: row[k] for k in ("responsibility_modes", "modes_covered", "high_quality",
                                                           "wall_s")}, flush=True)
            results["modes"] = per_seed
            lines = [f"== ALI's mode coverage on 25gaussians: {args.seeds} seeds, {MODE_SAMPLES:,} samples each, "
                     "equal steps (ali-25gaussians' budget)",
                     "setting  modes by responsibility  modes (3-std, ours)  high quality  paper (responsibility)  wall s"]
            for name, rows in per_seed.items():
                paper = PAPER_MODES[name]
                lines.append(f"{name:<7}  {_summary([r['responsibility_modes'] for r in rows]):>23}  "
                             f"{_summary([r['modes_covered'] for r in rows]):>19}  "
                             f"{statistics.fmean(r['high_quality'] for r in rows):12.3f}  "
                             f"{paper[0]:>14.1f} +- {paper[1]:.1f}  {statistics.fmean(r['wall_s'] for r in rows):6.0f}")
            for name, rows in per_seed.items():
                lines.append(f"{name} per seed (responsibility / 3-std): "
                             + ", ".join(f"{r['responsibility_modes']}/{r['modes_covered']}" for r in rows))
            text.append("\n".join(lines))
    report = "\n\n".join(text)
    print(report)
    RESULTS.mkdir(exist_ok=True)
    # A part run alone keeps the other part's last numbers in the files.
    merged = {**previous, **results} if not args.quick else results
    out_path.write_text(json.dumps(merged, indent=1) + "\n")
    txt = RESULTS / f"{args.out}.txt"
    kept = txt.read_text().split("\n\n") if txt.exists() and not args.quick else []
    titles = {block.splitlines()[0].split(":")[0] for block in text}
    blocks = [b for b in kept if b.strip() and b.splitlines()[0].split(":")[0] not in titles] + text
    txt.write_text("\n\n".join(b.strip() for b in blocks) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
