"""Networks that map one domain to another (CycleGAN, DiscoGAN), and the critics that judge them.

* ``ResNetTranslator``: the CycleGAN reference's generator (Johnson et al.):
  a 7x7 reflect-padded stem, two stride-2 downsamplings, ``resnet_blocks``
  residual blocks, two transposed-convolution upsamplings, a 7x7 layer to
  the target's channels and tanh; instance norm without affine parameters,
  as the reference's default ``--norm instance``. Width ``base_channels``
  (64 in the reference). Any image size divisible by 4.
* ``PatchCritic``: the reference's PatchGAN: ``critic_layers`` stride-2 4x4
  convolutions (64, 128, 256, ... channels, LeakyReLU 0.2, instance norm but
  on the first), a stride-1 4x4 convolution and a 4x4 convolution to one score
  per patch. Its receptive field is 70 px at 3 layers (the reference's
  default) and 34 px at 2 (what suits 28 px digits).
* ``EncoderDecoderTranslator``: DiscoGAN's generator, a conv encoder
  (4x4 stride-2 convolutions, LeakyReLU) and the mirrored transposed-conv
  decoder, batch norm inside, tanh out.
* ``MLPTranslator``: for 2-D points (and small flat images): an MLP from the
  flattened source to the target.

They take ``(x, labels=None)`` like every gankit network, and ignore labels.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.models.base import Critic, GANModule, is_image_shape
from gankit.models.config import ModelConfig
from gankit.models.dcgan import init_dcgan_weights


def _check_images(arch: str, shape: tuple[int, ...], divisor: int) -> None:
    if not is_image_shape(shape):
        raise ConfigError(
            f"model.arch '{arch}' translates images, but the data are samples of shape {tuple(shape)}: "
            "use model.arch: mlp for 2-D points"
        )
    _, height, width = shape
    if height % divisor or width % divisor:
        raise ConfigError(
            f"model.arch '{arch}' needs image sides divisible by {divisor}, got {height}x{width}: "
            f"set data.image_size to a multiple of {divisor} (28, 32, 64, 128, 256)"
        )


class Translator(GANModule):
    """Maps samples of one shape to samples of another: ``[B, *source_shape] -> [B, *sample_shape]``."""

    conditional = False

    def __init__(self, source_shape: tuple[int, ...], sample_shape: tuple[int, ...]) -> None:
        super().__init__(sample_shape, None)
        self.source_shape = tuple(source_shape)


class _ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels), nn.ReLU(),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResNetTranslator(Translator):
    def __init__(self, cfg: ModelConfig, source_shape: tuple[int, ...], sample_shape: tuple[int, ...]) -> None:
        super().__init__(source_shape, sample_shape)
        _check_images("resnet", source_shape, 4)
        width = cfg.base_channels
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3), nn.Conv2d(source_shape[0], width, 7), nn.InstanceNorm2d(width), nn.ReLU(),
        ]
        for i in range(2):  # two stride-2 downsamplings
            w = width * 2**i
            layers += [nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.InstanceNorm2d(2 * w), nn.ReLU()]
        layers += [_ResidualBlock(width * 4) for _ in range(cfg.resnet_blocks)]
        for i in range(2):  # two upsamplings back
            w = width * 2 ** (2 - i)
            layers += [
                nn.ConvTranspose2d(w, w // 2, 3, stride=2, padding=1, output_padding=1),
                nn.InstanceNorm2d(w // 2), nn.ReLU(),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, sample_shape[0], 7), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        init_dcgan_weights(self)  # the reference's init_type normal, gain 0.02: the same N(0, 0.02)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.main(x)


class EncoderDecoderTranslator(Translator):
    def __init__(self, cfg: ModelConfig, source_shape: tuple[int, ...], sample_shape: tuple[int, ...]) -> None:
        super().__init__(source_shape, sample_shape)
        _check_images("encoder-decoder", source_shape, 4)
        width, slope = cfg.base_channels, cfg.leaky_slope
        self.main = nn.Sequential(
            nn.Conv2d(source_shape[0], width, 4, 2, 1), nn.LeakyReLU(slope),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.BatchNorm2d(2 * width), nn.LeakyReLU(slope),
            nn.Conv2d(2 * width, 4 * width, 3, 1, 1), nn.BatchNorm2d(4 * width), nn.LeakyReLU(slope),
            nn.ConvTranspose2d(4 * width, 2 * width, 3, 1, 1), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, sample_shape[0], 4, 2, 1), nn.Tanh(),
        )
        init_dcgan_weights(self)  # the reference's init_type normal, gain 0.02: the same N(0, 0.02)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.main(x)


class MLPTranslator(Translator):
    def __init__(self, cfg: ModelConfig, source_shape: tuple[int, ...], sample_shape: tuple[int, ...]) -> None:
        super().__init__(source_shape, sample_shape)
        widths = [math.prod(source_shape), *cfg.generator_widths]
        layers: list[nn.Module] = []
        for a, b in zip(widths, widths[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(widths[-1], math.prod(sample_shape)))
        if is_image_shape(sample_shape):
            layers.append(nn.Tanh())
        self.main = nn.Sequential(*layers)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.main(x.flatten(1)).view(x.shape[0], *self.sample_shape)


class PatchCritic(Critic):
    """PatchGAN: one raw score per overlapping patch, ``[B, patches]``."""

    def __init__(self, cfg: ModelConfig, sample_shape: tuple[int, ...]) -> None:
        super().__init__(sample_shape, None)
        _check_images("resnet", sample_shape, 4)
        width, slope, n = cfg.base_channels, cfg.leaky_slope, cfg.critic_layers
        layers: list[nn.Module] = [nn.Conv2d(sample_shape[0], width, 4, 2, 1), nn.LeakyReLU(slope)]
        channels = width
        for i in range(1, n):
            out = width * min(2**i, 8)
            layers += [nn.Conv2d(channels, out, 4, 2, 1), nn.InstanceNorm2d(out), nn.LeakyReLU(slope)]
            channels = out
        out = width * min(2**n, 8)
        layers += [nn.Conv2d(channels, out, 4, 1, 1), nn.InstanceNorm2d(out), nn.LeakyReLU(slope)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(out, 1, 4, 1, 1)
        self.feature_width = out
        init_dcgan_weights(self)  # the reference's init_type normal, gain 0.02: the same N(0, 0.02)

    @property
    def receptive_field(self) -> int:
        """Pixels of the input one patch score sees: 70 at 3 layers, as the reference's name says."""
        convs = [m for m in [*self.body.modules(), self.head] if isinstance(m, nn.Conv2d)]
        field = 1
        for conv in reversed(convs):
            field = (field - 1) * conv.stride[0] + conv.kernel_size[0]
        return field

    def features(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.body(x)

    def last_layer(self, features: Tensor) -> Tensor:
        return self.head(features)


TRANSLATORS: dict[str, type[Translator]] = {
    "resnet": ResNetTranslator,
    "encoder-decoder": EncoderDecoderTranslator,
    "mlp": MLPTranslator,
}


def build_translator(cfg: ModelConfig, source_shape: tuple[int, ...], sample_shape: tuple[int, ...]) -> Translator:
    """The translator ``model.arch`` names, from ``source_shape`` samples to ``sample_shape`` ones."""
    if cfg.arch not in TRANSLATORS:
        raise ConfigError(
            f"model.arch '{cfg.arch}' cannot translate between domains: use one of {', '.join(TRANSLATORS)}"
        )
    return TRANSLATORS[cfg.arch](cfg, tuple(source_shape), tuple(sample_shape))


def build_domain_critic(cfg: ModelConfig, sample_shape: tuple[int, ...]) -> Critic:
    """The critic of one domain: PatchGAN for ``resnet``, DCGAN's for ``encoder-decoder``, an MLP for ``mlp``."""
    from dataclasses import replace

    from gankit.models.builders import build_critic

    if cfg.arch == "resnet":
        return PatchCritic(cfg, tuple(sample_shape))
    arch = "dcgan" if cfg.arch == "encoder-decoder" else "mlp"
    return build_critic(replace(cfg, arch=arch, conditional=False), tuple(sample_shape))
