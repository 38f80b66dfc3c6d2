"""Build a run's generator and critic from its ``model:`` config, the data's shape and the objective's needs."""

from __future__ import annotations

from gankit.errors import ConfigError
from gankit.models.base import Critic, Generator
from gankit.models.began import BEGANCritic, BEGANGenerator
from gankit.models.config import TRANSLATION_ARCHITECTURES, ModelConfig
from gankit.models.dcgan import DCGANCritic, DCGANGenerator
from gankit.models.heads import (
    AutoEncoderCritic,
    AutoEncoderHead,
    CodedGenerator,
    CriticHead,
    InfoCritic,
    LatentCodes,
    QHead,
    ScoreHead,
    decoder_config,
)
from gankit.models.infogan import InfoGANCritic, InfoGANGenerator
from gankit.models.mlp import MLPCritic, MLPGenerator
from gankit.models.projection import ProjectionCritic
from gankit.models.sngan import SNGANCritic, SNGANGenerator
from gankit.models.spectral_norm import apply_spectral_norm

_GENERATORS: dict[str, type[Generator]] = {"mlp": MLPGenerator, "dcgan": DCGANGenerator, "infogan": InfoGANGenerator,
                                             "began": BEGANGenerator, "sngan-resnet": SNGANGenerator}
_CRITICS: dict[str, type[Critic]] = {"mlp": MLPCritic, "dcgan": DCGANCritic, "infogan": InfoGANCritic,
                                      "began": BEGANCritic, "sngan-resnet": SNGANCritic}


def conditioning_classes(cfg: ModelConfig, num_classes: int | None, data_name: str = "the data") -> int | None:
    """The classes the models condition on: the data's when ``model.conditional``, else None."""
    if not cfg.conditional:
        return None
    if not num_classes:
        raise ConfigError(
            f"model.conditional is true but {data_name} has no class labels: use a labelled dataset "
            "(mnist, digits, cifar10, a folder of class sub-folders, or a 2-D set whose modes are its classes) "
            "or set model.conditional=false"
        )
    return num_classes


def _refuse_translation_arch(cfg: ModelConfig) -> None:
    if cfg.arch in TRANSLATION_ARCHITECTURES:
        raise ConfigError(
            f"model.arch '{cfg.arch}' maps one image domain to another, not noise to samples: use it with "
            "objective cyclegan or discogan, or set model.arch to mlp, dcgan, infogan, began or sngan-resnet"
        )


def _spectrally_normalised(module, on: bool):
    """``module`` with spectral norm on its weights when ``on`` (applied last: after every layer's own init)."""
    if on:
        apply_spectral_norm(module)
    return module


def build_generator(
    cfg: ModelConfig,
    sample_shape: tuple[int, ...],
    num_classes: int | None = None,
    codes: LatentCodes | None = None,
) -> Generator:
    """The generator ``cfg`` describes for samples of ``sample_shape``; a ConfigError if it cannot be built.

    ``num_classes`` is what the data offers; the generator conditions on it
    only when ``cfg.conditional``. ``codes`` (InfoGAN) reserves the last
    latent dimensions for structured codes. Weights are drawn from the global
    torch RNG, so seed it first for a repeatable run.
    """
    cfg.check()
    _refuse_translation_arch(cfg)
    generator = _GENERATORS[cfg.arch](cfg, tuple(sample_shape), conditioning_classes(cfg, num_classes))
    if codes is None:
        return _spectrally_normalised(generator, cfg.generator_spectral_norm)
    if cfg.latent_dim <= codes.width:
        raise ConfigError(
            f"model.latent_dim {cfg.latent_dim} leaves no free noise beside InfoGAN's {codes.width} code dimensions "
            f"({codes.categories} for the category, {codes.continuous} continuous): raise model.latent_dim to at "
            f"least {codes.width + 1} (the paper uses 62 + {codes.width})"
        )
    return _spectrally_normalised(CodedGenerator(generator, codes), cfg.generator_spectral_norm)


def build_critic(
    cfg: ModelConfig,
    sample_shape: tuple[int, ...],
    num_classes: int | None = None,
    head: CriticHead = ScoreHead(),
) -> Critic:
    """The critic ``cfg`` describes, shaped as the objective's ``head`` asks; a ConfigError if it cannot be built.

    It returns raw scores of shape ``[B]`` (energies for auto-encoder
    critics): objectives apply their own link functions.
    """
    cfg.check()
    _refuse_translation_arch(cfg)
    shape, classes = tuple(sample_shape), conditioning_classes(cfg, num_classes)
    critic_type = _CRITICS[cfg.arch]
    projection = classes is not None and cfg.critic_conditioning == "projection"
    if projection and not isinstance(head, ScoreHead):
        kind = "an auto-encoder's energy" if isinstance(head, AutoEncoderHead) else "a score with InfoGAN's Q head"
        raise ConfigError(
            f"model.critic_conditioning 'projection' adds a class term to a single critic score, but this "
            f"objective's critic gives {kind}: set model.critic_conditioning to concat"
        )
    if isinstance(head, AutoEncoderHead):
        encoder = critic_type(cfg, shape, classes, outputs=cfg.autoencoder_code_dim)
        decoder = _GENERATORS[cfg.arch](decoder_config(cfg, cfg.autoencoder_code_dim), shape, classes)
        critic = AutoEncoderCritic(encoder, decoder, head.distance, head.reduction)
    elif isinstance(head, QHead):
        critic = InfoCritic(critic_type(cfg, shape, classes), head.outputs, cfg.leaky_slope)
    elif projection:
        # The body is built unconditional (no label channels); the label enters only through the projection.
        critic = ProjectionCritic(critic_type(cfg, shape, None), classes)
    else:
        critic = critic_type(cfg, shape, classes)
    return _spectrally_normalised(critic, cfg.critic_spectral_norm)


class NetworkBuilder:
    """Builds a run's networks from its ``model:`` config and the data's shape; handed to ``Objective.build_networks``.

    An objective asks for what it needs (a generator with codes, a critic
    with a head, two of each for two domains) without knowing the
    architectures; weights are drawn from the global torch RNG in the order
    asked, so seed it first.
    """

    def __init__(
        self, cfg: ModelConfig, sample_shape: tuple[int, ...], num_classes: int | None,
        domain_shapes: dict[str, tuple[int, ...]] | None = None, data: dict | None = None,
    ) -> None:
        self.cfg = cfg
        # What ``describe_data`` said of the data (kind, an interaction set's user and item counts...).
        self.data = data or {}
        self.sample_shape = tuple(sample_shape)
        self.num_classes = num_classes
        # Each data domain's sample shape (two for translation data; one, "data", otherwise).
        self.domain_shapes = {k: tuple(v) for k, v in (domain_shapes or {"data": sample_shape}).items()}

    def generator(self, codes: LatentCodes | None = None, sample_shape: tuple[int, ...] | None = None) -> Generator:
        return build_generator(self.cfg, sample_shape or self.sample_shape, self.num_classes, codes=codes)

    def critic(self, head: CriticHead = ScoreHead(), sample_shape: tuple[int, ...] | None = None) -> Critic:
        return build_critic(self.cfg, sample_shape or self.sample_shape, self.num_classes, head=head)

    def encoder(self, stochastic: bool = False):
        """An encoder x -> z of ``model.latent_dim`` (BiGAN's deterministic one, or ALI's reparametrised one)."""
        from gankit.models.joint import Encoder

        self.cfg.check()
        _refuse_translation_arch(self.cfg)
        width = self.cfg.latent_dim * (2 if stochastic else 1)
        body = _CRITICS[self.cfg.arch](self.cfg, self.sample_shape, None, outputs=width)
        return _spectrally_normalised(Encoder(body, self.cfg.latent_dim, stochastic), self.cfg.generator_spectral_norm)

    def joint_critic(self):
        """A critic of (x, z) pairs: x through the architecture's critic body, z through an MLP, then joined."""
        from gankit.models.joint import JOINT_WIDTH, JointCritic

        self.cfg.check()
        _refuse_translation_arch(self.cfg)
        body = _CRITICS[self.cfg.arch](self.cfg, self.sample_shape, None, outputs=JOINT_WIDTH)
        return _spectrally_normalised(JointCritic(body, self.cfg.latent_dim, self.cfg.leaky_slope),
                                      self.cfg.critic_spectral_norm)

    def translator(self, source_shape: tuple[int, ...], sample_shape: tuple[int, ...]):
        """A network from samples of ``source_shape`` to samples of ``sample_shape`` (CycleGAN's generators)."""
        from gankit.models.translation import build_translator

        return _spectrally_normalised(build_translator(self.cfg, source_shape, sample_shape),
                                      self.cfg.generator_spectral_norm)

    def domain_critic(self, sample_shape: tuple[int, ...]) -> Critic:
        """The critic of one translation domain (PatchGAN for model.arch resnet)."""
        from gankit.models.translation import build_domain_critic

        return _spectrally_normalised(build_domain_critic(self.cfg, sample_shape), self.cfg.critic_spectral_norm)
