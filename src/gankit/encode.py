"""``gankit encode`` and ``gankit reconstruct``: an inference run's encoder on a user's samples.

``encode`` writes E(x) for each input (``z.npz``: ``z`` float32, N x latent);
``reconstruct`` writes G(E(x)): a grid of input / reconstruction rows, an
``.npz`` or a folder, like ``gankit sample``. No training data is needed.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gankit.api import Run
from gankit.errors import ConfigError


def check_encoder_run(run: Run) -> None:
    if "encoder" not in run.networks or run.generator is None:
        raise ConfigError(
            f"this run ({run.config.objective.name}) has no encoder: gankit encode and reconstruct need a "
            "bigan or ali run"
        )


@torch.no_grad()
def encode(run: Run, inputs: Tensor, batch_size: int = 256) -> Tensor:
    """E(x) in eval mode (ALI: the posterior mean), batched."""
    check_encoder_run(run)
    encoder = run.networks["encoder"].eval()
    device = next(encoder.parameters()).device
    return torch.cat([encoder(x.to(device)).float().cpu() for x in inputs.split(batch_size)])


@torch.no_grad()
def reconstruct(run: Run, inputs: Tensor, batch_size: int = 256) -> Tensor:
    """G(E(x)) in eval mode, batched."""
    codes = encode(run, inputs, batch_size)
    generator = run.generator.eval()
    device = next(generator.parameters()).device
    return torch.cat([generator(z.to(device)).float().cpu() for z in codes.split(batch_size)])
