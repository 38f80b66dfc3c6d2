"""Least-squares GAN (Mao et al.): the critic regresses real and fake samples to two targets.

The critic minimises ``1/2 E (D(x) - b)^2 + 1/2 E (D(G(z)) - a)^2`` and the
generator ``1/2 E (D(G(z)) - c)^2`` (the paper's Eq. 2; the 1/2 factors are
the paper's). The default is the 0-1 coding its experiments use: a = 0,
b = 1, c = 1 (the generator aims at the real label, c = b). The paper's
Pearson chi-squared result needs b - c = 1 and b - a = 2, e.g. a = -1,
b = 1, c = 0 (``fake_target -1, real_target 1, generator_target 0``): there
the generator aims at the decision boundary between the two labels rather
than at the real label, so its pull does not fade once fakes score as real.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from gankit.losses import least_squares_critic_loss, least_squares_generator_loss
from gankit.objectives.base import Objective, ObjectiveParams, Recommendation, Stats


@dataclass
class LeastSquaresParams(ObjectiveParams):
    real_target: float = 1.0  # b: the critic's target on real samples
    fake_target: float = 0.0  # a: the critic's target on generated samples
    generator_target: float = 1.0  # c: the score the generator wants its samples to get

    def validate(self, prefix: str) -> list[str]:
        problems = super().validate(prefix)
        if self.real_target == self.fake_target:
            problems.append(
                f"{prefix}.real_target and {prefix}.fake_target are both {self.real_target}, so the critic has "
                "nothing to tell apart: use b = 1, a = 0 (the paper's 0-1 coding) or b = 1, a = -1 (its Pearson one)"
            )
        return problems


class LeastSquaresGAN(Objective):
    name = "lsgan"
    summary = "least-squares GAN: squared error to targets 1 (real) and 0 (fake)"
    Params = LeastSquaresParams
    recommended = Recommendation(optimizer="adam", lr=2e-4, betas=(0.5, 0.999), n_critic=1)
    params: LeastSquaresParams

    def critic_link(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return least_squares_critic_loss(real_scores, fake_scores, self.params.real_target, self.params.fake_target)

    def generator_link(self, fake_scores: Tensor) -> Tensor:
        return least_squares_generator_loss(fake_scores, self.params.generator_target)

    def score_stats(self, real_scores: Tensor, fake_scores: Tensor) -> Stats:
        return {"d_real": real_scores.mean(), "d_fake": fake_scores.mean()}
