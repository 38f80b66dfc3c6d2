"""Achieved FLOP/s of a training step as a share of the machine's measured matmul peak."""

from __future__ import annotations

import time

import torch
from torch.profiler import ProfilerActivity, profile

from benchmarks.measure import config_for, trainer_for


def matmul_peak(dtype: torch.dtype, device: str = "cpu", size: int = 2048, repeats: int = 10) -> float:
    """FLOP/s of a large square matmul: the best this machine does in ``dtype``."""
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    for _ in range(2):
        a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best


def step_utilisation(preset: str, precision: str, device: str, steps: int = 10) -> dict[str, float]:
    config = config_for(preset, device, [f"train.precision={precision}"])
    trainer = trainer_for(config)
    for _ in range(3):
        trainer.train_step()
    # The profiler's FLOP estimates cover matmuls and convolutions, forward and
    # backward, including the penalty's double backward (FlopCounterMode's
    # module hooks refuse torch.autograd.grad). Other ops are not counted, so
    # the share is a lower bound.
    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as profiler:
        trainer.train_step()
    flops_per_step = sum(event.flops for event in profiler.key_averages() if event.flops)
    start = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    seconds = (time.perf_counter() - start) / steps
    peak = matmul_peak(torch.bfloat16 if precision == "bf16" else torch.float32, device)
    achieved = flops_per_step / seconds
    return {"gflop_per_step": flops_per_step / 1e9, "achieved_gflops": achieved / 1e9,
            "peak_gflops": peak / 1e9, "share_of_peak": achieved / peak}
