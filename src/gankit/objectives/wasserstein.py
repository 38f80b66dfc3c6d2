"""The Wasserstein family: WGAN (clipping), WGAN-GP (gradient penalty), WGAN-div.

All three share the critic loss E[D(G(z))] - E[D(x)] and the generator loss
-E[D(G(z))]. They differ in how the critic is kept in check: clipping its
weights to [-c, c] after each step (Arjovsky et al.), penalising
(||grad D|| - 1)^2 at real-fake interpolates (Gulrajani et al.), or
penalising ||grad D||^6 on the mix of real and fake samples (Wu et al.).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gankit.losses import wasserstein_critic_loss, wasserstein_generator_loss
from gankit.objectives.base import Objective, ObjectiveParams, Recommendation, Stats, StepContext


class WassersteinObjective(Objective):
    """The Kantorovich-Rubinstein dual: the critic's score gap estimates W1."""

    # The critic's W estimate is the progress curve worth watching.
    headline = ("wasserstein",)
    w_estimate_stat = "wasserstein"

    def critic_link(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return wasserstein_critic_loss(real_scores, fake_scores)

    def generator_link(self, fake_scores: Tensor) -> Tensor:
        return wasserstein_generator_loss(fake_scores)

    def score_stats(self, real_scores: Tensor, fake_scores: Tensor) -> Stats:
        # The progress curve of the WGAN paper: E[D(x)] - E[D(G(z))].
        return {"wasserstein": real_scores.mean() - fake_scores.mean()}


@dataclass
class ClippingParams(ObjectiveParams):
    clip_value: float = 0.01

    def validate(self, prefix: str) -> list[str]:
        problems = super().validate(prefix)
        if self.clip_value <= 0:
            problems.append(f"{prefix}.clip_value must be > 0, got {self.clip_value}")
        return problems


class WGAN(WassersteinObjective):
    name = "wgan"
    summary = "WGAN: Wasserstein critic kept Lipschitz by clipping weights to [-c, c], RMSProp"
    Params = ClippingParams
    recommended = Recommendation(optimizer="rmsprop", lr=5e-5, n_critic=5)

    @torch.no_grad()
    def after_critic_step(self, critic: nn.Module, stats: Stats, ctx: StepContext) -> None:
        c = self.params.clip_value
        # Every parameter, as in the paper's Algorithm 1 (norm scales included).
        torch._foreach_clamp_min_(list(critic.parameters()), -c)
        torch._foreach_clamp_max_(list(critic.parameters()), c)


@dataclass
class GradientPenaltyParams(ObjectiveParams):
    penalty_weight: float = 10.0  # lambda
    penalty_target: float = 1.0
    penalty_power: float = 2.0
    penalty_points: str = "real-fake"


class WGANGP(WassersteinObjective):
    name = "wgan-gp"
    summary = "WGAN-GP: lambda (||grad D(x_hat)|| - 1)^2 at real-fake interpolates, lambda = 10"
    Params = GradientPenaltyParams
    recommended = Recommendation(optimizer="adam", lr=1e-4, betas=(0.0, 0.9), n_critic=5)


@dataclass
class DivergenceParams(ObjectiveParams):
    penalty_weight: float = 2.0  # k
    penalty_target: float = 0.0
    penalty_power: float = 6.0  # p
    # The seed document's (and PyTorch-GAN's) choice of r(x): real and fake
    # samples as they are. The paper shows WGAN-div is robust to this choice.
    penalty_points: str = "mixed"


class WGANDiv(WassersteinObjective):
    name = "wgan-div"
    summary = "WGAN-div: Wasserstein divergence, k E[||grad D(x)||^p] with k = 2, p = 6, no Lipschitz constraint"
    Params = DivergenceParams
    recommended = Recommendation(optimizer="adam", lr=2e-4, betas=(0.5, 0.999), n_critic=5)
