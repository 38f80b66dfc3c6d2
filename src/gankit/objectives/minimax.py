"""The original GAN of Goodfellow et al.: minimax and non-saturating generators.

The critic outputs a logit s; D = sigmoid(s). Written with softplus, which
is log(1 + e^s), so that no probability is ever rounded to 0 or 1:
-log D = softplus(-s) and -log(1 - D) = softplus(s).
"""

from __future__ import annotations

from torch import Tensor

from gankit.losses import minimax_critic_loss, minimax_generator_loss, nonsaturating_generator_loss
from gankit.objectives.base import Objective, Recommendation, Stats


class MinimaxGAN(Objective):
    name = "gan"
    summary = "original minimax GAN: the generator minimises log(1 - D(G(z))) (saturates)"
    recommended = Recommendation(optimizer="adam", lr=2e-4, betas=(0.5, 0.999), n_critic=1)

    def critic_link(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return minimax_critic_loss(real_scores, fake_scores)

    def generator_link(self, fake_scores: Tensor) -> Tensor:
        return minimax_generator_loss(fake_scores)

    def score_stats(self, real_scores: Tensor, fake_scores: Tensor) -> Stats:
        return {"d_real": real_scores.sigmoid().mean(), "d_fake": fake_scores.sigmoid().mean()}


class NonSaturatingGAN(MinimaxGAN):
    name = "nsgan"
    summary = "non-saturating GAN: the generator minimises -log D(G(z)) (the -log D trick)"

    def generator_link(self, fake_scores: Tensor) -> Tensor:
        return nonsaturating_generator_loss(fake_scores)
