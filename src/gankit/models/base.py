"""What every generator and critic shares: shapes, and the place class labels enter.

Conditioning (CGAN) is one mechanism for every architecture and objective:
a model built with ``num_classes`` owns an ``nn.Embedding`` of the labels and
joins it to its input before the first layer, as extra features (vectors:
``z`` or flattened samples) or as extra constant channels (images). Every
model passes its input through ``_condition_input`` and sizes its first
layer with ``_conditioned_width``, so the architectures themselves know
nothing about labels.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class GANModule(nn.Module):
    """Base of the models: the sample shape, and the one hook labels go through."""

    def __init__(self, sample_shape: tuple[int, ...], num_classes: int | None, label_dim: int = 0) -> None:
        super().__init__()
        self.sample_shape = tuple(sample_shape)
        # None for an unconditional model: it ignores whatever labels it is given.
        self.num_classes = num_classes
        self.label_embedding = nn.Embedding(num_classes, label_dim) if num_classes else None

    @property
    def conditional(self) -> bool:
        return self.label_embedding is not None

    @property
    def sample_numel(self) -> int:
        return math.prod(self.sample_shape)

    def _conditioned_width(self, width: int) -> int:
        """Features (or channels) the first layer receives once labels are joined to ``width``."""
        return width + (self.label_embedding.embedding_dim if self.label_embedding is not None else 0)

    def _condition_input(self, inputs: Tensor, labels: Tensor | None) -> Tensor:
        """The first layer's input: ``inputs`` with the label embedding joined along dimension 1.

        Unconditional models ignore ``labels``, so that callers can always pass
        what the data gives them. Image inputs ``(B, C, H, W)`` get the
        embedding as constant maps, one channel per embedding feature.
        """
        if self.label_embedding is None:
            return inputs
        if labels is None:
            # A bug of the caller, not of the user: sampling code supplies labels for conditional models.
            raise ValueError("this model is conditional: pass class labels with the inputs")
        embedded = self.label_embedding(labels).to(inputs.dtype)
        if inputs.dim() == 4:
            embedded = embedded[:, :, None, None].expand(-1, -1, inputs.shape[2], inputs.shape[3])
        return torch.cat([inputs, embedded], dim=1)


class Generator(GANModule):
    """Maps latent codes ``[B, latent_dim]`` to samples ``[B, *sample_shape]``."""

    def __init__(
        self, latent_dim: int, sample_shape: tuple[int, ...], num_classes: int | None, label_dim: int = 0
    ) -> None:
        super().__init__(sample_shape, num_classes, label_dim)
        self.latent_dim = latent_dim

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class Critic(GANModule):
    """Maps samples ``[B, *sample_shape]`` to raw scores ``[B]`` (no link function applied).

    ``features`` is everything before the last layer and ``score_features``
    the last layer, so that heads which share the critic's body (InfoGAN's Q)
    can read the body once.
    """

    #: None for a critic's score ``[B]``; an encoder's code width otherwise (``[B, outputs]``, kept 2-D even
    #: at width 1, so that a one-wide auto-encoder code or latent still reaches its decoder as a matrix).
    outputs: int | None = None

    def features(self, x: Tensor, labels: Tensor | None = None) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def last_layer(self, features: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def score_features(self, features: Tensor) -> Tensor:
        """The last layer on ``features``: scores ``[B]``, or ``[B, outputs]`` for an encoder."""
        out = self.last_layer(features).flatten(start_dim=1)
        return out.squeeze(1) if self.outputs is None else out

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.score_features(self.features(x, labels))


def is_image_shape(sample_shape: tuple[int, ...]) -> bool:
    """Images are ``(C, H, W)``; anything else (``(2,)`` points, say) is a flat vector."""
    return len(sample_shape) == 3
