"""What live training alarms cost: generator steps/s of one preset with train.alarms on and off.

The two trainers run in the same process, in alternating windows of steps,
so that load from other processes on a shared machine falls on both alike;
the medians over windows are compared. Writes benchmarks/results/alarms-overhead.json.

    python -m benchmarks.alarms_overhead [--preset wgan-gp-8gaussians] [--windows 10] [--steps 50]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from gankit.api import load_data
from gankit.config import build_config, resolve
from gankit.training.trainer import Trainer

RESULTS = Path(__file__).parent / "results" / "alarms-overhead.json"


def _trainer(preset: str, alarms: bool) -> Trainer:
    # No run folder: training steps and the flush at each log step (where the alarms read their numbers) only.
    config = resolve(build_config(preset, overrides=["train.device=cpu", f"train.alarms={str(alarms).lower()}",
                                                     "train.alarm_warmup=0", "eval.every=0"]))
    return Trainer(config, load_data(config), run_dir=None, progress=False, log=lambda message: None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="wgan-gp-8gaussians")
    parser.add_argument("--windows", type=int, default=10)
    parser.add_argument("--steps", type=int, default=50, help="generator steps per window")
    args = parser.parse_args()
    trainers = {"alarms on": _trainer(args.preset, True), "alarms off": _trainer(args.preset, False)}
    rates: dict[str, list[float]] = {name: [] for name in trainers}
    for trainer in trainers.values():
        trainer.fit(args.steps)  # warm-up window, not counted
    for window in range(args.windows):
        for name, trainer in trainers.items():
            start = time.perf_counter()
            trainer.fit(trainer.step + args.steps)
            rates[name].append(args.steps / (time.perf_counter() - start))
    result = {
        "preset": args.preset, "steps_per_window": args.steps, "windows": args.windows,
        "median_steps_per_s": {name: statistics.median(r) for name, r in rates.items()},
        "steps_per_s": rates, "machine": platform.processor() or platform.machine(), "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    on, off = result["median_steps_per_s"]["alarms on"], result["median_steps_per_s"]["alarms off"]
    result["overhead_percent"] = 100 * (off - on) / off
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{args.preset}: alarms on {on:.1f} steps/s, off {off:.1f} steps/s (median of {args.windows} windows of "
          f"{args.steps} steps): overhead {result['overhead_percent']:.1f}%; wrote {RESULTS}")


if __name__ == "__main__":
    main()
