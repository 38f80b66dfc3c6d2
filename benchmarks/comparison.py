"""Part 2: gankit against the reference-style loop (``reference_loop.py``) at identical settings.

Both loops are built from one resolved preset config: the same networks,
initial weights, optimiser settings, batch size and n_critic. The reference
trains in fp32 as the scripts do; gankit is measured in fp32, and in bf16
where the device runs bf16 natively. Their timing windows are interleaved
(reference, gankit fp32, gankit bf16, repeated), and the headline is the
ratio of median generator steps/s.
Issue 4's targets are printed as PASS/FAIL; a miss is a finding, not an error.
"""

from __future__ import annotations

from typing import Any

from benchmarks.gankit_loop import GankitLoop
from benchmarks.reference_loop import ReferenceLoop
from benchmarks.report import Column, number, ratio, text
from benchmarks.settings import benchmark_config, dataset_for, timed_precisions
from benchmarks.timing import WindowBudget as Budget
from benchmarks.timing import interleaved_windows, median_rates, warm_up

# Issue 4: gankit's generator steps/s over the reference loop's, same settings.
TARGETS = {"wgan-gp-mnist-mlp": 2.0, "wgan-gp-mnist": 1.5}


QUICK = Budget(warmup_steps=2, rounds=2, seconds=1.5)
FULL = Budget(warmup_steps=4, rounds=5, seconds=4.0)

COLUMNS: list[Column] = [
    ("preset", "preset", text),
    ("gankit_precision", "gankit", text),
    ("reference_generator_steps_per_s", "reference G/s", number),
    ("gankit_generator_steps_per_s", "gankit G/s", number),
    ("ratio", "ratio", ratio),
    ("round_ratios", "per-round ratios", text),
    ("target", "target", ratio),
    ("verdict", "verdict", text),
]


def compare(preset: str, device: str, budget: Budget, target: float | None,
            emulated_bf16: bool = False) -> list[dict[str, Any]]:
    """One row per gankit precision: its median generator steps/s over the reference loop's."""
    config = benchmark_config(preset, device, "fp32")
    reference = ReferenceLoop(config, dataset_for(config), device)
    precisions = timed_precisions(device, emulated_bf16)
    ours = [GankitLoop(benchmark_config(preset, device, precision)) for precision in precisions]
    loops = [reference, *ours]
    for loop in loops:
        warm_up(loop, budget.warmup_steps)
    windows = interleaved_windows(loops, budget.rounds, budget.seconds)
    theirs = median_rates(windows[0])
    rows = []
    for precision, our_windows in zip(precisions, windows[1:]):
        mine = median_rates(our_windows)
        value = mine["generator_steps_per_s"] / theirs["generator_steps_per_s"]
        # Rounds are adjacent in time, so their ratios show how much the machine's noise moves the headline.
        paired = sorted(a.generator_rate / b.generator_rate for a, b in zip(our_windows, windows[0]))
        rows.append({
            "preset": preset,
            "gankit_precision": precision,
            "batch_size": config.train.batch_size,
            "n_critic": config.train.n_critic,
            "reference_generator_steps_per_s": theirs["generator_steps_per_s"],
            "gankit_generator_steps_per_s": mine["generator_steps_per_s"],
            "reference_spread": [theirs["generator_steps_per_s_min"], theirs["generator_steps_per_s_max"]],
            "gankit_spread": [mine["generator_steps_per_s_min"], mine["generator_steps_per_s_max"]],
            "ratio": value,
            "round_ratios": " ".join(f"{r:.2f}" for r in paired),
            "target": target,
            "verdict": None if target is None else ("PASS" if value >= target else "FAIL"),
        })
    return rows


def run(device: str, budget: Budget, targets: dict[str, float] | None = None,
        emulated_bf16: bool = False) -> list[dict[str, Any]]:
    rows = []
    for preset, target in (targets or TARGETS).items():
        rows += compare(preset, device, budget, target, emulated_bf16)
    return rows
