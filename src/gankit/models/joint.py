"""Networks for inference GANs (BiGAN, ALI): an encoder x -> z and a critic of (x, z) pairs.

* ``Encoder``: the architecture's critic body with a ``latent_dim``-wide last
  layer (deterministic, BiGAN) or twice that for a mean and a log-variance,
  sampled by reparametrisation (stochastic, ALI).
* ``JointCritic``: embeds x with the architecture's critic body (to
  ``JOINT_WIDTH`` features) and z with a small MLP, joins them and scores the
  pair with an MLP, as both papers' discriminators do.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.models.base import Critic, GANModule

JOINT_WIDTH = 512  # features of each of x and z before they are joined (BiGAN's MNIST discriminator width)


class Encoder(GANModule):
    """``x [B, *sample_shape] -> z [B, latent_dim]``; stochastic encoders sample z = mu + sigma eps."""

    conditional = False

    def __init__(self, body: Critic, latent_dim: int, stochastic: bool) -> None:
        super().__init__(body.sample_shape, None)
        self.body = body  # a critic built with outputs = latent_dim (x2 when stochastic)
        self.latent_dim = latent_dim
        self.stochastic = stochastic

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        out = self.body(x)
        if not self.stochastic:
            return out
        mean, log_variance = out.chunk(2, dim=1)
        if not self.training:
            return mean  # the posterior mean: what encode and reconstruct show
        return mean + torch.randn_like(mean) * (0.5 * log_variance).exp()


class JointCritic(Critic):
    """Scores (x, z) pairs: ``forward(x, z) -> [B]``."""

    def __init__(self, x_body: Critic, latent_dim: int, leaky_slope: float) -> None:
        super().__init__(x_body.sample_shape, None)
        self.x_body = x_body  # a critic built with outputs = JOINT_WIDTH
        self.z_body = nn.Sequential(nn.Linear(latent_dim, JOINT_WIDTH), nn.LeakyReLU(leaky_slope))
        self.joint = nn.Sequential(
            nn.LeakyReLU(leaky_slope), nn.Linear(2 * JOINT_WIDTH, JOINT_WIDTH), nn.LeakyReLU(leaky_slope),
            nn.Linear(JOINT_WIDTH, 1),
        )
        self.latent_dim = latent_dim

    def forward(self, x: Tensor, z: Tensor) -> Tensor:  # type: ignore[override]
        return self.joint(torch.cat([self.x_body(x), self.z_body(z)], dim=1)).squeeze(1)
