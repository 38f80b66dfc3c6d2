"""The critic loss's gradient norm per critic layer, over training (the WGAN-GP paper's Figure 1b).

Under weight clipping these norms vanish or explode from one layer to the
next; under a gradient penalty they stay level. Capturing them costs one
fused norm over the critic's gradients on the device, taken only at the critic
step of a generator step that will be logged, and read back to the host with
the other statistics.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def layer_parameters(critic: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """The critic's weight matrices and kernels: one per linear or conv layer (biases and norm scales left out)."""
    return [(name, p) for name, p in critic.named_parameters() if p.dim() >= 2 and not name.endswith("embedding.weight")]


class LayerGradientNorms:
    """Keeps the latest per-layer gradient norms of the critic side's loss, as a device tensor until asked.

    ``critics`` maps roles to networks; with more than one critic the layer
    names are prefixed by the role (``d_a.main.0.weight``).
    """

    def __init__(self, critics: dict[str, nn.Module]):
        named = [
            (name if len(critics) == 1 else f"{role}.{name}", p)
            for role, critic in critics.items()
            for name, p in layer_parameters(critic)
        ]
        self.names = [name for name, _ in named]
        self._parameters = [p for _, p in named]
        self._latest: Tensor | None = None

    def capture(self) -> None:
        """Call right after the critic loss's backward."""
        grads = [p.grad for p in self._parameters]
        if any(g is None for g in grads):
            return
        self._latest = torch.stack(torch._foreach_norm(grads)).float()

    def take(self) -> dict[str, float] | None:
        """The captured norms by layer name (one host sync), or None if none was captured since the last take."""
        if self._latest is None:
            return None
        values, self._latest = self._latest.tolist(), None
        return dict(zip(self.names, values))
