"""IRGAN against its BPR baseline on the embedded synthetic implicit-feedback set (issue 20).

    python -m benchmarks.irgan            # the three settings below at their defaults, seeds 0, 1, 2
    python -m benchmarks.irgan --quick    # 20 steps each: checks the wiring, not the numbers

Each setting trains with the command's code path (``gankit.train`` of the
preset) on the same fixed split; the numbers are precision@3/5/10 and
NDCG@3/5/10 on the test split, mean and sample std over the seeds:

* ``bpr-synthetic``: the baseline;
* ``irgan-synthetic``: the preset (BPR pre-training, the discriminator alone, then the game with the
  generator at 1e-4);
* ``irgan-synthetic, reference rates``: the game straight after pre-training with the generator at 1e-3,
  the reference's rate (its ``learning_rate=0.001``).

For IRGAN the evaluation at the end of the generator's pre-training is kept
too, so the table shows what the game itself adds. Then, from each seed's BPR
generator, the false-negative share: of the items its softmax draws for a
user that are not the user's training positives (what IRGAN's discriminator
is taught to call generated), the share that are held-out test positives, at
the reference's temperature 0.2 and at 1, against a uniform draw's (what BPR's
negatives hit). The synthetic set is not MovieLens: its numbers say nothing
about the paper's.

Results: ``benchmarks/results/irgan-synthetic.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

import gankit
from gankit.data import load_dataset

RESULTS = Path(__file__).resolve().parent / "results"
COLUMNS = ("precision@3", "precision@5", "precision@10", "ndcg@3", "ndcg@5", "ndcg@10")
SEEDS = (0, 1, 2)
# label: (preset, overrides)
SETTINGS = {
    "bpr-synthetic": ("bpr-synthetic", []),
    "irgan-synthetic": ("irgan-synthetic", []),
    "irgan-synthetic, reference rates": ("irgan-synthetic", [
        "objective.critic_pretrain_steps=0", "optim.critic.lr=0.01", "train.lr_step_factor=0.1"]),
}
TEMPERATURES = (0.2, 1.0)
DRAWS_PER_USER = 50


def evaluations(run_dir: Path) -> list[dict]:
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in records if "eval/ndcg@10" in r]


def metrics_of(record: dict) -> dict[str, float]:
    return {c: record[f"eval/{c}"] for c in COLUMNS}


def summary(rows: list[dict]) -> dict:
    return {"mean": {c: statistics.mean(r[c] for r in rows) for c in COLUMNS},
            "std": {c: statistics.stdev(r[c] for r in rows) if len(rows) > 1 else 0.0 for c in COLUMNS}}


@torch.no_grad()
def false_negative_share(run_dir: Path, seed: int) -> dict[str, float]:
    """Of a generator's draws outside each user's training positives, the share that are test positives."""
    run = gankit.load_run(run_dir)
    data = load_dataset("synthetic-feedback")
    train, test = data.train_mask(), data.test_mask()
    scores = run.networks["generator"](torch.arange(data.num_users)).float()
    generator = torch.Generator().manual_seed(seed)
    shares = {}
    for temperature in TEMPERATURES:
        draws = torch.multinomial(torch.softmax(scores / temperature, -1), DRAWS_PER_USER, replacement=True,
                                  generator=generator)
        outside = ~train.gather(1, draws)
        shares[f"temperature {temperature:g}"] = (test.gather(1, draws) & outside).sum().item() / outside.sum().item()
    shares["uniform"] = test.sum().item() / (~train).sum().item()
    return shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    results: dict = {"seeds": list(SEEDS), "settings": {}, "false_negative_share": {}}
    with tempfile.TemporaryDirectory() as out:
        for label, (preset, extra) in SETTINGS.items():
            runs, pretrained = [], []
            for seed in SEEDS:
                overrides = ["train.tensorboard=false", f"train.seed={seed}", *extra]
                if args.quick:
                    overrides += ["train.steps=20", "eval.every=10", "train.lr_step_every=10"]
                    overrides += ["objective.pretrain_steps=10", "objective.critic_pretrain_steps=0"] \
                        if preset.startswith("irgan") else []
                config = gankit.build_config(preset, overrides=overrides)
                start = time.perf_counter()
                run = gankit.train(config, out=out, name=f"{preset}-{len(results['settings'])}-{seed}",
                                   progress=False, log=lambda _: None)
                seconds = round(time.perf_counter() - start, 1)
                evals = evaluations(run.path)
                runs.append({"seed": seed, "seconds": seconds, **metrics_of(evals[-1])})
                pretrain = getattr(config.objective.params, "pretrain_steps", 0)  # BPR has none
                at_pretrain = [r for r in evals if r["step"] == pretrain]
                if pretrain and at_pretrain:
                    pretrained.append({"seed": seed, **metrics_of(at_pretrain[0])})
                if preset.startswith("bpr"):
                    results["false_negative_share"][str(seed)] = false_negative_share(run.path, seed)
            results["settings"][label] = {"runs": runs, **summary(runs)}
            if pretrained:
                results["settings"][f"{label}, end of pre-training"] = {"runs": pretrained, **summary(pretrained)}
    print(f"{'setting':<56}" + "".join(f"{c:>17}" for c in COLUMNS))
    for label, r in results["settings"].items():
        print(f"{label:<56}" + "".join(f"{r['mean'][c]:>10.4f}+-{r['std'][c]:.4f}" for c in COLUMNS))
    print("test positives among a BPR generator's draws outside the training positives:")
    for seed, shares in results["false_negative_share"].items():
        print(f"  seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in shares.items()))
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "irgan-synthetic.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
