"""Wall seconds of training until a quality threshold, checked by the evaluation metrics at fixed intervals.

Evaluation time is excluded from the clock: both loops are paused while
their samples are measured.
"""

from __future__ import annotations

import time
from typing import Callable

from gankit.evaluation import Evaluator

from benchmarks.measure import config_for, mnist_uint8, trainer_for
from benchmarks.reference_loop import ReferenceLoop


def _train_and_watch(train_chunk: Callable[[], None], measure: Callable[[], dict], budget_s: float,
                     every_s: float, done: Callable[[dict], bool] | None = None) -> list[dict]:
    """Alternate ``every_s`` seconds of training with one measurement, until the budget or ``done``."""
    history, trained = [], 0.0
    while trained < budget_s:
        start = time.perf_counter()
        while time.perf_counter() - start < min(every_s, budget_s - trained):
            train_chunk()
        trained += time.perf_counter() - start
        values = measure()
        history.append({"seconds": round(trained, 1), **values})
        if done is not None and done(values):
            break
    return history


def toy_modes(budget_s: float, every_s: float, device: str = "cpu") -> dict:
    """wgan-gp-25gaussians until all 25 modes with >= 90% high-quality samples."""
    config = config_for("wgan-gp-25gaussians", device)
    trainer = trainer_for(config)
    evaluator = Evaluator(trainer.dataset, metrics=["modes"], samples=2500, device=trainer.device, has_critic=False)

    def measure() -> dict:
        values = evaluator.evaluate(trainer.sampling_generator, config.model.latent_dim, None, trainer.step).values
        return {"step": trainer.step, "modes_covered": values["modes_covered"], "high_quality": values["high_quality"]}

    def reached(values: dict) -> bool:
        return values["modes_covered"] == 25 and values["high_quality"] >= 0.9

    history = _train_and_watch(trainer.train_step, measure, budget_s, every_s, reached)
    hit = next((h["seconds"] for h in history if reached(h)), None)
    return {"threshold": "25/25 modes and >= 90% high-quality samples", "seconds_to_threshold": hit,
            "history": history}


def mnist_against_reference(budget_s: float, every_s: float, device: str = "cpu") -> dict:
    """The reference loop for ``budget_s``; then gankit until it matches the reference's final classifier FD."""
    config = config_for("wgan-gp-mnist", device)
    trainer = trainer_for(config)
    evaluator = Evaluator(trainer.dataset, metrics=["fd"], samples=5000, device=trainer.device, has_critic=False)

    reference = ReferenceLoop(config, mnist_uint8(config))

    def measure_reference() -> dict:
        fd = evaluator.evaluate(reference.generator, config.model.latent_dim, None).values["fd"]
        return {"generator_steps": reference.generator_steps, "fd": fd}

    reference_history = _train_and_watch(lambda: reference.train_batches(config.train.n_critic),
                                         measure_reference, budget_s, every_s)
    target = reference_history[-1]["fd"]

    def measure_gankit() -> dict:
        fd = evaluator.evaluate(trainer.sampling_generator, config.model.latent_dim, None).values["fd"]
        return {"generator_steps": trainer.step, "fd": fd}

    gankit_history = _train_and_watch(trainer.train_step, measure_gankit, budget_s, every_s / 4,
                                      lambda values: values["fd"] <= target)
    hit = next((h["seconds"] for h in gankit_history if h["fd"] <= target), None)
    return {
        "threshold": f"classifier FD <= {target:.1f}, the reference loop's after {budget_s:.0f} s",
        "reference_fd_at_budget": target,
        "gankit_seconds_to_reference_quality": hit,
        "fraction_of_reference_time": None if hit is None else hit / budget_s,
        "reference_history": reference_history,
        "gankit_history": gankit_history,
    }
