"""Critics and generators that some objectives need on top of the plain architectures.

* ``AutoEncoderCritic`` (EBGAN, BEGAN): the discriminator is an auto-encoder,
  and a sample's score is its energy, the reconstruction error. The encoder is
  the architecture's critic with a code-wide last layer, the decoder its
  generator reading that code.
* ``InfoCritic`` (InfoGAN): the plain critic plus a Q head that reads the
  critic's body and predicts the generator's latent codes.
* ``CodedGenerator`` (InfoGAN): a generator whose last latent dimensions carry
  structured codes. It maps the tail of a standard normal ``z`` to a one-hot
  category (the argmax of k normals is uniform over k classes) and to
  continuous codes uniform on [-1, 1] (through the normal CDF), so every piece
  of gankit that draws ``z ~ N(0, I)`` (fixed noise, evaluation, sampling,
  data-parallel sharding) draws InfoGAN's latent distribution unchanged.

Which objective needs which is said by the objective (``Objective.critic_head``
and ``Objective.latent_codes``); this module only builds them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gankit.models.base import Critic, Generator
from gankit.models.config import ModelConfig

# ---------------------------------------------------------------- what an objective asks for

# How an auto-encoder critic turns a sample's reconstruction errors into its energy.
ENERGY_REDUCTIONS = ("mean", "sum")


@dataclass(frozen=True)
class ScoreHead:
    """The plain critic: one raw score per sample."""


@dataclass(frozen=True)
class AutoEncoderHead:
    """An auto-encoder critic whose score is each sample's reconstruction error.

    ``distance`` is "l2" (squared error: EBGAN) or "l1" (absolute error: BEGAN); ``reduction`` how a
    sample's errors make its energy: "mean" over its values (gankit's first energies) or "sum" (the
    papers' per-image norms, 784x the mean on MNIST).
    """

    distance: str
    reduction: str = "mean"


@dataclass(frozen=True)
class QHead:
    """A plain critic plus a head predicting ``outputs`` code values from its body."""

    outputs: int


CriticHead = ScoreHead | AutoEncoderHead | QHead


@dataclass(frozen=True)
class LatentCodes:
    """InfoGAN's structured codes at the end of ``z``: one categorical code and ``continuous`` uniform ones."""

    categories: int  # classes of the categorical code; 0 for none
    continuous: int

    @property
    def width(self) -> int:
        """Latent dimensions the codes occupy: one per category (the one-hot), one per continuous code."""
        return self.categories + self.continuous

    def split(self, z: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``z`` as (free noise, categorical part, continuous part), each still standard normal."""
        free = z.shape[1] - self.width
        return z[:, :free], z[:, free : free + self.categories], z[:, free + self.categories :]

    def targets(self, z: Tensor) -> tuple[Tensor | None, Tensor]:
        """The codes ``z`` encodes: category indices ``[B]`` (None without a category) and continuous ``[B, c]``."""
        _, categorical, continuous = self.split(z)
        category = categorical.argmax(dim=1) if self.categories else None
        # Phi(z) is uniform on [0, 1] for z ~ N(0, 1), so 2 Phi(z) - 1 is uniform on [-1, 1].
        uniform = torch.special.ndtr(continuous.float()) * 2 - 1
        return category, uniform.to(z.dtype)

    def explicit_input(self, free: Tensor, category: Tensor | None, continuous: Tensor) -> Tensor:
        """The inner generator's input for chosen codes: ``[free noise, one-hot category, continuous values]``.

        Continuous values may leave [-1, 1] here (the paper's figures sweep
        them to +-2); ``targets`` only ever draws them inside.
        """
        parts = [free]
        if self.categories:
            parts.append(nn.functional.one_hot(category, self.categories).to(free.dtype))
        parts.append(continuous.to(free.dtype))
        return torch.cat(parts, dim=1)

    def generator_input(self, z: Tensor) -> Tensor:
        """``z`` with its code dimensions replaced by the codes they draw (one-hot and uniform values)."""
        free, _, _ = self.split(z)
        return self.explicit_input(free, *self.targets(z))


# ---------------------------------------------------------------- the modules


class AutoEncoderCritic(Critic):
    """``x -> encoder -> code -> decoder -> x_hat``; its score is the per-sample energy, ``d(x, x_hat)``
    averaged (``reduction`` "mean") or summed ("sum") over the sample's values."""

    def __init__(self, encoder: Critic, decoder: Generator, distance: str, reduction: str = "mean") -> None:
        super().__init__(encoder.sample_shape, None)
        if distance not in ("l1", "l2"):
            raise ValueError(f"unknown reconstruction distance '{distance}'")
        if reduction not in ENERGY_REDUCTIONS:
            raise ValueError(f"unknown energy reduction '{reduction}'")
        self.encoder = encoder
        self.decoder = decoder
        self.distance = distance
        self.reduction = reduction

    @property
    def conditional(self) -> bool:
        return self.encoder.conditional

    def energy_and_code(self, x: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Each sample's energy ``[B]`` (float32) and its code ``[B, code_dim]``."""
        code = self.encoder(x, labels)
        error = self.decoder(code, labels).float() - x.float()
        per_value = (error.abs() if self.distance == "l1" else error.pow(2)).flatten(start_dim=1)
        return (per_value.sum(dim=1) if self.reduction == "sum" else per_value.mean(dim=1)), code

    def features(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.encoder(x, labels)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.energy_and_code(x, labels)[0]


class InfoCritic(Critic):
    """A critic and InfoGAN's Q head on the critic's body (shared, as in the paper: Q costs one small MLP)."""

    Q_HIDDEN = 128  # the InfoGAN paper's Q layer width on MNIST

    def __init__(self, critic: Critic, outputs: int, leaky_slope: float) -> None:
        super().__init__(critic.sample_shape, None)
        self.critic = critic
        # A critic may name the norm of Q's hidden layer (model.arch infogan: the paper's FC 128 BN lReLU).
        norm = critic.q_norm(self.Q_HIDDEN) if hasattr(critic, "q_norm") else None
        self.q = nn.Sequential(
            nn.Flatten(),
            nn.Linear(critic.feature_width, self.Q_HIDDEN, bias=norm is None),
            *([norm] if norm is not None else []),
            nn.LeakyReLU(leaky_slope),
            nn.Linear(self.Q_HIDDEN, outputs),
        )

    @property
    def conditional(self) -> bool:
        return self.critic.conditional

    def features(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.critic.features(x, labels)

    def score_and_codes(self, x: Tensor, labels: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Raw scores ``[B]`` and Q's outputs ``[B, outputs]`` from one pass through the body."""
        body = self.critic.features(x, labels)
        return self.critic.score_features(body), self.q(body)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.critic(x, labels)


class CodedGenerator(Generator):
    """A generator whose input's last ``codes.width`` dimensions are turned into InfoGAN codes first.

    ``generator`` (the inner one) takes ``codes.explicit_input(...)`` directly, for chosen codes.
    """

    def __init__(self, generator: Generator, codes: LatentCodes) -> None:
        super().__init__(generator.latent_dim, generator.sample_shape, None)
        self.num_classes = generator.num_classes  # the labels it takes, if the inner generator is conditional
        self.generator = generator
        self.codes = codes

    @property
    def conditional(self) -> bool:
        return self.generator.conditional

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.generator(self.codes.generator_input(z), labels)


def decoder_config(cfg: ModelConfig, code_dim: int) -> ModelConfig:
    """The decoder of an auto-encoder critic: the architecture's generator reading a ``code_dim`` code.

    It is part of the critic, so ``model.critic_norm`` governs it too: batch norm if the critic has it
    (the only norm a generator-shaped stack takes), none otherwise.
    """
    norm = "batch" if cfg.critic_norm == "batch" else "none"
    return dataclasses.replace(cfg, latent_dim=code_dim, generator_norm=norm)
