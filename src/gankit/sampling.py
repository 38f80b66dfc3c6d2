"""What a generator consumes, and drawing samples from it: batched, without gradients, reproducible.

A generator's input is declared, not assumed: ``LatentInput`` says how many
dimensions its latent code has and what distribution it is drawn from. The
training loop's noise, the fixed preview inputs, evaluation and ``gankit
sample`` all draw through the same declaration, so a generator fed uniform
codes (BiGAN) is fed them everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

LATENT_DISTRIBUTIONS = ("normal", "uniform")


@dataclass(frozen=True)
class LatentInput:
    """A latent code of ``dim`` values, standard normal or uniform on [-1, 1]."""

    dim: int
    distribution: str = "normal"

    def __post_init__(self) -> None:
        if self.distribution not in LATENT_DISTRIBUTIONS:
            raise ValueError(f"latent distribution must be one of {LATENT_DISTRIBUTIONS}, got {self.distribution!r}")

    def draw(self, n: int, device: torch.device | str, seed: int | None = None) -> Tensor:
        """``n`` codes; with ``seed``, the same codes on every device (drawn on the CPU, then moved)."""
        if seed is None:
            return self._draw(n, device, None)
        return self._draw(n, "cpu", torch.Generator().manual_seed(seed)).to(device)

    def _draw(self, n: int, device: torch.device | str, generator: torch.Generator | None) -> Tensor:
        if self.distribution == "normal":
            return torch.randn(n, self.dim, device=device, generator=generator)
        return torch.rand(n, self.dim, device=device, generator=generator) * 2 - 1


@torch.no_grad()
def generate(
    generator: nn.Module,
    noise: Tensor,
    labels: Tensor | None = None,
    batch_size: int = 512,
) -> Tensor:
    """``generator(noise)`` in eval mode (batch norm uses running statistics), in batches.

    A conditional generator given no labels draws the classes in turn
    (0, 1, ..., K-1, 0, ...), so any sample of it covers the classes evenly.
    """
    if labels is None:
        labels = balanced_labels(generator, noise.shape[0], noise.device)
    was_training = generator.training
    generator.eval()
    try:
        chunks = []
        for start in range(0, noise.shape[0], batch_size):
            chunk_labels = None if labels is None else labels[start : start + batch_size]
            chunks.append(generator(noise[start : start + batch_size], chunk_labels).float())
        return torch.cat(chunks)
    finally:
        generator.train(was_training)


def balanced_labels(generator: nn.Module, n: int, device: torch.device | str) -> Tensor | None:
    """Labels ``0, 1, ..., K-1, 0, ...`` for a conditional generator of K classes; None for an unconditional one."""
    if not getattr(generator, "conditional", False):
        return None
    return torch.arange(n, device=device) % generator.num_classes
