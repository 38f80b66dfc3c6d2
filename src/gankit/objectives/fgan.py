"""f-GAN (Nowozin, Cseke and Tomioka, 2016): a GAN for any f-divergence.

The critic's raw score v goes through the divergence's output activation
g_f into the domain of the conjugate f*, and the critic maximises the
variational lower bound of D_f(P || Q):

    E_P[g_f(V(x))] - E_Q[f*(g_f(V(G(z))))]

The generator either minimises that bound (the saddle point) or, as the paper
does in practice, maximises E_Q[g_f(V(G(z)))] (the analogue of the -log D
trick, ``objective.generator_loss=practical``, the default). The table of
activations and conjugates is ``gankit.losses.F_DIVERGENCES``, each composed
in a stable form; with ``divergence: gan`` the losses are exactly the
non-saturating GAN's. The critic's bound is logged as ``divergence_estimate``.

Copies of f-GAN code in circulation get total variation, Jensen-Shannon or
Hellinger's conjugates wrong, or drop the minus sign of reverse KL's
activation (``-exp(-v)``); the tests here check each conjugate against a
numeric Legendre transform.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from gankit.errors import did_you_mean
from gankit.losses import F_DIVERGENCES, f_divergence_critic_loss, f_divergence_generator_loss
from gankit.objectives.base import Objective, ObjectiveParams, Recommendation, Stats

GENERATOR_LOSSES = ("practical", "saddle")


@dataclass
class FGANParams(ObjectiveParams):
    divergence: str = "kl"  # one of gankit.losses.F_DIVERGENCES
    generator_loss: str = "practical"  # practical: max E_Q g_f(V) (the paper's choice) | saddle: min the bound

    def validate(self, prefix: str) -> list[str]:
        problems = super().validate(prefix)
        if self.divergence not in F_DIVERGENCES:
            problems.append(
                f"{prefix}.divergence '{self.divergence}' is not known{did_you_mean(self.divergence, F_DIVERGENCES)}: "
                f"use one of {', '.join(F_DIVERGENCES)}"
            )
        if self.generator_loss not in GENERATOR_LOSSES:
            problems.append(f"{prefix}.generator_loss must be practical or saddle, got '{self.generator_loss}'")
        return problems


class FGAN(Objective):
    name = "fgan"
    summary = "f-GAN: the variational bound of an f-divergence (KL, reverse KL, Pearson, Neyman, Hellinger, JS, GAN, TV)"
    Params = FGANParams
    recommended = Recommendation(optimizer="adam", lr=2e-4, betas=(0.5, 0.999), n_critic=1)
    headline = ("divergence_estimate", "generator_loss")

    def critic_link(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return f_divergence_critic_loss(real_scores, fake_scores, self.params.divergence)

    def generator_link(self, fake_scores: Tensor) -> Tensor:
        return f_divergence_generator_loss(fake_scores, self.params.divergence, self.params.generator_loss == "practical")

    def score_stats(self, real_scores: Tensor, fake_scores: Tensor) -> Stats:
        # The variational lower bound of D_f(P || Q) at this critic: the progress curve.
        return {"divergence_estimate": -f_divergence_critic_loss(real_scores, fake_scores, self.params.divergence)}
