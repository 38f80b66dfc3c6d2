"""Fully connected generator and critic, for toy points and small images.

Neither normalises its first block. The critic follows DCGAN's rule of no
norm on the layer that reads the data. The generator follows PyTorch-GAN's
classic MNIST MLP (which ``wgan-gp-mnist-mlp`` reproduces): its first block is
a linear map of Gaussian noise, already Gaussian per unit with a learnt mean
and scale, so batch norm there would add only batch-to-batch noise.
Layers keep PyTorch's default initialisation.
"""

from __future__ import annotations

from torch import Tensor, nn

from gankit.models.base import Critic, Generator, is_image_shape
from gankit.models.config import ModelConfig
from gankit.models.layers import activation, block, feature_norm


def _hidden_stack(
    in_features: int,
    widths: list[int],
    norm_kind: str,
    act_name: str,
    cfg: ModelConfig,
    norm_key: str,
) -> tuple[nn.Sequential, int]:
    """``Linear -> [norm] -> act`` per width, no norm on the first; returns the stack and its output width."""
    layers: list[nn.Module] = []
    features = in_features
    for index, width in enumerate(widths):
        norm = None if index == 0 else feature_norm(norm_kind, width, cfg.batchnorm_eps, norm_key)
        layers += block(nn.Linear(features, width), norm, activation(act_name, cfg.leaky_slope))
        features = width
    return nn.Sequential(*layers), features


class MLPGenerator(Generator):
    """``z -> hidden blocks -> Linear -> tanh (images) or identity (points) -> reshape``."""

    def __init__(self, cfg: ModelConfig, sample_shape: tuple[int, ...], num_classes: int | None = None) -> None:
        super().__init__(cfg.latent_dim, sample_shape, num_classes, cfg.label_dim)
        self.hidden, width = _hidden_stack(
            self._conditioned_width(cfg.latent_dim),
            cfg.generator_widths,
            cfg.generator_norm,
            cfg.activation,
            cfg,
            "model.generator_norm",
        )
        self.output = nn.Linear(width, self.sample_numel)
        # Images live in [-1, 1] (the data module scales them so); points are
        # unbounded, so their last layer stays linear.
        self.squash = nn.Tanh() if is_image_shape(self.sample_shape) else nn.Identity()

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        flat = self.squash(self.output(self.hidden(self._condition_input(z, labels))))
        return flat.reshape(flat.shape[0], *self.sample_shape)


class MLPCritic(Critic):
    """``flatten -> hidden blocks -> Linear(., outputs)``: raw scores ``[B]``, or ``[B, outputs]`` codes.

    A width in ``outputs`` makes it an encoder (the auto-encoder critics use it so).
    """

    def __init__(
        self, cfg: ModelConfig, sample_shape: tuple[int, ...], num_classes: int | None = None,
        outputs: int | None = None,
    ) -> None:
        super().__init__(sample_shape, num_classes, cfg.label_dim)
        self.hidden, width = _hidden_stack(
            self._conditioned_width(self.sample_numel),
            cfg.critic_widths,
            cfg.critic_norm,
            cfg.effective_critic_activation,
            cfg,
            "model.critic_norm",
        )
        self.feature_width = width
        self.outputs = outputs
        self.output = nn.Linear(width, outputs or 1)

    def features(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        # flatten, not view: inputs may be channels_last or otherwise strided.
        return self.hidden(self._condition_input(x.flatten(start_dim=1), labels))

    def last_layer(self, features: Tensor) -> Tensor:
        return self.output(features)
