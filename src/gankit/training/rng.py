"""Capture and restore every random number generator a run draws from.

Resuming must give the same numbers as never stopping, so a checkpoint
holds the CPU generator and each CUDA device's generator. Python's and
NumPy's generators are not used by the training loop, so they are not saved.
"""

from __future__ import annotations

from typing import Any

import torch


def capture_rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed torch's generators (CPU and all CUDA devices) for a fresh run."""
    torch.manual_seed(seed)
