"""Part 5, levers: what each of gankit's speed levers is worth, by turning it off.

For each preset, gankit with every lever on is timed against copies of
itself with one lever turned off, in interleaved windows (so the machine's
slow minutes hit all of them alike); a lever's gain is the median rate with
it over the median rate without it, and beside it the same ratio of the
fastest windows (interference only slows a window down, so the fastest is
the least disturbed). The levers that can be switched off in place:

- ``fused optimiser``: the fused Adam/AdamW/SGD update (one pass over each
  parameter) against the foreach kernels gankit used before;
- ``joined real/fake forward``: one critic forward over [real, fake]
  against one each (critics without batch statistics only);
- ``channels-last convolutions``: convolutional networks and image batches
  in NHWC memory order against PyTorch's default NCHW;
- ``matmul forms of dense-like convolutions``: on the CPU, the DCGAN
  critic's head, the generator's first layer and a one-channel input layer
  computed as matrix products (``gankit.models.fast_layers``) against
  PyTorch's convolution kernels;
- ``host sync every N steps``: statistics flushed every ``train.log_every``
  steps against a host sync after every generator step, as ``.item()``
  logging does;
- ``bf16 autocast``: only where the device runs bf16 natively.

Levers that are part of the loop's shape (data resident on the device,
generated samples drawn without a graph in the critic step, the critic
frozen in the generator step) have no switch; the reference loop, which
does none of them, measures them together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from benchmarks.gankit_loop import GankitLoop
from benchmarks.report import Column, number, ratio, text
from benchmarks.settings import benchmark_config, timed_precisions
from benchmarks.timing import WindowBudget as Budget
from benchmarks.timing import interleaved_windows, median_rates, warm_up
from gankit.models.fast_layers import FAST_LAYERS, use_plain_layers

PRESETS = ("wgan-gp-mnist-mlp", "wgan-gp-mnist")

QUICK = Budget(warmup_steps=2, rounds=2, seconds=1.5)
FULL = Budget(warmup_steps=4, rounds=5, seconds=4.0)

COLUMNS: list[Column] = [
    ("preset", "preset", text),
    ("lever", "lever", text),
    ("with_generator_steps_per_s", "G/s with", number),
    ("without_generator_steps_per_s", "G/s without", number),
    ("gain", "gain", ratio),
    ("best_window_gain", "gain of best windows", ratio),
    ("round_gains", "per-round gains", text),
]


def _foreach_optimisers(loop: GankitLoop) -> None:
    """Replace the trainer's optimisers by foreach ones with the same settings and state."""
    trainer = loop.trainer
    for side, fused in trainer.optimizers.items():
        group = fused.param_groups[0]
        settings = {k: v for k, v in group.items() if k not in ("params", "fused", "foreach")}
        plain = type(fused)(group["params"], **settings, foreach=True)
        plain.load_state_dict(fused.state_dict())
        for plain_group in plain.param_groups:
            plain_group.update(fused=None, foreach=True)
        trainer.optimizers[side] = plain


def _separate_forwards(loop: GankitLoop) -> None:
    loop.trainer.context.join_critic_forwards = False


def _contiguous_memory(loop: GankitLoop) -> None:
    trainer = loop.trainer
    trainer.channels_last = False
    for model in trainer.networks.values():
        model.to(memory_format=torch.contiguous_format)


def _pytorch_layers(loop: GankitLoop) -> None:
    for model in loop.trainer.networks.values():
        use_plain_layers(model)


def _has_fast_layers(loop: GankitLoop) -> bool:
    models = loop.trainer.networks.values()
    return any(type(layer) in FAST_LAYERS for model in models for layer in model.modules())


def _sync_every_step(loop: GankitLoop) -> None:
    loop.config.train.log_every = 1  # GankitLoop flushes (one host sync) whenever step % log_every == 0


@dataclass(frozen=True)
class Lever:
    name: str
    turn_off: Callable[[GankitLoop], None]
    applies: Callable[[GankitLoop], bool] = lambda loop: True


LEVERS = (
    Lever("fused optimiser", _foreach_optimisers,
          lambda loop: bool(loop.trainer.optimizers["critic"].param_groups[0].get("fused"))),
    Lever("joined real/fake forward", _separate_forwards, lambda loop: loop.trainer.context.join_critic_forwards),
    Lever("channels-last convolutions", _contiguous_memory, lambda loop: loop.trainer.channels_last),
    Lever("matmul forms of dense-like convolutions", _pytorch_layers, _has_fast_layers),
    Lever("host sync every N steps", _sync_every_step, lambda loop: loop.config.train.log_every > 1),
)


def measure(preset: str, device: str, budget: Budget, emulated_bf16: bool = False) -> list[dict[str, Any]]:
    """One row per lever: gankit as configured against a copy with that lever off."""
    baseline = GankitLoop(benchmark_config(preset, device, "fp32"))
    candidates: list[tuple[str, GankitLoop, bool]] = []  # (lever, loop, True where the loop has the lever)
    for lever in LEVERS:
        if not lever.applies(baseline):
            continue
        off = GankitLoop(benchmark_config(preset, device, "fp32"))
        lever.turn_off(off)
        candidates.append((lever.name, off, False))
    if "bf16" in timed_precisions(device, emulated_bf16):
        candidates.append(("bf16 autocast", GankitLoop(benchmark_config(preset, device, "bf16")), True))
    loops = [baseline, *(loop for _, loop, _ in candidates)]
    for loop in loops:
        warm_up(loop, budget.warmup_steps)
    windows = interleaved_windows(loops, budget.rounds, budget.seconds)
    base = median_rates(windows[0])["generator_steps_per_s"]
    rows = []
    base_best = max(w.generator_rate for w in windows[0])
    for (name, _, has_lever), own in zip(candidates, windows[1:]):
        rate = median_rates(own)["generator_steps_per_s"]
        with_rate, without_rate = (rate, base) if has_lever else (base, rate)
        # A neighbour on a shared machine only ever slows a window down, so the fastest window of each
        # loop is the least disturbed estimate of its speed: a second reading beside the medians.
        best = max(w.generator_rate for w in own)
        with_best, without_best = (best, base_best) if has_lever else (base_best, best)
        pairs = zip(own, windows[0]) if has_lever else zip(windows[0], own)
        gains = sorted(a.generator_rate / b.generator_rate for a, b in pairs)
        rows.append({
            "preset": preset,
            "lever": name,
            "with_generator_steps_per_s": with_rate,
            "without_generator_steps_per_s": without_rate,
            "gain": with_rate / without_rate,
            "best_window_gain": with_best / without_best,
            "round_gains": " ".join(f"{g:.2f}" for g in gains),
        })
    return rows


def run(device: str, budget: Budget, emulated_bf16: bool = False) -> list[dict[str, Any]]:
    rows = []
    for preset in PRESETS:
        rows += measure(preset, device, budget, emulated_bf16)
    return rows
