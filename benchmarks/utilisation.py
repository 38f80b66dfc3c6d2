"""Part 4, utilisation: a training step's achieved FLOP/s as a share of what this machine's matmuls reach.

The peak is measured, not taken from a data sheet: the best time of a large
square matmul in fp32 and in bf16 on the benchmark's device. A step's FLOPs
come from ``torch.utils.flop_counter.FlopCounterMode`` around one
``train_step``: matmuls and convolutions, forward, backward and the
penalty's double backward, by shape formulas; element-wise work (activations,
norms, optimiser updates) counts zero, so the share is that of useful matrix
work, the usual "model FLOPs utilisation".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.gankit_loop import GankitLoop
from benchmarks.report import Column, number, percent, text
from benchmarks.settings import benchmark_config, synchronise, timed_precisions
from benchmarks.timing import median_rates, timed_window, warm_up

PRESETS = ("wgan-gp-mnist", "wgan-gp-mnist-mlp")
PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}


@dataclass(frozen=True)
class Budget:
    warmup_steps: int
    rounds: int
    seconds: float
    matmul_repeats: int


QUICK = Budget(warmup_steps=2, rounds=1, seconds=1.5, matmul_repeats=5)
FULL = Budget(warmup_steps=4, rounds=3, seconds=3.0, matmul_repeats=20)

COLUMNS: list[Column] = [
    ("preset", "preset", text),
    ("precision", "precision", text),
    ("gflop_per_step", "GFLOP/step", number),
    ("generator_steps_per_s", "G steps/s", number),
    ("achieved_gflops", "achieved GFLOP/s", number),
    ("peak_gflops", "matmul peak GFLOP/s", number),
    ("share_of_peak", "share of peak", percent),
]


def matmul_peak(dtype: torch.dtype, device: str, repeats: int) -> float:
    """FLOP/s of the fastest of ``repeats`` large square matmuls: what the device's matrix units deliver."""
    size = 8192 if torch.device(device).type == "cuda" else 2048  # big enough to leave overheads behind
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(repeats):
        synchronise(device)
        start = time.perf_counter()
        a @ b
        synchronise(device)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


class _NoModuleTracking:
    """A stand-in for FlopCounterMode's ModuleTracker, which attributes FLOPs to modules.

    That tracker's backward hooks make ``torch.autograd.grad`` fail ("A leaf
    node was passed to _will_engine_execute_node", pytorch/pytorch#131753),
    and every gradient penalty calls it. The total needs no attribution, so
    all FLOPs are booked under "Global", the name the counter sums.
    """

    parents = {"Global"}

    def __enter__(self) -> _NoModuleTracking:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def count_flops(work: Callable[[], None]) -> int:
    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _NoModuleTracking()
    with counter:
        work()
    return counter.get_total_flops()


def measure(preset: str, precision: str, device: str, budget: Budget, peak: float) -> dict[str, Any]:
    loop = GankitLoop(benchmark_config(preset, device, precision))
    warm_up(loop, budget.warmup_steps)
    flops = count_flops(loop.step)  # one generator step with its critic steps, as timed below
    rate = median_rates([timed_window(loop, budget.seconds) for _ in range(budget.rounds)])["generator_steps_per_s"]
    achieved = flops * rate
    return {
        "preset": preset,
        "precision": precision,
        "gflop_per_step": flops / 1e9,
        "generator_steps_per_s": rate,
        "achieved_gflops": achieved / 1e9,
        "peak_gflops": peak / 1e9,
        "share_of_peak": achieved / peak,
    }


def run(device: str, budget: Budget, emulated_bf16: bool = False) -> dict[str, Any]:
    """fp32, and bf16 where the device runs it natively (emulated bf16 steps take minutes each on a CPU)."""
    precisions = timed_precisions(device, emulated_bf16)
    peaks = {name: matmul_peak(PRECISIONS[name], device, budget.matmul_repeats) for name in precisions}
    rows = [measure(preset, precision, device, budget, peaks[precision]) for preset in PRESETS for precision in precisions]
    return {"matmul_peak_gflops": {k: v / 1e9 for k, v in peaks.items()}, "rows": rows}
