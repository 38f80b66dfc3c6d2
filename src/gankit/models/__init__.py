"""Generators and critics: the ``model:`` section of a config and the builders that read it.

Generators map ``z [B, latent_dim]`` (and optional labels) to samples
``[B, *sample_shape]``: images through tanh into [-1, 1], points linear.
Critics map samples to raw scores ``[B]``. Architectures: ``mlp`` (any
shape), ``dcgan`` and ``sngan-resnet`` (SNGAN's ResNets; square 28, 32 or 64
pixel images), ``infogan`` and ``began`` (their papers' networks); the
translation GANs' ``resnet`` and ``encoder-decoder`` map images to images.
Any of them can carry spectral norm (``spectral_norm``) and, when
conditional, a projection critic (``projection``).
"""

from gankit.models.base import Critic, Generator
from gankit.models.builders import NetworkBuilder, build_critic, build_generator, conditioning_classes
from gankit.models.config import ACTIVATIONS, ARCHITECTURES, NORMALIZATIONS, ModelConfig
from gankit.models.heads import AutoEncoderHead, CriticHead, LatentCodes, QHead, ScoreHead
from gankit.models.inspection import has_batch_statistics, has_convolutions

__all__ = [
    "ACTIVATIONS",
    "ARCHITECTURES",
    "NORMALIZATIONS",
    "AutoEncoderHead",
    "Critic",
    "CriticHead",
    "Generator",
    "LatentCodes",
    "ModelConfig",
    "NetworkBuilder",
    "QHead",
    "ScoreHead",
    "build_critic",
    "build_generator",
    "conditioning_classes",
    "has_batch_statistics",
    "has_convolutions",
]
