"""Drawing samples from a generator: batched, without gradients, reproducible."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def latent_noise(n: int, latent_dim: int, device: torch.device | str, seed: int | None = None) -> Tensor:
    """Standard normal latent codes; with ``seed``, the same codes on every device."""
    if seed is None:
        return torch.randn(n, latent_dim, device=device)
    # Drawn on the CPU so that a seed gives the same samples on CPU and GPU.
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, latent_dim, generator=generator).to(device)


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
