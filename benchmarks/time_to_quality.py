"""Part 3, time to quality: training seconds until a sample-quality threshold, gankit against the reference loop.

Each loop trains in chunks of ``every`` seconds; after each chunk its
generator is evaluated with the clock stopped, so evaluation never counts as
training time. One Evaluator serves both loops (the same real subset and
the same latent seed), so their numbers compare like with like.

MNIST (preset wgan-gp-mnist, fp32 for both): the reference loop trains for
the whole budget, and its final classifier FD is "the reference loop's
N-minute quality"; gankit then trains until it is at least that good and
below the fixed FD threshold, or until the same budget runs out. The fixed
threshold was chosen from measurement: a level the main job reaches within a
few minutes on 2 CPU cores (see benchmarks/README.md).

25gaussians (preset wgan-gp-25gaussians): each loop trains until 25 of 25
modes are covered with at least 90% high-quality samples (the VEEGAN/PacGAN
protocol, 2,500 samples), or the budget runs out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from benchmarks.gankit_loop import GankitLoop
from benchmarks.reference_loop import ReferenceLoop
from benchmarks.report import Column, number, text
from benchmarks.settings import benchmark_config, dataset_for
from benchmarks.timing import Loop
from gankit.evaluation import Evaluator
from gankit.evaluation.records import FD_CLASSIFIER

# The main job until issue 18 moved it to hinge-sngan-mnist. The reference loop is a WGAN-GP loop, so the
# comparison of loops stays on wgan-gp-mnist; "the main job" below means this preset.
MNIST_PRESET = "wgan-gp-mnist"
TOY_PRESET = "wgan-gp-25gaussians"
TOY_MODES = 25
TOY_HIGH_QUALITY = 0.9


@dataclass(frozen=True)
class Budget:
    mnist_seconds: float  # training seconds for each loop
    mnist_every: float  # training seconds between evaluations
    mnist_samples: int  # generated (and real) samples per FD
    fd_threshold: float  # the fixed classifier-FD threshold
    toy_seconds: float
    toy_every: float


# FD thresholds, from measurement on 2 CPU cores (FD starts near 3,000): the
# quick one (2,000 samples) lies between where the two loops are after 45 s
# (about 280 and 200); 25 (5,000 samples) is a digit-like level the main job
# reaches in 3 to 5 minutes, and the reference loop in about 5.
QUICK = Budget(mnist_seconds=45, mnist_every=9, mnist_samples=2000, fd_threshold=250.0, toy_seconds=20, toy_every=10)
FULL = Budget(mnist_seconds=600, mnist_every=30, mnist_samples=5000, fd_threshold=25.0, toy_seconds=90, toy_every=15)



def mnist_columns(threshold: float) -> list[Column]:
    """The MNIST table's columns; the fixed threshold is named in its header."""
    return [
        ("loop", "loop", text),
        ("trained_seconds", "trained s", number),
        ("generator_steps", "G steps", number),
        ("final_fd", "final FD", number),
        ("best_fd", "best FD", number),
        ("seconds_to_threshold", f"s to FD <= {threshold:g}", number),
        ("seconds_to_reference_final", "s to reference's final FD", number),
    ]


TOY_COLUMNS: list[Column] = [
    ("loop", "loop", text),
    ("trained_seconds", "trained s", number),
    ("generator_steps", "G steps", number),
    ("seconds_to_threshold", "s to 25 modes & >=90% HQ", number),
    ("most_modes", "most modes", number),
    ("best_high_quality", "best HQ share", number),
    ("final", "final (modes, HQ)", text),
]


def train_and_watch(loop: Loop, evaluate: Callable[[nn.Module], dict[str, float]], budget_s: float,
                    every_s: float, reached: Callable[[dict[str, float]], bool] | None = None) -> list[dict[str, Any]]:
    """Train in chunks of ``every_s`` seconds, evaluating after each with the clock stopped.

    Stops when ``budget_s`` seconds of training are spent or ``reached`` says the
    last evaluation is good enough. Returns one record per evaluation.
    """
    history: list[dict[str, Any]] = []
    trained = 0.0
    while trained < budget_s:
        chunk = min(every_s, budget_s - trained)
        loop.finish()
        start = time.perf_counter()
        while time.perf_counter() - start < chunk:
            loop.step()
        loop.finish()
        trained += time.perf_counter() - start
        values = evaluate(loop.generator)  # off the clock
        history.append({"seconds": round(trained, 2), "generator_steps": loop.generator_steps, **values})
        if reached is not None and reached(values):
            break
    return history


def first_time(history: list[dict[str, Any]], good: Callable[[dict[str, Any]], bool]) -> float | None:
    """Training seconds at the first evaluation that is ``good``; None if none is."""
    return next((record["seconds"] for record in history if good(record)), None)


def _fd_evaluator(evaluator: Evaluator, latent_dim: int) -> Callable[[nn.Module], dict[str, float]]:
    # The classifier FD (recorded as fd_classifier; the history keeps the short name "fd" of earlier results).
    return lambda generator: {"fd": evaluator.evaluate(generator, latent_dim).values[FD_CLASSIFIER]}


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} minutes"


def mnist(device: str, budget: Budget, reference_preset: str = MNIST_PRESET) -> dict[str, Any]:
    """gankit's main job against the reference loop, by default at the main job's own settings.

    ``reference_preset`` lets the reference loop train another preset's settings instead, e.g.
    wgan-gp-mnist-mlp (PyTorch-GAN's wgan_gp.py: its MLP, lr and n_critic): the script a user
    would otherwise have run. gankit always trains the main job.
    """
    config = benchmark_config(MNIST_PRESET, device, "fp32")
    reference_config = benchmark_config(reference_preset, device, "fp32")
    dataset = dataset_for(config)
    evaluator = Evaluator(dataset, metrics=["fd"], samples=budget.mnist_samples, device=device, has_critic=False)
    threshold = budget.fd_threshold

    reference = ReferenceLoop(reference_config, dataset_for(reference_config), device)
    reference_history = train_and_watch(reference, _fd_evaluator(evaluator, reference_config.model.latent_dim),
                                        budget.mnist_seconds, budget.mnist_every)
    reference_final = reference_history[-1]["fd"]

    gankit = GankitLoop(config)
    target = min(threshold, reference_final)
    gankit_history = train_and_watch(gankit, _fd_evaluator(evaluator, config.model.latent_dim), budget.mnist_seconds,
                                      budget.mnist_every, reached=lambda values: values["fd"] <= target)

    def summary(name: str, history: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "loop": name,
            "trained_seconds": history[-1]["seconds"],
            "generator_steps": history[-1]["generator_steps"],
            "final_fd": history[-1]["fd"],
            "best_fd": min(record["fd"] for record in history),
            "seconds_to_threshold": first_time(history, lambda r: r["fd"] <= threshold),
            "seconds_to_reference_final": first_time(history, lambda r: r["fd"] <= reference_final),
        }

    rows = [summary("reference", reference_history), summary("gankit", gankit_history)]
    reached = rows[1]["seconds_to_reference_final"]
    headline = f"the reference loop's quality after {_duration(budget.mnist_seconds)} (FD {reference_final:.1f}): " + (
        f"gankit reached it in {_duration(reached)} ({reached / budget.mnist_seconds:.0%} of the time)"
        if reached is not None
        else f"gankit did not reach it in the same time (best FD {rows[1]['best_fd']:.1f})"
    )
    return {
        "preset": MNIST_PRESET,
        "reference_preset": reference_preset,
        "precision": "fp32",
        "budget_seconds": budget.mnist_seconds,
        "eval_every_seconds": budget.mnist_every,
        "eval_samples": budget.mnist_samples,
        "feature_space": "the shipped MNIST classifier (gankit's fd metric, recorded as fd_classifier: not an FID)",
        "fd_threshold": threshold,
        "reference_final_fd": reference_final,
        "headline": headline,
        "rows": rows,
        "reference_history": reference_history,
        "gankit_history": gankit_history,
    }


def toy(device: str, budget: Budget) -> dict[str, Any]:
    config = benchmark_config(TOY_PRESET, device, "fp32")
    dataset = dataset_for(config)
    evaluator = Evaluator(dataset, metrics=["modes"], samples=2500, device=device, has_critic=False)

    def evaluate(generator: nn.Module) -> dict[str, float]:
        values = evaluator.evaluate(generator, config.model.latent_dim).values
        return {"modes_covered": values["modes_covered"], "high_quality": values["high_quality"]}

    def good(values: dict[str, Any]) -> bool:
        return values["modes_covered"] >= TOY_MODES and values["high_quality"] >= TOY_HIGH_QUALITY

    rows, histories = [], {}
    for loop in (ReferenceLoop(config, dataset, device), GankitLoop(config)):
        history = train_and_watch(loop, evaluate, budget.toy_seconds, budget.toy_every, reached=good)
        histories[loop.name] = history
        rows.append({
            "loop": loop.name,
            "trained_seconds": history[-1]["seconds"],
            "generator_steps": history[-1]["generator_steps"],
            "seconds_to_threshold": first_time(history, good),
            "most_modes": max(r["modes_covered"] for r in history),
            "best_high_quality": max(r["high_quality"] for r in history),
            "final": f"{history[-1]['modes_covered']}, {history[-1]['high_quality']:.3f}",
        })
    return {
        "preset": TOY_PRESET,
        "threshold": f"{TOY_MODES}/{TOY_MODES} modes and >= {TOY_HIGH_QUALITY:.0%} high-quality samples (2,500 samples)",
        "budget_seconds": budget.toy_seconds,
        "eval_every_seconds": budget.toy_every,
        "rows": rows,
        "reference_history": histories["reference"],
        "gankit_history": histories["gankit"],
    }
