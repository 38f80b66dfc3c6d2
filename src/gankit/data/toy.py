"""The 2-D toy sets of the WGAN-GP paper (Gulrajani et al., 2017), with its parameters.

The Gaussian mixtures keep each point's component index as its label, and
``toy_mixture`` exposes the (scaled) centres and std, so that evaluation can
count covered modes and high-quality samples against the true mixture.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gankit.data.dataset import Dataset
from gankit.errors import DataError

TOY_NAMES = ("8gaussians", "25gaussians", "swissroll", "5gaussians", "arc")
MIXTURE_NAMES = ("8gaussians", "25gaussians", "5gaussians", "arc")


def _eight_centres() -> Tensor:
    angles = torch.arange(8, dtype=torch.float64) * (math.pi / 4)
    return 2.0 * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)


def _grid_centres() -> Tensor:
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0], dtype=torch.float64)
    xs, ys = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([xs.flatten(), ys.flatten()], dim=1)


def _five_centres() -> Tensor:
    """DiscoGAN's toy source domain: five modes evenly on a circle of radius 2."""
    angles = torch.arange(5, dtype=torch.float64) * (2 * math.pi / 5) + math.pi / 2
    return 2.0 * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)


def _arc_centres() -> Tensor:
    """DiscoGAN's toy target domain: ten modes on the upper half of a circle of radius 4."""
    angles = torch.linspace(0.0, math.pi, 10, dtype=torch.float64)
    return 4.0 * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)


# name -> (centres before scaling, per-coordinate std before scaling, divisor);
# the divisors are the paper's, which bring the sets to roughly unit scale.
_MIXTURES = {
    "8gaussians": (_eight_centres, 0.02, 1.414),
    "25gaussians": (_grid_centres, 0.05, 2.828),
    "5gaussians": (_five_centres, 0.05, 2.0),
    "arc": (_arc_centres, 0.05, 2.828),
}


def toy_mixture(name: str) -> tuple[Tensor, float]:
    """The centres (float32, (K, 2)) and per-coordinate std of a toy mixture, as the data is scaled."""
    if name not in _MIXTURES:
        raise DataError(
            f"'{name}' is not a Gaussian mixture with known centres: mixture metrics need one of {', '.join(MIXTURE_NAMES)}"
        )
    make_centres, std, divisor = _MIXTURES[name]
    return (make_centres() / divisor).float(), std / divisor


def _mixture(name: str, size: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    centres, std = toy_mixture(name)
    labels = torch.randint(len(centres), (size,), generator=generator)
    noise = torch.randn(size, 2, generator=generator)
    return centres[labels] + std * noise, labels


def _swissroll(size: int, seed: int) -> Tensor:
    from sklearn.datasets import make_swiss_roll  # imported here: sklearn takes seconds to import

    points, _ = make_swiss_roll(n_samples=size, noise=0.25, random_state=seed)
    return torch.from_numpy(points[:, [0, 2]] / 7.5).float()


def load_toy(name: str, size: int, seed: int) -> Dataset:
    """``size`` points of the toy set ``name``, the same for the same ``seed``."""
    if size < 1:
        raise DataError(f"toy_size must be at least 1, got {size}: set data.toy_size to a positive number")
    if name == "swissroll":
        data = _swissroll(size, seed)
        return Dataset(
            name=name,
            description=f"swiss roll: {size:,} 2-D points (sklearn, noise 0.25, scaled by 1/7.5), seed {seed}",
            kind="points",
            data=data,
        )
    generator = torch.Generator().manual_seed(seed)
    data, labels = _mixture(name, size, generator)
    centres, std = toy_mixture(name)
    return Dataset(
        name=name,
        description=f"{len(centres)} Gaussians: {size:,} 2-D points, component std {std:.4f} (WGAN-GP paper), seed {seed}",
        kind="points",
        data=data,
        labels=labels,
        num_classes=len(centres),
    )
