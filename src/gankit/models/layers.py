"""Small factories for the activations and normalisation layers the models share.

Nothing here works in place: critics are differentiated twice (gradient
penalties), and an in-place activation can overwrite a tensor autograd still
needs. The memory saved is not worth that risk in a generator either.
"""

from __future__ import annotations

from torch import nn

from gankit.errors import ConfigError


def activation(name: str, leaky_slope: float) -> nn.Module:
    """A fresh activation layer called ``name`` ("relu" or "leaky_relu")."""
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(leaky_slope)
    # ModelConfig.validate refuses unknown names first; reaching here is a bug.
    raise ValueError(f"unknown activation '{name}'")


def feature_norm(kind: str, features: int, batchnorm_eps: float, key: str) -> nn.Module | None:
    """The normalisation of a fully connected block of ``features`` units, or None for "none".

    ``key`` is the config key that chose ``kind``, named in the error for
    instance norm, which has no meaning without spatial positions.
    """
    if kind == "none":
        return None
    if kind == "batch":
        return nn.BatchNorm1d(features, eps=batchnorm_eps)
    if kind == "layer":
        return nn.LayerNorm(features)
    if kind == "instance":
        raise ConfigError(
            f"{key} 'instance' needs spatial positions, which model.arch 'mlp' does not have: "
            "set it to layer or none"
        )
    raise ValueError(f"unknown normalization '{kind}'")


def channel_norm(kind: str, channels: int, batchnorm_eps: float) -> nn.Module | None:
    """The normalisation of a conv block of ``channels`` feature maps, or None for "none"."""
    if kind == "none":
        return None
    if kind == "batch":
        return nn.BatchNorm2d(channels, eps=batchnorm_eps)
    if kind == "layer":
        # One group normalises over (C, H, W) per sample: the layer norm of the
        # WGAN-GP paper's critic, without fixing the spatial size into the layer.
        return nn.GroupNorm(1, channels)
    if kind == "instance":
        # affine=True: without a learnt scale and shift per channel, instance
        # norm would erase every channel's mean and contrast for good.
        return nn.InstanceNorm2d(channels, affine=True)
    raise ValueError(f"unknown normalization '{kind}'")


def block(layer: nn.Module, norm: nn.Module | None, act: nn.Module) -> list[nn.Module]:
    """``layer -> [norm] -> act`` as a list, ready to splice into an nn.Sequential."""
    return [layer, act] if norm is None else [layer, norm, act]
