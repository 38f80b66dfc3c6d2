"""Least-squares GAN (Mao et al.): the critic regresses real to 1 and fake to 0.

The paper's 0-1 coding (a = 0, b = 1, c = 1: the generator aims at the
real label, c = b), which its experiments use; the 1/2 factors are the
paper's. (Its Pearson chi-squared result needs b - c = 1 and b - a = 2, e.g.
a = -1, b = 1, c = 0, a coding this objective does not offer.)
"""

from __future__ import annotations

from torch import Tensor

from gankit.losses import least_squares_critic_loss, least_squares_generator_loss
from gankit.objectives.base import Objective, Recommendation, Stats


class LeastSquaresGAN(Objective):
    name = "lsgan"
    summary = "least-squares GAN: squared error to targets 1 (real) and 0 (fake)"
    recommended = Recommendation(optimizer="adam", lr=2e-4, betas=(0.5, 0.999), n_critic=1)

    def critic_link(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return least_squares_critic_loss(real_scores, fake_scores)

    def generator_link(self, fake_scores: Tensor) -> Tensor:
        return least_squares_generator_loss(fake_scores)

    def score_stats(self, real_scores: Tensor, fake_scores: Tensor) -> Stats:
        return {"d_real": real_scores.mean(), "d_fake": fake_scores.mean()}
