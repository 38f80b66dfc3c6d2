"""The projection critic (Miyato and Koyama 2018): class conditioning as an inner product on the critic's features.

``score(x, y) = linear(h) + <embed(y), h>`` with ``h`` the critic's
features before its last layer (the pooled features of ``sngan-resnet``,
the flattened 4x4 maps of ``dcgan``, the last hidden layer of ``mlp``). The
label never enters the convolutions, so the critic's body is the
unconditional one: cheaper than ``concat`` conditioning (which joins
``label_dim`` constant channels to the image, widening the first layer),
and the paper's better-scoring form. ``model.critic_conditioning:
projection`` selects it for any architecture whose critic exposes its
features; the generator keeps its own conditioning.
"""

from __future__ import annotations

from torch import Tensor, nn

from gankit.models.base import Critic


class ProjectionCritic(Critic):
    """An unconditional critic plus a class embedding whose inner product with its features joins the score."""

    def __init__(self, critic: Critic, num_classes: int) -> None:
        super().__init__(critic.sample_shape, None)
        if critic.outputs is not None:
            raise ValueError("the projection critic adds to a single score, not to an encoder's code")
        self.num_classes = num_classes  # the labels it takes (GANModule's embedding stays None: nothing is joined)
        self.critic = critic
        self.feature_width = critic.feature_width
        self.projection = nn.Embedding(num_classes, critic.feature_width)
        nn.init.xavier_uniform_(self.projection.weight)  # the reference's Glorot-uniform embedding

    @property
    def conditional(self) -> bool:
        return True

    def features(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.critic.features(x)

    def last_layer(self, features: Tensor) -> Tensor:
        return self.critic.last_layer(features)

    def project(self, features: Tensor, labels: Tensor | None) -> Tensor:
        """``<embed(y), h>`` per sample, ``[B]``, summed in float32 (features may be bf16 under autocast)."""
        if labels is None:
            # A bug of the caller, not of the user: sampling and training code supply labels for conditional critics.
            raise ValueError("this critic is conditional: pass class labels with the inputs")
        return (self.projection(labels) * features.flatten(start_dim=1).float()).sum(dim=1)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        features = self.features(x)
        return self.score_features(features) + self.project(features, labels)
