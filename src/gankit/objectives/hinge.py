"""The hinge loss GAN: Lim & Ye's geometric GAN, as SNGAN, SAGAN and BigGAN train it.

The critic minimises ``E relu(1 - D(x)) + E relu(1 + D(G(z)))``: real scores
are pushed above +1 and generated ones below -1, and a sample already beyond
its margin contributes nothing. The generator minimises ``-E D(G(z))``,
Wasserstein's generator loss. The critic's raw score D is unbounded; what
keeps it in check in SNGAN is spectral normalisation of the critic's layers,
and any of gankit's shared penalties (``objective.r1_gamma``,
``objective.penalty_weight``) or LeCam (``objective.lecam_weight``, the
paper's hinge + BigGAN setting) can be added here as for any objective.
"""

from __future__ import annotations

from torch import Tensor

from gankit.losses import hinge_critic_loss, hinge_generator_loss
from gankit.objectives.base import Objective, Recommendation, Stats


class HingeGAN(Objective):
    name = "hinge"
    summary = "hinge loss GAN (SNGAN, BigGAN): critic relu(1 - D(x)) + relu(1 + D(G(z))), generator -D(G(z))"
    # SNGAN's (Miyato et al., 2018) setting for its hinge-loss ResNets: Adam 2e-4, betas (0, 0.9), 5 critic
    # steps per generator step.
    recommended = Recommendation(optimizer="adam", lr=2e-4, betas=(0.0, 0.9), n_critic=5)

    def critic_link(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return hinge_critic_loss(real_scores, fake_scores)

    def generator_link(self, fake_scores: Tensor) -> Tensor:
        return hinge_generator_loss(fake_scores)

    def score_stats(self, real_scores: Tensor, fake_scores: Tensor) -> Stats:
        # The mean raw scores, and the share of each side already beyond its margin (where its hinge is flat).
        return {
            "score_real": real_scores.mean(),
            "score_fake": fake_scores.mean(),
            "real_beyond_margin": (real_scores >= 1).float().mean(),
            "fake_beyond_margin": (fake_scores <= -1).float().mean(),
        }
