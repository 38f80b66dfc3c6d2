"""``gankit translate``: a translation run's generators on a user's images, points or arrays.

No training data is needed: the run's checkpoint holds the generators and
the shape of each domain. Inputs are a folder of images, one image file, or
an ``.npz`` of ``images`` (uint8, N x C x H x W) or ``points`` (N x 2). Image
files get the preprocessing training folders get (centre square, resized to
the domain's side, grey or RGB as the domain is); an ``.npz`` must already
have the domain's exact shape.
"""

from __future__ import annotations

import torch
from torch import Tensor
from tqdm import tqdm

from gankit.api import Run
from gankit.errors import ConfigError

DIRECTIONS = {"a2b": ("A", "g_ab", "g_ba"), "b2a": ("B", "g_ba", "g_ab")}


def check_translation_run(run: Run) -> None:
    if not {"g_ab", "g_ba"} <= set(run.networks):
        raise ConfigError(
            f"this run ({run.config.objective.name}) is not a translation run: gankit translate needs a "
            "cyclegan or discogan run; use gankit sample for the others"
        )


def source_shape(run: Run, direction: str) -> tuple[int, ...]:
    domain = DIRECTIONS[direction][0]
    return tuple(run.data["domains"][domain]["sample_shape"])


@torch.no_grad()
def translate(run: Run, inputs: Tensor, direction: str = "a2b", batch_size: int = 64,
              progress: bool = True) -> tuple[Tensor, Tensor]:
    """(translations, reconstructions) of ``inputs``, in eval mode, batched."""
    check_translation_run(run)
    if direction not in DIRECTIONS:
        raise ConfigError(f"--direction must be a2b or b2a, got '{direction}'")
    _, there, back = DIRECTIONS[direction]
    forward, backward = run.networks[there], run.networks[back]
    device = next(forward.parameters()).device
    translated, reconstructed = [], []
    for start in tqdm(range(0, len(inputs), batch_size), desc="translate", disable=not progress, leave=False):
        x = inputs[start:start + batch_size].to(device)
        y = forward(x).float()
        translated.append(y.cpu())
        reconstructed.append(backward(y).float().cpu())
    return torch.cat(translated), torch.cat(reconstructed)
