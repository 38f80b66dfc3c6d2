"""Questions other parts of gankit ask about a built model."""

from __future__ import annotations

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def has_batch_statistics(module: nn.Module) -> bool:
    """True if ``module`` holds a batch norm (1d, 2d, 3d or Sync).

    In training mode such a layer normalises each sample with statistics of
    the whole batch, so one sample's output depends on the others. A critic
    like that breaks gradient penalties, which take the gradient of each
    sample's score with respect to that sample alone.
    """
    # _BatchNorm is the common base of BatchNorm1d/2d/3d, their lazy forms and
    # SyncBatchNorm, and not of InstanceNorm, which keeps samples apart.
    return any(isinstance(layer, _BatchNorm) for layer in module.modules())


def has_convolutions(module: nn.Module) -> bool:
    """True if ``module`` holds a 2-D convolution (plain or transposed): the layers a memory format speeds up."""
    return any(isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)) for layer in module.modules())
