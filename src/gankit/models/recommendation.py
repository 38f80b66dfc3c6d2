"""Matrix factorisation for item recommendation: the score of item d for user q is <u_q, v_d> + b_d.

IRGAN's generator and discriminator and the BPR baseline are all this model
(the reference's GEN, DIS and MF), each with its own weights.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

INIT_DELTA = 0.05  # the reference's uniform initialisation range


class MatrixFactorisation(nn.Module):
    """User and item embeddings of ``dim`` and an optional item bias; ``forward`` scores every item."""

    conditional = False  # no class conditioning, for code that asks any generator

    def __init__(self, num_users: int, num_items: int, dim: int, item_bias: bool = True):
        super().__init__()
        self.num_users, self.num_items = num_users, num_items
        self.users = nn.Parameter(torch_uniform(num_users, dim))
        self.items = nn.Parameter(torch_uniform(num_items, dim))
        self.bias = nn.Parameter(torch_uniform(num_items).zero_()) if item_bias else None

    def forward(self, users: Tensor) -> Tensor:
        """Scores (len(users), num_items) of every item for each user."""
        scores = self.users[users] @ self.items.T
        return scores + self.bias if self.bias is not None else scores

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        """The score of one item per user, (B,)."""
        scores = (self.users[users] * self.items[items]).sum(-1)
        return scores + self.bias[items] if self.bias is not None else scores

    def squared_norms(self, users: Tensor, items: Tensor) -> Tensor:
        """Half the squared norm of the rows a batch reads (tf.nn.l2_loss's form), per row: the L2 term."""
        norms = self.users[users].pow(2).sum(-1) + self.items[items].pow(2).sum(-1)
        if self.bias is not None:
            norms = norms + self.bias[items].pow(2)
        return 0.5 * norms


def torch_uniform(*shape: int) -> Tensor:
    """The reference's initialisation, from the global RNG (seed it first)."""
    return torch.empty(*shape).uniform_(-INIT_DELTA, INIT_DELTA)
