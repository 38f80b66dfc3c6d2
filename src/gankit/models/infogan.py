"""The InfoGAN paper's MNIST networks (Chen et al., 2016, Table 1 of appendix C; openai/InfoGAN's
``infogan/models/regularized_gan.py``), for 28-pixel grey images.

    G: z -> FC 1024 BN ReLU -> FC 7x7x128 BN ReLU -> deconv 4x4 s2 64 BN ReLU -> deconv 4x4 s2 1 -> tanh
    D: x -> conv 4x4 s2 64 lReLU -> conv 4x4 s2 128 BN lReLU -> FC 1024 BN lReLU -> FC 1
    Q: the D body's FC-1024 features -> FC 128 BN lReLU -> FC codes   (built by ``heads.InfoCritic``)

The widths scale with ``model.base_channels`` (64, the default, gives the
paper's: convolutions of 64 and 128 channels, fully connected layers of
16 x 64 = 1024 units), so tests can build a tiny one. The norms follow
``model.generator_norm`` and ``model.critic_norm`` (the paper: batch for
both; never on the critic's first block), the slope of every LeakyReLU
``model.leaky_slope`` (the paper: 0.1). A layer followed by a norm has no
bias (the norm's shift replaces it). ``features`` is the FC-1024
activations, so InfoGAN's Q head reads what the paper's Q reads.
"""

from __future__ import annotations

from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.models.base import Critic, Generator
from gankit.models.config import ModelConfig
from gankit.models.dcgan import init_dcgan_weights
from gankit.models.layers import block, channel_norm, feature_norm

SHAPE = (1, 28, 28)
FC_MULTIPLIER = 16  # the fully connected width in units of base_channels: 16 x 64 = the paper's 1024


def check_infogan_shape(sample_shape: tuple[int, ...]) -> None:
    """A ConfigError unless the samples are 28 x 28 grey images, the only shape the paper's networks take."""
    if tuple(sample_shape) != SHAPE:
        raise ConfigError(
            f"model.arch 'infogan' is the InfoGAN paper's MNIST network for 1 x 28 x 28 images, but the data are "
            f"samples of shape {tuple(sample_shape)}: use MNIST-shaped data (data.image_size=28, data.channels=1) "
            "or model.arch: dcgan"
        )


def _widths(cfg: ModelConfig) -> tuple[int, int, int]:
    """(first conv channels, second conv channels, fully connected units): (64, 128, 1024) at base 64."""
    return cfg.base_channels, 2 * cfg.base_channels, FC_MULTIPLIER * cfg.base_channels


class InfoGANGenerator(Generator):
    """``z -> FC -> FC -> 7x7 map -> deconv to 14x14 -> deconv to 28x28 -> tanh``."""

    def __init__(self, cfg: ModelConfig, sample_shape: tuple[int, ...], num_classes: int | None = None) -> None:
        super().__init__(cfg.latent_dim, sample_shape, num_classes, cfg.label_dim)
        check_infogan_shape(self.sample_shape)
        small, large, hidden = _widths(cfg)
        self.map_channels = large

        def fc(inputs: int, outputs: int) -> list[nn.Module]:
            norm = feature_norm(cfg.generator_norm, outputs, cfg.batchnorm_eps, "model.generator_norm")
            return block(nn.Linear(inputs, outputs, bias=norm is None), norm, nn.ReLU())

        self.dense = nn.Sequential(
            *fc(self._conditioned_width(cfg.latent_dim), hidden), *fc(hidden, large * 7 * 7)
        )
        norm = channel_norm(cfg.generator_norm, small, cfg.batchnorm_eps)
        self.deconv = nn.Sequential(
            *block(nn.ConvTranspose2d(large, small, 4, 2, 1, bias=norm is None), norm, nn.ReLU()),
            nn.ConvTranspose2d(small, self.sample_shape[0], 4, 2, 1),
            nn.Tanh(),
        )
        init_dcgan_weights(self)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        hidden = self.dense(self._condition_input(z, labels))
        return self.deconv(hidden.reshape(hidden.shape[0], self.map_channels, 7, 7))


class InfoGANCritic(Critic):
    """``image -> conv to 14x14 -> conv to 7x7 -> FC 1024 (features) -> FC outputs``: scores ``[B]`` or codes.

    A width in ``outputs`` makes it an encoder (auto-encoder critics, BiGAN's encoder).
    """

    def __init__(
        self, cfg: ModelConfig, sample_shape: tuple[int, ...], num_classes: int | None = None,
        outputs: int | None = None,
    ) -> None:
        super().__init__(sample_shape, num_classes, cfg.label_dim)
        check_infogan_shape(self.sample_shape)
        if cfg.critic_norm == "instance":
            raise ConfigError(
                "model.critic_norm 'instance' needs spatial positions, which model.arch 'infogan''s fully connected "
                "layers do not have: set it to batch (the paper), layer or none"
            )
        small, large, hidden = _widths(cfg)
        self.critic_norm = cfg.critic_norm
        self.batchnorm_eps = cfg.batchnorm_eps
        conv_norm = channel_norm(cfg.critic_norm, large, cfg.batchnorm_eps)
        fc_norm = feature_norm(cfg.critic_norm, hidden, cfg.batchnorm_eps, "model.critic_norm")
        self.body = nn.Sequential(
            # No norm on the first block (the paper, and DCGAN before it).
            *block(nn.Conv2d(self._conditioned_width(self.sample_shape[0]), small, 4, 2, 1), None,
                   nn.LeakyReLU(cfg.leaky_slope)),
            *block(nn.Conv2d(small, large, 4, 2, 1, bias=conv_norm is None), conv_norm, nn.LeakyReLU(cfg.leaky_slope)),
            nn.Flatten(),
            *block(nn.Linear(large * 7 * 7, hidden, bias=fc_norm is None), fc_norm, nn.LeakyReLU(cfg.leaky_slope)),
        )
        self.feature_width = hidden
        self.outputs = outputs
        self.head = nn.Linear(hidden, outputs or 1)
        init_dcgan_weights(self)

    def q_norm(self, features: int) -> nn.Module | None:
        """The norm of the Q head's hidden layer: the critic's own (the paper: FC 128 BN lReLU)."""
        return feature_norm(self.critic_norm, features, self.batchnorm_eps, "model.critic_norm")

    def features(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The FC-1024 activations, ``(B, 1024)``."""
        return self.body(self._condition_input(x, labels))

    def last_layer(self, features: Tensor) -> Tensor:
        return self.head(features)
