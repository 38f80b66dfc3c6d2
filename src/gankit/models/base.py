"""What every generator and critic shares: shapes, and the place class labels will enter.

Conditioning is not built yet, but its seams are: every model passes its
input through ``_condition_input`` before the first layer, and sizes that
first layer with ``_conditioned_width``. A conditional version overrides
these two (an ``nn.Embedding`` of ``num_classes`` whose output is joined to
the input as extra features or channels) and the architectures stay as they are.
"""

from __future__ import annotations

import math

from torch import Tensor, nn


class GANModule(nn.Module):
    """Base of the models: the sample shape, and the one hook labels go through."""

    def __init__(self, sample_shape: tuple[int, ...], num_classes: int | None) -> None:
        super().__init__()
        self.sample_shape = tuple(sample_shape)
        # Recorded so that checkpoints and a later conditional version can see
        # what the data offered; today nothing is built from it.
        self.num_classes = num_classes

    @property
    def sample_numel(self) -> int:
        return math.prod(self.sample_shape)

    def _conditioned_width(self, width: int) -> int:
        """Features (or channels) the first layer receives once labels are joined to ``width``."""
        return width

    def _condition_input(self, inputs: Tensor, labels: Tensor | None) -> Tensor:
        """The first layer's input: ``inputs`` with label information joined, when there is any.

        Unconditional models ignore ``labels``, so that callers can always pass
        what the data gives them.
        """
        return inputs


class Generator(GANModule):
    """Maps latent codes ``[B, latent_dim]`` to samples ``[B, *sample_shape]``."""

    def __init__(self, latent_dim: int, sample_shape: tuple[int, ...], num_classes: int | None) -> None:
        super().__init__(sample_shape, num_classes)
        self.latent_dim = latent_dim

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class Critic(GANModule):
    """Maps samples ``[B, *sample_shape]`` to raw scores ``[B]`` (no link function applied)."""

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


def is_image_shape(sample_shape: tuple[int, ...]) -> bool:
    """Images are ``(C, H, W)``; anything else (``(2,)`` points, say) is a flat vector."""
    return len(sample_shape) == 3
