"""SNGAN's ResNet generator and critic (Miyato et al. 2018, appendix; Chainer's sngan_projection), at 28, 32, 64 px.

Generator: ``z -> Linear -> (side x side x ch) -> up-blocks -> norm, ReLU,
conv3x3 -> tanh``; an up-block is ``norm, ReLU, 2x nearest upsample, conv3x3,
norm, ReLU, conv3x3`` plus a shortcut ``upsample, conv1x1``. Critic: an
"optimised" first block (``conv3x3, ReLU, conv3x3, avg-pool`` plus
``avg-pool, conv1x1``: no ReLU on the raw image), residual down-blocks
``ReLU, conv3x3, ReLU, conv3x3, [avg-pool]`` plus ``conv1x1, [avg-pool]``
where the shape changes, then ReLU, a global *sum* pool and one Linear.

Widths, in multiples of ``model.base_channels`` (b; the paper's 64 gives its numbers):

* 32 px (CIFAR-10): G 4x4 x 4b, three up-blocks of 4b (the paper's 256);
  D blocks of 2b (128), down 32 -> 16 -> 8, then two blocks at 8.
* 64 px: G 4x4 x 16b, up-blocks halving to b (1024 -> 64); D b, 2b, 4b,
  8b, 16b, each halving the side, 64 -> 2.
* 28 px (MNIST, gankit's variant): G 7x7 x 4b, two up-blocks 4b -> 2b -> b
  (7 -> 14 -> 28); D b (28 -> 14), 2b (14 -> 7), 2b at 7.

No normalisation in the critic (SNGAN relies on spectral norm there,
``model.critic_spectral_norm``); the generator's is ``model.generator_norm``
(batch, the paper's, or none). Initialisation as the Chainer code:
Glorot-uniform, gain sqrt(2) on the residual convolutions, 1 elsewhere.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.models.base import Critic, Generator, is_image_shape
from gankit.models.config import ModelConfig
from gankit.models.layers import channel_norm

SUPPORTED_SIZES = (28, 32, 64)
ARCH = "sngan-resnet"

# Generator: first map's side, then the channel multiplier (of base_channels) of that map and after each up-block.
_GENERATOR_LADDERS: dict[int, tuple[int, tuple[int, ...]]] = {
    28: (7, (4, 2, 1)),  # 7 -> 14 -> 28
    32: (4, (4, 4, 4, 4)),  # 4 -> 8 -> 16 -> 32
    64: (4, (16, 8, 4, 2, 1)),  # 4 -> 8 -> 16 -> 32 -> 64
}
# Critic: (channel multiplier, halves the side?) per block; the first is the optimised block, which always halves.
_CRITIC_LADDERS: dict[int, tuple[tuple[int, bool], ...]] = {
    28: ((1, True), (2, True), (2, False)),  # 28 -> 14 -> 7 -> 7
    32: ((2, True), (2, True), (2, False), (2, False)),  # 32 -> 16 -> 8 -> 8 -> 8
    64: ((1, True), (2, True), (4, True), (8, True), (16, True)),  # 64 -> 32 -> 16 -> 8 -> 4 -> 2
}
_RESIDUAL_GAIN = math.sqrt(2.0)


def check_image_shape(sample_shape: tuple[int, ...]) -> int:
    """The side of the square images sngan-resnet builds for, or a ConfigError saying what to change."""
    if not is_image_shape(sample_shape):
        raise ConfigError(
            f"model.arch '{ARCH}' needs images, but the data are samples of shape {tuple(sample_shape)}: "
            "use model.arch: mlp"
        )
    _, height, width = sample_shape
    if height != width or height not in SUPPORTED_SIZES:
        raise ConfigError(
            f"model.arch '{ARCH}' supports square 28, 32 and 64 pixel images, got {height}x{width}: "
            "set data.image_size to one of these or use model.arch: dcgan"
        )
    return height


def _conv(in_ch: int, out_ch: int, kernel: int, gain: float) -> nn.Conv2d:
    conv = nn.Conv2d(in_ch, out_ch, kernel, 1, kernel // 2)
    nn.init.xavier_uniform_(conv.weight, gain)
    nn.init.zeros_(conv.bias)
    return conv


def _linear(in_features: int, out_features: int) -> nn.Linear:
    linear = nn.Linear(in_features, out_features)
    nn.init.xavier_uniform_(linear.weight)
    nn.init.zeros_(linear.bias)
    return linear


def _norm(kind: str, channels: int, eps: float) -> nn.Module:
    return channel_norm(kind, channels, eps) or nn.Identity()


def _upsample(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2, mode="nearest")


class UpBlock(nn.Module):
    """``norm, ReLU, upsample, conv3x3, norm, ReLU, conv3x3`` + ``upsample, conv1x1``."""

    def __init__(self, in_ch: int, out_ch: int, norm: str, eps: float) -> None:
        super().__init__()
        self.norm1, self.conv1 = _norm(norm, in_ch, eps), _conv(in_ch, out_ch, 3, _RESIDUAL_GAIN)
        self.norm2, self.conv2 = _norm(norm, out_ch, eps), _conv(out_ch, out_ch, 3, _RESIDUAL_GAIN)
        self.shortcut = _conv(in_ch, out_ch, 1, 1.0)  # the side always changes, so the shortcut always learns

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(_upsample(F.relu(self.norm1(x))))
        h = self.conv2(F.relu(self.norm2(h)))
        return h + self.shortcut(_upsample(x))


class DownBlock(nn.Module):
    """``[ReLU], conv3x3, ReLU, conv3x3, [avg-pool]`` + ``conv1x1, [avg-pool]`` (identity if the shape stays).

    ``first`` is SNGAN's optimised block: no ReLU on the image, and the
    shortcut pools before its conv (cheaper, and the same linear map).
    """

    def __init__(self, in_ch: int, out_ch: int, downsample: bool, first: bool = False) -> None:
        super().__init__()
        self.first, self.downsample = first, downsample
        self.conv1 = _conv(in_ch, out_ch, 3, _RESIDUAL_GAIN)
        self.conv2 = _conv(out_ch, out_ch, 3, _RESIDUAL_GAIN)
        self.shortcut = _conv(in_ch, out_ch, 1, 1.0) if (downsample or in_ch != out_ch) else None

    def _pool(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, 2) if self.downsample else x

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(x if self.first else F.relu(x))
        h = self._pool(self.conv2(F.relu(h)))
        if self.shortcut is None:
            return h + x
        skip = self.shortcut(self._pool(x)) if self.first else self._pool(self.shortcut(x))
        return h + skip


class SNGANGenerator(Generator):
    """``z -> Linear to side x side x C -> up-blocks -> norm, ReLU, conv3x3 -> tanh``."""

    def __init__(self, cfg: ModelConfig, sample_shape: tuple[int, ...], num_classes: int | None = None) -> None:
        super().__init__(cfg.latent_dim, sample_shape, num_classes, cfg.label_dim)
        side = check_image_shape(self.sample_shape)
        self.first_side, multipliers = _GENERATOR_LADDERS[side]
        channels = [m * cfg.base_channels for m in multipliers]
        self.first_channels = channels[0]
        self.input = _linear(self._conditioned_width(cfg.latent_dim), channels[0] * self.first_side**2)
        self.blocks = nn.Sequential(*(UpBlock(i, o, cfg.generator_norm, cfg.batchnorm_eps)
                                      for i, o in zip(channels, channels[1:])))
        self.output = nn.Sequential(
            _norm(cfg.generator_norm, channels[-1], cfg.batchnorm_eps), nn.ReLU(),
            _conv(channels[-1], self.sample_shape[0], 3, 1.0), nn.Tanh(),
        )

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        h = self.input(self._condition_input(z, labels))
        h = h.view(h.shape[0], self.first_channels, self.first_side, self.first_side)
        return self.output(self.blocks(h))


class SNGANCritic(Critic):
    """``image -> optimised block -> down-blocks -> ReLU -> sum over positions -> Linear(., outputs)``."""

    def __init__(
        self, cfg: ModelConfig, sample_shape: tuple[int, ...], num_classes: int | None = None,
        outputs: int | None = None,
    ) -> None:
        super().__init__(sample_shape, num_classes, cfg.label_dim)
        side = check_image_shape(self.sample_shape)
        if cfg.critic_norm != "none":
            raise ConfigError(
                f"model.critic_norm '{cfg.critic_norm}' is not offered by model.arch '{ARCH}' (SNGAN's critic has "
                "no norms; it relies on model.critic_spectral_norm): set model.critic_norm to none"
            )
        blocks, in_ch = [], self._conditioned_width(self.sample_shape[0])
        for index, (multiplier, downsample) in enumerate(_CRITIC_LADDERS[side]):
            out_ch = multiplier * cfg.base_channels
            blocks.append(DownBlock(in_ch, out_ch, downsample, first=index == 0))
            in_ch = out_ch
        self.blocks = nn.Sequential(*blocks)
        self.feature_width = in_ch
        self.outputs = outputs
        self.head = _linear(in_ch, outputs or 1)

    def features(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """The pooled features ``(B, C)``: ReLU, then a sum (not a mean) over positions, as in SNGAN."""
        return F.relu(self.blocks(self._condition_input(x, labels))).sum(dim=(2, 3))

    def last_layer(self, features: Tensor) -> Tensor:
        return self.head(features)
