"""Part 1, throughput: how fast gankit's training step runs, per preset and precision.

For each preset the Trainer is built as ``gankit train`` builds it, warmed up,
then timed over whole generator steps (``benchmarks.timing``). Reported:
generator steps/s, critic steps/s, and samples/s = critic steps x batch / s
(the real samples the critic consumes; for MNIST, images/s).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.gankit_loop import GankitLoop
from benchmarks.report import Column, number, text
from benchmarks.settings import benchmark_config, dataset_for, timed_precisions
from benchmarks.timing import WindowBudget as Budget
from benchmarks.timing import median_rates, timed_window, warm_up
from gankit.config import preset_names
from gankit.objectives import OBJECTIVES

# Every objective on an image set and on a toy set where it has that preset (fgan-, hinge- and the translation
# objectives' are named by their variant or data), plus the MLP reproduction of PyTorch-GAN's script and the
# 25-mode toy problem.
DEFAULT_PRESETS = [name for data in ("mnist", "8gaussians") for objective in OBJECTIVES
                   if (name := f"{objective}-{data}") in preset_names()]
DEFAULT_PRESETS += ["wgan-gp-mnist-mlp", "wgan-gp-25gaussians"]


QUICK = Budget(warmup_steps=2, rounds=1, seconds=1.0)
FULL = Budget(warmup_steps=5, rounds=3, seconds=2.5)

COLUMNS: list[Column] = [
    ("preset", "preset", text),
    ("precision", "precision", text),
    ("batch_size", "batch", number),
    ("n_critic", "n_critic", number),
    ("generator_steps_per_s", "G steps/s", number),
    ("critic_steps_per_s", "D steps/s", number),
    ("samples_per_s", "samples/s", number),
    ("spread", "G steps/s min-max", text),
]


def precisions_for(preset: str, device: str, emulated_bf16: bool = False) -> tuple[str, ...]:
    """bf16 as well as fp32 on image presets where the device runs bf16 natively; the 2-D toys' tiny
    matmuls gain nothing from it."""
    config = benchmark_config(preset, device)
    return timed_precisions(device, emulated_bf16) if dataset_for(config).kind == "images" else ("fp32",)


def measure(preset: str, precision: str, device: str, budget: Budget) -> dict[str, Any]:
    config = benchmark_config(preset, device, precision)
    loop = GankitLoop(config)
    warm_up(loop, budget.warmup_steps)
    rates = median_rates([timed_window(loop, budget.seconds) for _ in range(budget.rounds)])
    batch = config.train.batch_size
    return {
        "preset": preset,
        "precision": precision,
        "batch_size": batch,
        "n_critic": config.train.n_critic,
        **rates,
        "samples_per_s": rates["critic_steps_per_s"] * batch,
        "spread": f"{rates['generator_steps_per_s_min']:.3g}-{rates['generator_steps_per_s_max']:.3g}",
    }


def run(device: str, budget: Budget, presets: list[str] | None = None,
        progress: Callable[[str], None] = print, emulated_bf16: bool = False) -> list[dict[str, Any]]:
    """One row per (preset, precision); a progress line as each is measured, the table is the caller's."""
    rows = []
    for preset in presets or DEFAULT_PRESETS:
        for precision in precisions_for(preset, device, emulated_bf16):
            rows.append(measure(preset, precision, device, budget))
            progress(f"  {preset} {precision}: {rows[-1]['generator_steps_per_s']:.3g} generator steps/s")
    return rows
