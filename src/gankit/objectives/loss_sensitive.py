"""Loss-Sensitive GAN (Qi, 2017).

The critic is a loss function L(x), low on real data. It must score each
generated sample worse than the real sample it is paired with by at least the
margin Delta(x, G(z)), the distance between the two, so that generated samples
far from the data are pushed hardest:

    critic:    E[L(x)] + lambda E[max(0, Delta(x, G(z)) + L(x) - L(G(z)))]
    generator: E[L(G(z))]

Delta is the L1 distance, averaged over the sample's values so that it reads
the same for 2-D points and for images. L is kept non-negative (the paper's
loss functions are; a softplus of the critic's raw score), otherwise E[L(x)]
could fall without bound while every margin still holds. The paper also asks
L to be Lipschitz; the shared gradient-penalty options provide that
(``objective.penalty_weight``, ``penalty_points``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from gankit.objectives.base import CriticBatch, Objective, ObjectiveParams, Recommendation, Stats


def l1_margins(real: Tensor, fake: Tensor) -> Tensor:
    """Delta(x_i, G(z_i)): the mean absolute difference of each real/generated pair, ``[B]``."""
    return (real.float() - fake.float()).abs().flatten(start_dim=1).mean(dim=1)


def loss_sensitive_critic_loss(real_losses: Tensor, fake_losses: Tensor, margins: Tensor, lambda_: float) -> Tensor:
    """``mean(L(x)) + lambda mean(max(0, Delta + L(x) - L(G(z))))`` over pairs."""
    return real_losses.mean() + lambda_ * F.relu(margins + real_losses - fake_losses).mean()


@dataclass
class LossSensitiveParams(ObjectiveParams):
    margin_weight: float = 1.0  # the paper's lambda: weight of the margin term

    def validate(self, prefix: str) -> list[str]:
        problems = super().validate(prefix)
        if self.margin_weight <= 0:
            problems.append(f"{prefix}.margin_weight must be > 0, got {self.margin_weight}: 1.0 is a sound start")
        return problems


class LossSensitiveGAN(Objective):
    name = "loss-sensitive"
    summary = "Loss-Sensitive GAN (Qi): L(x) + lambda max(0, Delta(x, G(z)) + L(x) - L(G(z))), Delta = L1"
    Params = LossSensitiveParams
    recommended = Recommendation(optimizer="adam", lr=2e-4, betas=(0.5, 0.999), n_critic=1)

    def __init__(self, params: LossSensitiveParams | None = None, fused_critic_forward: bool = True):
        super().__init__(params, fused_critic_forward)
        self._margins: Tensor | None = None

    @staticmethod
    def losses(scores: Tensor) -> Tensor:
        """L(x) >= 0 from the critic's raw scores."""
        return F.softplus(scores)

    def critic_loss(self, critic: nn.Module, batch: CriticBatch) -> tuple[Tensor, Stats]:
        # The margins depend on the samples, which critic_link does not see: computed here, read there.
        self._margins = l1_margins(batch.real, batch.fake)
        try:
            return super().critic_loss(critic, batch)
        finally:
            self._margins = None

    def critic_link(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        margins = self._margins
        return loss_sensitive_critic_loss(self.losses(real_scores), self.losses(fake_scores), margins, self.params.margin_weight)

    def generator_link(self, fake_scores: Tensor) -> Tensor:
        return self.losses(fake_scores).mean()

    def score_stats(self, real_scores: Tensor, fake_scores: Tensor) -> Stats:
        return {"loss_real": self.losses(real_scores).mean(), "loss_fake": self.losses(fake_scores).mean()}
