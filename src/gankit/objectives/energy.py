"""Energy-based GANs with an auto-encoder discriminator: EBGAN and BEGAN.

The critic is an auto-encoder and a sample's energy (its score here) is its
reconstruction error: low for samples like the data, high otherwise. Both
train the auto-encoder to reconstruct real samples and not generated ones,
and the generator to make samples the auto-encoder reconstructs well.

* EBGAN (Zhao, Mathieu and LeCun, 2017): squared reconstruction error,
  the critic's hinge ``D(x) + max(0, m - D(G(z)))`` with margin m, and the
  generator's pulling-away term on the encoder's codes of a generated batch,
  which pushes them apart (against mode collapse). Optionally, MAGAN's margin
  adaptation (Wang et al., 2017): the margin falls to the real energy once the
  critic reconstructs real data better than it, and never rises (the seed
  document's "the margin shrinks as the generator improves"), and MAGAN's
  start: ``pretrain_steps`` steps that train the auto-encoder on real data
  alone, after which the margin is set to the mean real energy.
* BEGAN (Berthelot, Schumm and Metz, 2017): absolute reconstruction error;
  the critic minimises ``L(x) - k_t L(G(z))``, the generator ``L(G(z))``; the
  control variable k_t follows ``k += lambda_k (gamma L(x) - L(G(z)))``,
  clipped to [0, 1], to hold ``L(G(z)) = gamma L(x)``; the convergence measure
  ``M = L(x) + |gamma L(x) - L(G(z))|`` is the progress curve (and, with
  ``train.lr_schedule: plateau`` on ``convergence``, what halves the rate).

Energy units (``energy``, both objectives): "mean" is the per-value mean of a
sample's errors (gankit's first energies, the default so that old configs keep
their meaning), "sum" the per-image sum, the papers' units (EBGAN's
``||Dec(Enc(x)) - x||^2``, BEGAN's ``|v - D(v)|``). The units matter: the
margin m is in them, and k_t moves by ``lambda_k`` times an energy difference,
which per-value means make 784x smaller on MNIST, so that with the paper's
lambda_k = 0.001 k_t stayed near 0 over a whole run (gamma L(x) - L(G(z)) was
about 0.01 per step).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gankit.losses import (
    began_convergence,
    began_critic_loss,
    began_k_update,
    ebgan_critic_loss,
    pulling_away_term,
)
from gankit.models import AutoEncoderHead, CriticHead
from gankit.models.heads import ENERGY_REDUCTIONS
from gankit.objectives.base import (
    CRITIC,
    CRITIC_PHASE,
    Networks,
    Objective,
    ObjectiveParams,
    Phase,
    RealBatch,
    Recommendation,
    Stats,
    StepContext,
)


def _energy_problems(prefix: str, energy: str) -> list[str]:
    if energy in ENERGY_REDUCTIONS:
        return []
    return [f"{prefix}.energy must be mean (per-value, gankit's first units) or sum (per-image, the paper's), "
            f"got '{energy}'"]


# ------------------------------------------------------------------ EBGAN


@dataclass
class EBGANParams(ObjectiveParams):
    margin: float = 1.0  # m, in the energy's units (mean: 1.0 suits images in [-1, 1]; sum: 784x that on MNIST)
    pt_weight: float = 0.1  # the paper's lambda_PT
    margin_adaptation: bool = False  # MAGAN's rule: shrink m to the real energy, never grow it
    adaptation_momentum: float = 0.99  # smoothing of the batch energies the rule compares
    energy: str = "mean"  # "mean": per-value mean squared error; "sum": per-image sum (the paper's units)
    # MAGAN's start: the first pretrain_steps steps train the auto-encoder on real data only (no generator
    # step); then the margin is set to the smoothed real energy. They count in train.steps. 0: no pre-training.
    pretrain_steps: int = 0

    def validate(self, prefix: str) -> list[str]:
        problems = super().validate(prefix) + _energy_problems(prefix, self.energy)
        if self.margin <= 0:
            problems.append(f"{prefix}.margin must be > 0, got {self.margin}: 1.0 suits images in [-1, 1] "
                            "with energy mean, about 784x that with energy sum on MNIST")
        if self.pretrain_steps < 0:
            problems.append(f"{prefix}.pretrain_steps must be >= 0, got {self.pretrain_steps}: 0 turns it off")
        if self.pt_weight < 0:
            problems.append(f"{prefix}.pt_weight must be >= 0, got {self.pt_weight}: the paper uses 0.1")
        if not 0 <= self.adaptation_momentum < 1:
            problems.append(f"{prefix}.adaptation_momentum must be in [0, 1), got {self.adaptation_momentum}")
        return problems


class EBGAN(Objective):
    name = "ebgan"
    summary = "EBGAN: auto-encoder critic, energy = reconstruction MSE, hinge with margin m, pulling-away term"
    Params = EBGANParams
    recommended = Recommendation(optimizer="adam", lr=2e-4, betas=(0.5, 0.999), n_critic=1)

    def __init__(self, params: EBGANParams | None = None):
        super().__init__(params)
        # The margin is state: MAGAN's adaptation changes it, and a resumed run must continue from it.
        self.register_buffer("margin", torch.tensor(float(self.params.margin)))
        # Running mean of (real energy, fake energy), NaN until the first critic step.
        self.register_buffer("smoothed_energies", torch.full((2,), float("nan")))

    def critic_head(self) -> CriticHead:
        return AutoEncoderHead(distance="l2", reduction=self.params.energy)

    def pretraining(self, step: int) -> bool:
        return step < self.params.pretrain_steps

    def phases(self, step: int, critic_steps: int) -> list[Phase]:
        # Pre-training: one auto-encoder step on real data, no generator step.
        return [CRITIC_PHASE] if self.pretraining(step) else super().phases(step, critic_steps)

    def loss(self, side: str, nets: Networks, batch: RealBatch, ctx: StepContext) -> tuple[Tensor, Stats]:
        if side == CRITIC and self.pretraining(ctx.step):
            energy = nets["critic"](batch.samples, batch.labels).float().mean()
            return energy, {"critic_loss": energy.detach(), "energy_real": energy.detach(),
                            "margin": self.margin.clone()}
        return super().loss(side, nets, batch, ctx)

    def critic_link(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return ebgan_critic_loss(real_scores, fake_scores, self.margin)

    def score_stats(self, real_scores: Tensor, fake_scores: Tensor) -> Stats:
        return {"energy_real": real_scores.mean(), "energy_fake": fake_scores.mean(), "margin": self.margin.clone()}

    def score_generator(
        self, critic: nn.Module, fake: Tensor, fake_labels: Tensor | None = None, latent: Tensor | None = None
    ) -> tuple[Tensor, Stats]:
        energy, codes = critic.energy_and_code(fake, fake_labels)
        pt = pulling_away_term(codes)
        loss = energy.mean() + self.params.pt_weight * pt
        return loss, {"generator_loss": loss.detach(), "pulling_away": pt.detach()}

    @torch.no_grad()
    def after_critic_step(self, critic: nn.Module, stats: Stats, ctx: StepContext) -> None:
        if self.pretraining(ctx.step):
            # Smooth the real energy only; at the last pre-training step the margin starts from it (MAGAN).
            real = ctx.average(stats["energy_real"])
            previous = self.smoothed_energies[0]
            momentum = self.params.adaptation_momentum
            smoothed = torch.where(previous.isnan(), real, momentum * previous + (1 - momentum) * real)
            self.smoothed_energies[0] = smoothed
            if ctx.step == self.params.pretrain_steps - 1:
                self.margin.copy_(smoothed)
            return
        if not self.params.margin_adaptation:
            return
        # The energies of the critic step just taken, averaged over ranks so every rank's margin moves alike.
        energies = ctx.average(torch.stack([stats["energy_real"], stats["energy_fake"]]))
        smoothed = self.smoothed_energies
        momentum = self.params.adaptation_momentum
        smoothed = torch.where(smoothed.isnan(), energies, momentum * smoothed + (1 - momentum) * energies)
        self.smoothed_energies.copy_(smoothed)
        real, fake = smoothed[0], smoothed[1]
        # MAGAN: once real data sit below the margin and generated data above real data, m falls to E[D(x)].
        shrink = (real < self.margin) & (fake > real)
        self.margin.copy_(torch.where(shrink, real, self.margin))


# ------------------------------------------------------------------ BEGAN


@dataclass
class BEGANParams(ObjectiveParams):
    gamma: float = 0.5  # diversity ratio: the equilibrium asks for L(G(z)) = gamma L(x)
    lambda_k: float = 0.001  # k_t's learning rate, per unit of energy
    k_initial: float = 0.0
    # "mean": per-value mean absolute error; "sum": per-image sum, the paper's units, in which lambda_k 0.001
    # moves k_t (on MNIST 784x faster than with mean).
    energy: str = "mean"

    def validate(self, prefix: str) -> list[str]:
        problems = super().validate(prefix) + _energy_problems(prefix, self.energy)
        if not 0 < self.gamma <= 1:
            problems.append(f"{prefix}.gamma must be in (0, 1], got {self.gamma}: the paper uses 0.3 to 0.7")
        if self.lambda_k <= 0:
            problems.append(f"{prefix}.lambda_k must be > 0, got {self.lambda_k}: the paper uses 0.001")
        if not 0 <= self.k_initial <= 1:
            problems.append(f"{prefix}.k_initial must be in [0, 1], got {self.k_initial}: the paper starts at 0")
        return problems


class BEGAN(Objective):
    name = "began"
    summary = "BEGAN: auto-encoder critic, L1 energy, equilibrium control k_t (gamma, lambda_k), convergence M"
    Params = BEGANParams
    recommended = Recommendation(optimizer="adam", lr=1e-4, betas=(0.5, 0.999), n_critic=1)

    def __init__(self, params: BEGANParams | None = None):
        super().__init__(params)
        # k_t is state: a resumed run continues from the value it had.
        self.register_buffer("k", torch.tensor(float(self.params.k_initial)))

    def critic_head(self) -> CriticHead:
        return AutoEncoderHead(distance="l1", reduction=self.params.energy)

    def critic_link(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return began_critic_loss(real_scores, fake_scores, self.k)

    def generator_link(self, fake_scores: Tensor) -> Tensor:
        return fake_scores.mean()

    def score_stats(self, real_scores: Tensor, fake_scores: Tensor) -> Stats:
        real, fake = real_scores.mean(), fake_scores.mean()
        return {
            "convergence": began_convergence(real, fake, self.params.gamma),
            "k": self.k.clone(),
            "energy_real": real,
            "energy_fake": fake,
        }

    @torch.no_grad()
    def after_critic_step(self, critic: nn.Module, stats: Stats, ctx: StepContext) -> None:
        # The energies of the critic step just taken: the same generator whose samples the next step sees.
        real, fake = ctx.average(torch.stack([stats["energy_real"], stats["energy_fake"]]))
        self.k.copy_(began_k_update(self.k, real, fake, self.params.gamma, self.params.lambda_k))
