"""What a generator consumes, and drawing samples from it: batched, without gradients, reproducible.

A generator's input is declared, not assumed: ``LatentInput`` says how many
dimensions its latent code has and what distribution it is drawn from. The
training loop's noise, the fixed preview inputs, evaluation and ``gankit
sample`` all draw through the same declaration, so a generator fed uniform
codes (BiGAN) is fed them everywhere.

Truncation (``gankit sample --truncation psi``, ``gankit interpolate``) trades
variety for typical samples. gankit scales a standard normal draw toward its
mean: ``z = psi * z0`` with ``z0 ~ N(0, I)``, so the codes are ``N(0, psi^2 I)``
(the "reduced temperature" of Kingma and Dhariwal's Glow; StyleGAN's
``mean + psi (w - mean)`` with the mean of ``z``, which is 0). ``psi`` lies in
(0, 1]; ``psi = 1`` returns the draw untouched, bit for bit. It is chosen over
BigGAN's resampling of values beyond a threshold because it keeps the draw a
pure function of the seed with no rejection loop, and the codes at ``psi`` are
the codes at 1 scaled: the same seed gives the same picture, only more typical.
Uniform latents (BiGAN) have no such tail to cut, and refuse it.
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

    def draw(self, n: int, device: torch.device | str, seed: int | None = None, truncation: float = 1.0) -> Tensor:
        """``n`` codes; with ``seed``, the same codes on every device (drawn on the CPU, then moved).

        ``truncation`` (psi in (0, 1], normal latents only) scales the draw: see the module's docstring.
        """
        problem = truncation_problem(truncation, self.distribution)
        if problem is not None:
            raise ValueError(problem)  # callers facing users check first, with truncation_problem
        if seed is None:
            codes = self._draw(n, device, None)
        else:
            codes = self._draw(n, "cpu", torch.Generator().manual_seed(seed)).to(device)
        return codes if truncation == 1.0 else codes * truncation

    def _draw(self, n: int, device: torch.device | str, generator: torch.Generator | None) -> Tensor:
        if self.distribution == "normal":
            return torch.randn(n, self.dim, device=device, generator=generator)
        return torch.rand(n, self.dim, device=device, generator=generator) * 2 - 1


def truncation_problem(psi: float, distribution: str = "normal") -> str | None:
    """Why ``psi`` cannot truncate a latent of ``distribution`` (one line naming the fix), or None if it can."""
    if psi == 1.0:
        return None
    if not 0.0 < psi <= 1.0:  # also False for NaN
        return (f"truncation psi must lie in (0, 1], got {psi}: psi scales the normal latent toward its mean, "
                "1 leaves it untouched and smaller values give more typical samples (0.7 is common)")
    if distribution != "normal":
        return (f"truncation needs a normal latent, but this generator draws {distribution} codes: "
                "leave --truncation out (or at 1)")
    return None


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
