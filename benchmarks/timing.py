"""Timing training loops: windows of whole generator steps, repeated and interleaved.

A window runs whole generator steps until at least ``seconds`` have passed
(never fewer than ``min_steps``), so slow and fast configurations get
comparable measuring time; it waits for the device before reading the clock
at both ends. Shared CPUs are noisy, so a rate is the median over several
windows, and when loops are compared their windows are interleaved (A B C,
A B C, ...) so that a slow minute on the machine hits all of them alike.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class WindowBudget:
    """How long a timed measurement runs: untimed warm-up steps, then ``rounds`` windows of >= ``seconds``."""

    warmup_steps: int
    rounds: int  # timed windows per loop (interleaved where loops are compared); the median is reported
    seconds: float  # minimum length of a window


class Loop(Protocol):
    """What the benchmark needs from a training loop (GankitLoop and ReferenceLoop both are one)."""

    name: str
    generator_steps: int
    critic_steps: int

    def step(self) -> None: ...  # one generator step and the critic steps before it

    def finish(self) -> None: ...  # wait until the work queued so far is done


@dataclass
class Window:
    generator_steps: int
    critic_steps: int
    seconds: float

    @property
    def generator_rate(self) -> float:
        return self.generator_steps / self.seconds

    @property
    def critic_rate(self) -> float:
        return self.critic_steps / self.seconds


def warm_up(loop: Loop, steps: int) -> None:
    """Untimed steps first: allocator, kernel choice (oneDNN, cuDNN) and the first epoch's set-up settle here."""
    for _ in range(steps):
        loop.step()
    loop.finish()


def timed_window(loop: Loop, seconds: float, min_steps: int = 3) -> Window:
    loop.finish()
    generator_before, critic_before = loop.generator_steps, loop.critic_steps
    start = time.perf_counter()
    while loop.generator_steps - generator_before < min_steps or time.perf_counter() - start < seconds:
        loop.step()
    loop.finish()
    elapsed = time.perf_counter() - start
    return Window(loop.generator_steps - generator_before, loop.critic_steps - critic_before, elapsed)


def interleaved_windows(loops: list[Loop], rounds: int, seconds: float) -> list[list[Window]]:
    """``rounds`` windows of each loop, taken in turn; one list of windows per loop, in order."""
    windows: list[list[Window]] = [[] for _ in loops]
    for _ in range(rounds):
        for index, loop in enumerate(loops):
            windows[index].append(timed_window(loop, seconds))
    return windows


def median_rates(windows: list[Window]) -> dict[str, float]:
    """Median generator and critic steps/s over windows, and the spread of the generator rate."""
    generator_rates = [w.generator_rate for w in windows]
    return {
        "generator_steps_per_s": statistics.median(generator_rates),
        "critic_steps_per_s": statistics.median(w.critic_rate for w in windows),
        "generator_steps_per_s_min": min(generator_rates),
        "generator_steps_per_s_max": max(generator_rates),
        "windows": len(windows),
        "timed_generator_steps": sum(w.generator_steps for w in windows),
    }
