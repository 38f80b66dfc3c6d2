"""Build a run's generator and critic from its ``model:`` config and the data's shape."""

from __future__ import annotations

from torch import nn

from gankit.models.base import Critic, Generator
from gankit.models.config import ModelConfig
from gankit.models.dcgan import DCGANCritic, DCGANGenerator
from gankit.models.mlp import MLPCritic, MLPGenerator

_GENERATORS: dict[str, type[Generator]] = {"mlp": MLPGenerator, "dcgan": DCGANGenerator}
_CRITICS: dict[str, type[Critic]] = {"mlp": MLPCritic, "dcgan": DCGANCritic}


def build_generator(cfg: ModelConfig, sample_shape: tuple[int, ...], num_classes: int | None = None) -> nn.Module:
    """The generator ``cfg`` describes for samples of ``sample_shape``; a ConfigError if it cannot be built.

    Weights are drawn from the global torch RNG, so seed it first for a repeatable run.
    """
    cfg.check()
    return _GENERATORS[cfg.arch](cfg, tuple(sample_shape), num_classes)


def build_critic(cfg: ModelConfig, sample_shape: tuple[int, ...], num_classes: int | None = None) -> nn.Module:
    """The critic ``cfg`` describes for samples of ``sample_shape``; a ConfigError if it cannot be built.

    It returns raw scores of shape ``[B]``: objectives apply their own link functions.
    """
    cfg.check()
    return _CRITICS[cfg.arch](cfg, tuple(sample_shape), num_classes)
