"""Gradient penalties and the points they are evaluated at.

One function, ``gradient_norm_penalty``, serves WGAN-GP and WGAN-div: both
penalise ``k * E_{x~r}[|(||grad_x D(x)|| - n)|^p]``, with (n=1, p=2) for the
gradient penalty of Gulrajani et al. and (n=0, p=6) for the Wasserstein
divergence of Wu et al. They differ only in k, n, p and in r(x), the
distribution the gradient is sampled at. The six r(x) of the WGAN-div paper
are the entries of ``PENALTY_POINTS``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from gankit.errors import ConfigError
from gankit.losses import gradient_norm_penalty, input_gradient_norms  # noqa: F401  (the penalty's own functions)

# (rank, world size) of data-parallel training. Each rank draws the weights of
# the whole global batch and keeps its slice, so N processes draw the same
# numbers as one process with the same global batch.
Shard = tuple[int, int]
SINGLE_PROCESS: Shard = (0, 1)


def _interpolate(a: Tensor, b: Tensor, shard: Shard = SINGLE_PROCESS) -> Tensor:
    """A uniformly random point on the segment between a[i] and b[i], per sample."""
    rank, world = shard
    shape = (a.shape[0] * world,) + (1,) * (a.dim() - 1)
    alpha = torch.rand(shape, device=a.device, dtype=a.dtype)[rank * a.shape[0]:(rank + 1) * a.shape[0]]
    return torch.lerp(b, a, alpha)


def _shuffled(x: Tensor) -> Tensor:
    return x[torch.randperm(x.shape[0], device=x.device)]


def real_fake_interpolates(real: Tensor, fake: Tensor, shard: Shard = SINGLE_PROCESS) -> Tensor:
    """Random interpolates of real and fake pairs: WGAN-GP's r(x)."""
    return _interpolate(real, fake, shard)


# The shuffling strategies pair samples within a rank's slice, so under data
# parallelism they are statistically, not numerically, equal to one process.
def within_set_interpolates(real: Tensor, fake: Tensor, shard: Shard = SINGLE_PROCESS) -> Tensor:
    """Interpolates of real with real and of fake with fake, both halves kept."""
    return torch.cat([_interpolate(real, _shuffled(real)), _interpolate(fake, _shuffled(fake))])


def mixed_pair_interpolates(real: Tensor, fake: Tensor, shard: Shard = SINGLE_PROCESS) -> Tensor:
    """Pool real and fake, then interpolate random pairs of the pool."""
    pool = torch.cat([real, fake])
    return _interpolate(_shuffled(pool)[: real.shape[0]], _shuffled(pool)[: real.shape[0]])


def real_and_fake(real: Tensor, fake: Tensor, shard: Shard = SINGLE_PROCESS) -> Tensor:
    """The raw mix of real and fake samples (PyTorch-GAN's WGAN-div choice)."""
    return torch.cat([real, fake])


def real_only(real: Tensor, fake: Tensor, shard: Shard = SINGLE_PROCESS) -> Tensor:
    return real


def fake_only(real: Tensor, fake: Tensor, shard: Shard = SINGLE_PROCESS) -> Tensor:
    return fake


PenaltyPoints = Callable[[Tensor, Tensor, Shard], Tensor]

PENALTY_POINTS: dict[str, PenaltyPoints] = {
    "real-fake": real_fake_interpolates,
    "within": within_set_interpolates,
    "mixed-pairs": mixed_pair_interpolates,
    "mixed": real_and_fake,
    "real": real_only,
    "fake": fake_only,
}


def penalty_points(strategy: str, real: Tensor, fake: Tensor, shard: Shard = SINGLE_PROCESS) -> Tensor:
    """Detached points drawn from r(x), ready to have their input gradient taken."""
    return PENALTY_POINTS[strategy](real.detach(), fake.detach(), shard).detach()


# The strategies whose points each come from one known sample, so a conditional critic knows their class.
_POINT_LABELS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    # The trainer gives fake[i] the label of real[i], so their interpolate keeps it.
    "real-fake": lambda real, fake: real,
    "mixed": lambda real, fake: torch.cat([real, fake]),
    "real": lambda real, fake: real,
    "fake": lambda real, fake: fake,
}


def conditional_penalty_problem(strategy: str) -> str | None:
    """Why a conditional critic cannot take the penalty at ``strategy``'s points, or None if it can."""
    if strategy in _POINT_LABELS:
        return None
    # Shuffled pairs mix two classes: no label describes the point between them.
    return (
        f"objective.penalty_points '{strategy}' pairs samples of different classes, which a conditional "
        f"critic cannot score: use one of {', '.join(_POINT_LABELS)} with model.conditional"
    )


def penalty_point_labels(strategy: str, real_labels: Tensor | None, fake_labels: Tensor | None) -> Tensor | None:
    """The class labels of ``penalty_points(strategy, ...)`` for a conditional critic (None when unconditional)."""
    if real_labels is None or fake_labels is None:
        return None
    problem = conditional_penalty_problem(strategy)
    if problem is not None:
        raise ConfigError(problem)
    return _POINT_LABELS[strategy](real_labels, fake_labels)
