"""An exponential moving average of a generator's weights (one per generator-side network).

Averaged weights usually give cleaner samples than the last iterate of an
adversarial game, at the cost of one extra copy of the generator.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class GeneratorEMA:
    def __init__(self, generator: nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(generator).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, generator: nn.Module) -> None:
        averaged = list(self.model.parameters())
        current = [p.detach() for p in generator.parameters()]
        # lerp(avg, new, 1 - decay) == decay * avg + (1 - decay) * new, in one fused call.
        torch._foreach_lerp_(averaged, current, 1.0 - self.decay)
        # Batch-norm running statistics are not trained weights: copy them.
        for mine, theirs in zip(self.model.buffers(), generator.buffers()):
            mine.copy_(theirs)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(state)
