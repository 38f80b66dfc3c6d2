"""DCGAN's convolutional generator and critic, at 28, 32 and 64 pixels.

The generator grows a small map (4x4, or 7x7 for 28-pixel MNIST) by strided
transposed convolutions, halving channels as it doubles resolution; the
critic mirrors it with strided convolutions down to 4x4 and one last 4x4
convolution to a score. ReLU in the generator, LeakyReLU in the critic, no
normalisation on the critic's first block (all as in the DCGAN paper).
"""

from __future__ import annotations

from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.models.base import Critic, Generator, is_image_shape
from gankit.models.config import ModelConfig
from gankit.models.layers import block, channel_norm

SUPPORTED_SIZES = (28, 32, 64)

# Generator: side of the first feature map, then the channel multiplier (of
# base_channels) of each map from that one up to the last hidden one. The
# final transposed conv, to the image's channels, adds one more doubling.
_GENERATOR_LADDERS: dict[int, tuple[int, tuple[int, ...]]] = {
    28: (7, (4, 2)),  # 7 -> 14 -> 28
    32: (4, (4, 2, 1)),  # 4 -> 8 -> 16 -> 32
    64: (4, (8, 4, 2, 1)),  # 4 -> 8 -> 16 -> 32 -> 64
}
# Critic: the channel multiplier of each strided conv's output, from the image
# down to the 4x4 map the final conv reads.
_CRITIC_LADDERS: dict[int, tuple[int, ...]] = {
    28: (1, 2, 4),  # 28 -> 14 -> 7 -> 4
    32: (1, 2, 4),  # 32 -> 16 -> 8 -> 4
    64: (1, 2, 4, 8),  # 64 -> 32 -> 16 -> 8 -> 4
}
_INIT_STD = 0.02  # DCGAN's N(0, 0.02) weights, N(1, 0.02) norm scales


def check_image_shape(sample_shape: tuple[int, ...]) -> int:
    """The side of the square images dcgan can build for, or a ConfigError saying what to change."""
    if not is_image_shape(sample_shape):
        raise ConfigError(
            f"model.arch 'dcgan' needs images, but the data are samples of shape {tuple(sample_shape)}: "
            "use model.arch: mlp"
        )
    _, height, width = sample_shape
    if height != width:
        raise ConfigError(
            f"model.arch 'dcgan' needs square images, got {height}x{width}: "
            "set data.image_size to 28, 32 or 64 or use model.arch: mlp"
        )
    if height not in SUPPORTED_SIZES:
        raise ConfigError(
            f"model.arch 'dcgan' supports 28, 32 and 64 pixel images, got {height}: "
            "set data.image_size to one of these or use model.arch: mlp"
        )
    return height


def _downsampling_kernel(side: int) -> int:
    # With stride 2 and padding 1, a 4-kernel halves an even side exactly; an
    # odd side (7 at 28 pixels) needs a 3-kernel to land on 4 = ceil(7 / 2).
    return 4 if side % 2 == 0 else 3


def _conv_bias(norm: nn.Module | None) -> bool:
    # A norm with a learnt shift right after a conv makes the conv's bias redundant.
    return norm is None


def init_dcgan_weights(module: nn.Module) -> None:
    """DCGAN's initialisation, in place, from the global torch RNG (the caller seeds it)."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(layer.weight, 0.0, _INIT_STD)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, (nn.BatchNorm2d, nn.GroupNorm, nn.InstanceNorm2d)) and layer.weight is not None:
            nn.init.normal_(layer.weight, 1.0, _INIT_STD)
            nn.init.zeros_(layer.bias)


class DCGANGenerator(Generator):
    """``z -> ConvTranspose2d to the first map -> (ConvTranspose2d x2) ... -> tanh``."""

    def __init__(self, cfg: ModelConfig, sample_shape: tuple[int, ...], num_classes: int | None = None) -> None:
        super().__init__(cfg.latent_dim, sample_shape, num_classes, cfg.label_dim)
        side = check_image_shape(self.sample_shape)
        first_side, multipliers = _GENERATOR_LADDERS[side]
        channels = [m * cfg.base_channels for m in multipliers]

        def norm(width: int) -> nn.Module | None:
            return channel_norm(cfg.generator_norm, width, cfg.batchnorm_eps)

        # The first layer turns the 1x1 "image" of z into the first map.
        first_norm = norm(channels[0])
        layers = block(
            nn.ConvTranspose2d(
                self._conditioned_width(cfg.latent_dim), channels[0], first_side, 1, 0, bias=_conv_bias(first_norm)
            ),
            first_norm,
            nn.ReLU(),
        )
        for in_ch, out_ch in zip(channels, channels[1:]):
            out_norm = norm(out_ch)
            layers += block(nn.ConvTranspose2d(in_ch, out_ch, 4, 2, 1, bias=_conv_bias(out_norm)), out_norm, nn.ReLU())
        layers += [nn.ConvTranspose2d(channels[-1], self.sample_shape[0], 4, 2, 1), nn.Tanh()]
        self.body = nn.Sequential(*layers)
        init_dcgan_weights(self)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        code = self._condition_input(z, labels)
        return self.body(code.reshape(code.shape[0], code.shape[1], 1, 1))


class DCGANCritic(Critic):
    """``image -> strided Conv2d blocks down to 4x4 -> Conv2d(., outputs, 4)``: scores ``[B]`` or codes.

    A width in ``outputs`` makes it an encoder (the auto-encoder critics use it so).
    """

    def __init__(
        self, cfg: ModelConfig, sample_shape: tuple[int, ...], num_classes: int | None = None,
        outputs: int | None = None,
    ) -> None:
        super().__init__(sample_shape, num_classes, cfg.label_dim)
        side = check_image_shape(self.sample_shape)
        channels = [m * cfg.base_channels for m in _CRITIC_LADDERS[side]]

        layers: list[nn.Module] = []
        in_ch = self._conditioned_width(self.sample_shape[0])
        for index, out_ch in enumerate(channels):
            norm = None if index == 0 else channel_norm(cfg.critic_norm, out_ch, cfg.batchnorm_eps)
            conv = nn.Conv2d(in_ch, out_ch, _downsampling_kernel(side), 2, 1, bias=_conv_bias(norm))
            layers += block(conv, norm, nn.LeakyReLU(cfg.leaky_slope))
            in_ch, side = out_ch, (side + 1) // 2
        self.body = nn.Sequential(*layers)
        self.feature_width = in_ch * side * side
        self.outputs = outputs
        self.head = nn.Conv2d(in_ch, outputs or 1, side, 1, 0)  # side is 4 here: one score (or code) per sample
        init_dcgan_weights(self)

    def features(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The last 4x4 feature maps, ``(B, C, 4, 4)``."""
        return self.body(self._condition_input(x, labels))

    def last_layer(self, features: Tensor) -> Tensor:
        # score_features flattens with flatten, not view: a channels_last conv's output is not NCHW-contiguous.
        return self.head(features)
