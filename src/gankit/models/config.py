"""The ``model:`` section of a run's config, and the checks on its values.

The config system checks types and unknown keys; the checks here are the ones
only the models know about (which names exist, which widths make sense). Each
problem is one line that names the key, what is wrong and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gankit.errors import ConfigError, did_you_mean

ARCHITECTURES = ("mlp", "dcgan", "infogan", "began", "sngan-resnet", "resnet", "encoder-decoder")
# Architectures that map one domain to another (CycleGAN's ResNet + PatchGAN, DiscoGAN's encoder-decoder).
TRANSLATION_ARCHITECTURES = ("resnet", "encoder-decoder")
NORMALIZATIONS = ("batch", "layer", "instance", "none")
ACTIVATIONS = ("relu", "leaky_relu")
# Generators only ever use batch norm or nothing: layer and instance norm are
# critic choices that keep the samples of a batch independent (gradient
# penalties need that); a generator has no such constraint and no tradition of them.
GENERATOR_NORMALIZATIONS = ("batch", "none")
# How a conditional critic reads the label: joined to its input, or projected onto its features.
CRITIC_CONDITIONINGS = ("concat", "projection")


@dataclass
class ModelConfig:
    """The ``model:`` section: architecture, latent size and the layers' widths and norms."""

    # "mlp" | "dcgan" | "infogan" | "began" | "sngan-resnet" (SNGAN's ResNets at 28, 32, 64 px);
    # translation GANs: "resnet" (CycleGAN) | "encoder-decoder" (DiscoGAN)
    arch: str = "dcgan"
    latent_dim: int = 128
    # mlp: hidden layer widths, input side first
    generator_widths: list[int] = field(default_factory=lambda: [512, 512, 512])
    critic_widths: list[int] = field(default_factory=lambda: [512, 512, 512])
    activation: str = "relu"  # mlp hidden activation: "relu" | "leaky_relu"
    critic_activation: str | None = None  # None: the critic uses `activation` too
    leaky_slope: float = 0.2  # negative slope of every LeakyReLU (mlp and the dcgan critic)
    # "batch" | "none"; mlp: never on the first block (PyTorch-GAN), dcgan: on every hidden block (DCGAN)
    generator_norm: str = "none"
    critic_norm: str = "none"  # "batch" | "layer" | "instance" (dcgan only) | "none"; never on the first block
    # PyTorch-GAN's classic MNIST MLP passes 0.8 as BatchNorm1d's eps (a
    # positional-argument slip); configurable so its preset can reproduce it.
    batchnorm_eps: float = 1e-5
    # dcgan: channels of the first critic conv and of the last hidden generator conv (2x that at 28
    # pixels); doubles per resolution level
    base_channels: int = 64
    # CGAN: the generator and critic take the class label, embedded in label_dim features and joined to their
    # input (extra features for vectors, extra constant channels for images). Needs a labelled dataset.
    conditional: bool = False
    label_dim: int = 10
    # How a conditional critic reads the label: "concat" (the embedding joined to its input, as above) or
    # "projection" (Miyato and Koyama: score = linear(h) + <embed(y), h> on the features h before its last layer;
    # cheaper, the label never enters the body). Plain score critics only (not auto-encoder or InfoGAN critics).
    critic_conditioning: str = "concat"
    # Spectral normalisation (Miyato et al.): every Linear/Conv/ConvTranspose weight (and the projection
    # embedding) divided by its largest singular value, one power iteration per training forward. Critic: every
    # critic-side network (SNGAN); generator: every generator-side network, encoders included (SAGAN).
    critic_spectral_norm: bool = False
    generator_spectral_norm: bool = False
    # Auto-encoder critics (EBGAN, BEGAN): width of the code between encoder and decoder.
    autoencoder_code_dim: int = 32
    # began: the improved BEGAN's skip connections (h0, upsampled, joined to every block after an upsampling).
    began_skip: bool = False
    # resnet (CycleGAN): residual blocks of the generator (the reference: 9 at 256 px, 6 at 128 px) and
    # stride-2 layers of the PatchGAN critic (3: 70 px receptive field; 2: 34 px, for 28 px digits).
    resnet_blocks: int = 9
    critic_layers: int = 3

    def validate(self) -> list[str]:
        """Problems with the values, each one line naming its ``model.`` key and the fix."""
        problems = [
            *_name_problems("model.arch", self.arch, ARCHITECTURES),
            *_name_problems("model.activation", self.activation, ACTIVATIONS),
            *_name_problems("model.generator_norm", self.generator_norm, GENERATOR_NORMALIZATIONS),
            *_name_problems("model.critic_norm", self.critic_norm, NORMALIZATIONS),
            *_name_problems("model.critic_conditioning", self.critic_conditioning, CRITIC_CONDITIONINGS),
        ]
        if self.critic_conditioning == "projection" and not self.conditional:
            problems.append(
                "model.critic_conditioning 'projection' conditions on class labels, but model.conditional is false: "
                "set model.conditional=true or model.critic_conditioning=concat"
            )
        if self.critic_activation is not None:
            problems += _name_problems("model.critic_activation", self.critic_activation, ACTIVATIONS)
        if self.latent_dim < 1:
            problems.append(f"model.latent_dim must be >= 1, got {self.latent_dim}: use a positive size such as 128")
        problems += _width_problems("model.generator_widths", self.generator_widths)
        problems += _width_problems("model.critic_widths", self.critic_widths)
        if not 0.0 <= self.leaky_slope < 1.0:
            problems.append(f"model.leaky_slope must be in [0, 1), got {self.leaky_slope}: 0.2 is the usual value")
        if not self.batchnorm_eps > 0.0:
            problems.append(f"model.batchnorm_eps must be > 0, got {self.batchnorm_eps}: 1e-5 is PyTorch's default")
        if self.base_channels < 1:
            problems.append(f"model.base_channels must be >= 1, got {self.base_channels}: 64 is DCGAN's width")
        if self.label_dim < 1:
            problems.append(f"model.label_dim must be >= 1, got {self.label_dim}: 10 suits ten classes")
        if self.resnet_blocks < 0:
            problems.append(f"model.resnet_blocks must be >= 0, got {self.resnet_blocks}: the reference uses 9 or 6")
        if not 1 <= self.critic_layers <= 6:
            problems.append(f"model.critic_layers must be in 1..6, got {self.critic_layers}: 3 gives a 70 px PatchGAN")
        if self.autoencoder_code_dim < 1:
            problems.append(
                f"model.autoencoder_code_dim must be >= 1, got {self.autoencoder_code_dim}: 32 suits MNIST"
            )
        return problems

    def check(self) -> None:
        """Raise the first problem ``validate`` finds as a ConfigError."""
        problems = self.validate()
        if problems:
            raise ConfigError(problems[0])

    @property
    def effective_critic_activation(self) -> str:
        return self.critic_activation if self.critic_activation is not None else self.activation


def _name_problems(key: str, value: str, choices: tuple[str, ...]) -> list[str]:
    if value in choices:
        return []
    return [f"{key} '{value}' is not known{did_you_mean(str(value), choices)}: set it to one of {', '.join(choices)}"]


def _width_problems(key: str, widths: list[int]) -> list[str]:
    if len(widths) == 0:
        return [f"{key} is empty: give at least one hidden layer width, e.g. [512, 512, 512]"]
    bad = [w for w in widths if w < 1]
    if bad:
        return [f"{key} must hold positive widths, got {list(widths)}: remove or raise {bad[0]}"]
    return []
