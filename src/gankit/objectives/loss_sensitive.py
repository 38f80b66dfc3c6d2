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

from gankit.losses import l1_margins, loss_sensitive_critic_loss
from gankit.objectives.base import CriticBatch, Objective, ObjectiveParams, Recommendation, Stats, StepContext


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

    @staticmethod
    def losses(scores: Tensor) -> Tensor:
        """L(x) >= 0 from the critic's raw scores."""
        return F.softplus(scores)

    def score_critic(
        self, critic: nn.Module, batch: CriticBatch, ctx: StepContext | None = None, link=None
    ) -> tuple[Tensor, Stats]:
        # The margins depend on the pairs of samples, not only on their scores.
        margins = l1_margins(batch.real, batch.fake)

        def pairwise_link(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
            return loss_sensitive_critic_loss(
                self.losses(real_scores), self.losses(fake_scores), margins, self.params.margin_weight
            )

        return super().score_critic(critic, batch, ctx, link=pairwise_link)

    def generator_link(self, fake_scores: Tensor) -> Tensor:
        return self.losses(fake_scores).mean()

    def score_stats(self, real_scores: Tensor, fake_scores: Tensor) -> Stats:
        return {"loss_real": self.losses(real_scores).mean(), "loss_fake": self.losses(fake_scores).mean()}
