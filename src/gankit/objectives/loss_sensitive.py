"""Loss-Sensitive GAN (Qi, 2017).

The critic is a loss function L(x), low on real data. It must score each
generated sample worse than the real sample it is paired with by at least the
margin Delta(x, G(z)), the distance between the two, so that generated samples
far from the data are pushed hardest:

    critic:    E[L(x)] + lambda E[C(Delta(x, G(z)) + L(x) - L(G(z)))]
    generator: E[L(G(z))]

C is LS-GAN's max(0, a) by default; ``slope`` makes it the leaky ReLU of the
generalised GLS-GAN (Qi's glsgan.lua, the paper's appendix D): slope 0 is
LS-GAN, slope 1 gives C(a) = a, WGAN's difference of means (plus the mean
margin, a constant for the critic).

Delta is the L1 distance times ``margin_scale`` over the mean of the
sample's values: 1 (the default) averages them, so it reads the same for 2-D
points and for images; the values per sample (784 on MNIST) sums them over
the pixels, as Qi's code does. L is kept non-negative (the paper's loss
functions are; a softplus of the critic's raw score), otherwise E[L(x)]
could fall without bound while every margin still holds.

Qi's lab's PyTorch script lsgan-gp.py trains a different form: L is
the critic's raw score (``loss_link identity``) and the critic's loss is
the margin term alone (``real_weight 0``), so nothing pulls L towards a
floor. Its margin is tau = 2e-4 times the L1 distance summed over the
pixels (``margin_scale`` 784 x 2e-4 = 0.157 on MNIST), and its penalty
10 E ||grad L(x)|| (power 1) at the real samples. Neither form with that
code's margin and penalty trains the DCGAN MNIST preset here (measured at
seed 0, step 1,000: classifier FD 2,617 with the softplus, whose L(x) and
L(G(z)) both sink to about 5e-4, in its flat tail; 2,715 in the code's
form, the critic's gradients near 4e-3).

The paper also asks L to be Lipschitz; the shared gradient-penalty options
provide that (``objective.penalty_weight``, ``penalty_points``). The MNIST
preset takes the code's form with the margin summed over the pixels
(``margin_scale`` 784) and enforces the Lipschitz condition where WGAN-GP
does, at real-fake interpolates: the penalty at the real samples alone
(maple-research-lab's lsgan-gp-alt: ``penalty_points=real
penalty_target=0``) leaves L free to grow on generated samples, and
reached classifier FD 157 at best. The penalty reads the critic's raw
score s; with the softplus, ||grad L|| = sigmoid(s) ||grad s|| <= ||grad
s||, so it bounds L's gradient too.

``margin_active``, logged at every critic step, is the share of pairs
whose hinge binds. A margin far above what a 1-Lipschitz L can tell a pair
apart by (the summed L1 of two digits is 300-400, their L2 distance about
25) keeps it at 1, and then the critic's gradient is WGAN's: LS-GAN and
WGAN meet, as GLS-GAN's slope 1 says from the other side.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from gankit.losses import l1_margins, loss_sensitive_costs, loss_sensitive_critic_loss
from gankit.objectives.base import CriticBatch, Objective, ObjectiveParams, Recommendation, Stats, StepContext

LOSS_LINKS = {"softplus": F.softplus, "identity": lambda scores: scores}


@dataclass
class LossSensitiveParams(ObjectiveParams):
    margin_weight: float = 1.0  # the paper's lambda: weight of the margin term
    # Delta = margin_scale * mean |x - G(z)|: 1 the mean over the sample's values, their count (784 on MNIST) the
    # sum over pixels of Qi's code.
    margin_scale: float = 1.0
    slope: float = 0.0  # GLS-GAN's cost C(a) = leaky_relu(a, slope): 0 LS-GAN (max(0, a)), 1 WGAN (C(a) = a)
    # L from the critic's raw score s: softplus(s) >= 0 as in the paper, or s itself as in Qi's lab's code.
    loss_link: str = "softplus"
    real_weight: float = 1.0  # weight of E[L(x)] in the critic's loss: 1 the paper, 0 Qi's lab's code

    def validate(self, prefix: str) -> list[str]:
        problems = super().validate(prefix)
        if self.margin_weight <= 0:
            problems.append(f"{prefix}.margin_weight must be > 0, got {self.margin_weight}: 1.0 is a sound start")
        if not self.margin_scale > 0:
            problems.append(
                f"{prefix}.margin_scale must be > 0, got {self.margin_scale}: 1 averages the L1 distance over the "
                "sample's values, their count (784 on MNIST) sums it over the pixels"
            )
        if self.loss_link not in LOSS_LINKS:
            problems.append(f"{prefix}.loss_link must be one of {', '.join(LOSS_LINKS)}, got {self.loss_link!r}")
        if self.real_weight < 0:
            problems.append(f"{prefix}.real_weight must be >= 0, got {self.real_weight}: 1 is the paper's, 0 Qi's code")
        elif self.loss_link == "identity" and self.real_weight > 0:
            problems.append(
                f"{prefix}.real_weight must be 0 with loss_link identity, got {self.real_weight}: an unbounded "
                "L(x) would fall without end; use loss_link softplus to keep the E[L(x)] term"
            )
        if not 0.0 <= self.slope <= 1.0:
            problems.append(
                f"{prefix}.slope must be in [0, 1], got {self.slope}: 0 is LS-GAN's max(0, a), 1 WGAN's C(a) = a"
            )
        return problems


class LossSensitiveGAN(Objective):
    name = "loss-sensitive"
    summary = (
        "Loss-Sensitive GAN (Qi): L(x) + lambda C(Delta(x, G(z)) + L(x) - L(G(z))), Delta = L1, "
        "C = max(0, a) or GLS-GAN's leaky ReLU (slope)"
    )
    Params = LossSensitiveParams
    recommended = Recommendation(optimizer="adam", lr=2e-4, betas=(0.5, 0.999), n_critic=1)

    def losses(self, scores: Tensor) -> Tensor:
        """L(x) from the critic's raw scores (>= 0 through the paper's softplus)."""
        return LOSS_LINKS[self.params.loss_link](scores)

    def score_critic(
        self, critic: nn.Module, batch: CriticBatch, ctx: StepContext | None = None, link=None
    ) -> tuple[Tensor, Stats]:
        # The margins depend on the pairs of samples, not only on their scores.
        p = self.params
        margins = l1_margins(batch.real, batch.fake, p.margin_scale)
        active: Stats = {}

        def pairwise_link(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
            real_losses, fake_losses = self.losses(real_scores), self.losses(fake_scores)
            # The share of pairs whose margin still binds: at 1 the critic's gradient is WGAN's; near 0 the
            # critic has stopped learning from the margin.
            costs = loss_sensitive_costs(real_losses.detach(), fake_losses.detach(), margins.detach())
            active["margin_active"] = (costs > 0).float().mean()
            return loss_sensitive_critic_loss(
                real_losses, fake_losses, margins, p.margin_weight, p.slope, p.real_weight,
            )

        loss, stats = super().score_critic(critic, batch, ctx, link=pairwise_link)
        return loss, {**stats, **active}

    def generator_link(self, fake_scores: Tensor) -> Tensor:
        return self.losses(fake_scores).mean()

    def score_stats(self, real_scores: Tensor, fake_scores: Tensor) -> Stats:
        return {"loss_real": self.losses(real_scores).mean(), "loss_fake": self.losses(fake_scores).mean()}
