"""BEGAN's generator and auto-encoder (Berthelot, Schumm and Metz, 2017, Figure 1; carpedm20/BEGAN-tensorflow's
``models.py``), at 28, 32 and 64 pixels.

    decoder / generator: z (or the h-sized code) -> linear -> s0 x s0 x n (s0 = 7 at 28 px, else 8)
                         -> [conv 3x3 n ELU, conv 3x3 n ELU, nearest-neighbour upsampling x2] ... (the last
                         block has no upsampling) -> conv 3x3 to the image's channels, linear output (no tanh)
    encoder:             x -> conv 3x3 n ELU -> [conv 3x3 k n ELU, conv 3x3 k n ELU, conv 3x3 stride 2 ELU]
                         for k = 1, 2, ... (the last block has no stride-2 conv) -> linear to h, no nonlinearity

No normalisation by default (the paper's point: the equilibrium needs none). ``model.generator_norm:
batch`` puts batch norm after each of the generator's block convs, as the MNIST ports' generators have.
``model.critic_norm`` governs the whole auto-encoder: the encoder's convs after the first, and (batch or
none, the only norms a generator-shaped stack takes) the decoder's block convs.
``model.base_channels`` is n, ``model.autoencoder_code_dim`` the auto-encoder's h (the encoder's
``outputs``), ``model.latent_dim`` the generator's z. ``model.began_skip`` adds the improved model's
skip connections: the first s0 x s0 map h0, upsampled, is concatenated to the input of every block
after an upsampling (off by default, as in carpedm20's code).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.models.base import Critic, Generator, is_image_shape
from gankit.models.config import ModelConfig
from gankit.models.layers import block as conv_norm_act
from gankit.models.layers import channel_norm

# Side of the first map, then the number of conv blocks (one resolution each, doubling between them).
LADDERS: dict[int, tuple[int, int]] = {28: (7, 3), 32: (8, 3), 64: (8, 4)}


def check_began_shape(sample_shape: tuple[int, ...]) -> int:
    """The side of the square images ``began`` builds for, or a ConfigError saying what to change."""
    if not is_image_shape(sample_shape) or sample_shape[1] != sample_shape[2] or sample_shape[1] not in LADDERS:
        raise ConfigError(
            f"model.arch 'began' builds for square 28, 32 or 64 pixel images, but the data are samples of shape "
            f"{tuple(sample_shape)}: set data.image_size to 28, 32 or 64, or use model.arch: mlp"
        )
    return sample_shape[1]


def _conv(in_ch: int, out_ch: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 3, stride, 1)


def init_began_weights(module: nn.Module) -> None:
    """The reference's initialisation (TF-slim's default): Glorot-uniform weights, zero biases, from the global
    torch RNG. PyTorch's default draws a third of that variance, which through BEGAN's deep ELU stacks left
    the auto-encoder reconstructing the mean digit for its first hundred steps."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)


class BEGANGenerator(Generator):
    """``z -> linear -> s0 x s0 x n -> conv blocks with nearest upsampling -> conv to C`` (linear output)."""

    def __init__(self, cfg: ModelConfig, sample_shape: tuple[int, ...], num_classes: int | None = None) -> None:
        super().__init__(cfg.latent_dim, sample_shape, num_classes, cfg.label_dim)
        side = check_began_shape(self.sample_shape)
        self.first_side, blocks = LADDERS[side]
        n = self.channels = cfg.base_channels
        self.skip = cfg.began_skip
        self.fc = nn.Linear(self._conditioned_width(cfg.latent_dim), n * self.first_side**2)
        self.blocks = nn.ModuleList()
        for index in range(blocks):
            # With skips, every block after an upsampling also reads the upsampled h0.
            in_ch = 2 * n if self.skip and index > 0 else n
            norm = cfg.generator_norm, n, cfg.batchnorm_eps
            self.blocks.append(nn.Sequential(*conv_norm_act(_conv(in_ch, n), channel_norm(*norm), nn.ELU()),
                                             *conv_norm_act(_conv(n, n), channel_norm(*norm), nn.ELU())))
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.out = _conv(n, self.sample_shape[0])
        init_began_weights(self)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        h0 = self.fc(self._condition_input(z, labels))
        h0 = h0.reshape(h0.shape[0], self.channels, self.first_side, self.first_side)
        x, skip = h0, h0
        for index, block in enumerate(self.blocks):
            if index > 0:
                x = self.upsample(x)
                if self.skip:
                    skip = self.upsample(skip)
                    x = torch.cat([x, skip], dim=1)
            x = block(x)
        return self.out(x)


class BEGANCritic(Critic):
    """``image -> conv -> conv blocks (channels n, 2n, 3n ...) with stride-2 convs -> linear to outputs``.

    A width in ``outputs`` makes it the auto-encoder's encoder (its h-sized code, no nonlinearity); with
    None it is a plain critic's score.
    """

    def __init__(
        self, cfg: ModelConfig, sample_shape: tuple[int, ...], num_classes: int | None = None,
        outputs: int | None = None,
    ) -> None:
        super().__init__(sample_shape, num_classes, cfg.label_dim)
        side = check_began_shape(self.sample_shape)
        first_side, blocks = LADDERS[side]
        n = cfg.base_channels

        def conv_elu(in_ch: int, out_ch: int, stride: int = 1) -> list[nn.Module]:
            # model.critic_norm after every conv but the first, as the DCGAN critic has it.
            norm = channel_norm(cfg.critic_norm, out_ch, cfg.batchnorm_eps)
            return conv_norm_act(_conv(in_ch, out_ch, stride), norm, nn.ELU())

        layers: list[nn.Module] = [_conv(self._conditioned_width(self.sample_shape[0]), n), nn.ELU()]
        previous = n
        for index in range(blocks):
            width = n * (index + 1)
            layers += [*conv_elu(previous, width), *conv_elu(width, width)]
            if index < blocks - 1:
                layers += conv_elu(width, width, stride=2)  # 28 -> 14 -> 7, 32 -> 16 -> 8
            previous = width
        layers.append(nn.Flatten())
        self.body = nn.Sequential(*layers)
        self.feature_width = previous * first_side**2
        self.outputs = outputs
        self.head = nn.Linear(self.feature_width, outputs or 1)
        init_began_weights(self)

    def features(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The last block's maps, flattened: ``(B, blocks * n * s0 * s0)``."""
        return self.body(self._condition_input(x, labels))

    def last_layer(self, features: Tensor) -> Tensor:
        return self.head(features)
