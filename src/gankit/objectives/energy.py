"""Energy-based GANs with an auto-encoder discriminator: EBGAN and BEGAN.

The critic is an auto-encoder and a sample's energy (its score here) is its
reconstruction error: low for samples like the data, high otherwise. Both
train the auto-encoder to reconstruct real samples and not generated ones,
and the generator to make samples the auto-encoder reconstructs well.

* EBGAN (Zhao, Mathieu and LeCun, 2017): per-sample mean squared error,
  the critic's hinge ``D(x) + max(0, m - D(G(z)))`` with margin m, and the
  generator's pulling-away term on the encoder's codes of a generated batch,
  which pushes them apart (against mode collapse). Optionally, MAGAN's margin
  adaptation (Wang et al., 2017): the margin falls to the real energy once the
  critic reconstructs real data better than it, and never rises (the seed
  document's "the margin shrinks as the generator improves").
* BEGAN (Berthelot, Schumm and Metz, 2017): per-sample mean absolute error;
  the critic minimises ``L(x) - k_t L(G(z))``, the generator ``L(G(z))``; the
  control variable k_t follows ``k += lambda_k (gamma L(x) - L(G(z)))``,
  clipped to [0, 1], to hold ``L(G(z)) = gamma L(x)``; the convergence measure
  ``M = L(x) + |gamma L(x) - L(G(z))|`` is the progress curve.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.models import AutoEncoderHead, CriticHead
from gankit.objectives.base import Objective, ObjectiveParams, Recommendation, Stats


def pulling_away_term(codes: Tensor) -> Tensor:
    """EBGAN's PT: the mean squared cosine similarity of distinct pairs of codes (0 orthogonal, 1 identical)."""
    flat = codes.float().flatten(start_dim=1)
    n = flat.shape[0]
    if n < 2:
        return flat.new_zeros(())
    unit = F.normalize(flat, dim=1, eps=1e-8)
    cosines = unit @ unit.T
    # The diagonal holds each code with itself (1 after normalising): leave it out of the mean.
    return (cosines.pow(2).sum() - cosines.diagonal().pow(2).sum()) / (n * (n - 1))


# ------------------------------------------------------------------ EBGAN


@dataclass
class EBGANParams(ObjectiveParams):
    margin: float = 1.0  # m, in units of the per-value mean squared error of images in [-1, 1]
    pt_weight: float = 0.1  # the paper's lambda_PT
    margin_adaptation: bool = False  # MAGAN's rule: shrink m to the real energy, never grow it
    adaptation_momentum: float = 0.99  # smoothing of the batch energies the rule compares

    def validate(self, prefix: str) -> list[str]:
        problems = super().validate(prefix)
        if self.margin <= 0:
            problems.append(f"{prefix}.margin must be > 0, got {self.margin}: 1.0 suits images in [-1, 1]")
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

    def __init__(self, params: EBGANParams | None = None, fused_critic_forward: bool = True):
        super().__init__(params, fused_critic_forward)
        # The margin is state: MAGAN's adaptation changes it, and a resumed run must continue from it.
        self.margin = torch.tensor(float(self.params.margin))
        self._smoothed = torch.full((2,), float("nan"))  # running mean of (real energy, fake energy)
        self._batch_energies: Tensor | None = None

    def critic_head(self) -> CriticHead:
        return AutoEncoderHead(distance="l2")

    def critic_link(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        self.margin = self.margin.to(fake_scores.device)  # state lives where training does
        # Kept for after_critic_step's margin adaptation.
        self._batch_energies = torch.stack([real_scores.mean(), fake_scores.mean()]).detach()
        return real_scores.mean() + F.relu(self.margin - fake_scores).mean()

    def score_stats(self, real_scores: Tensor, fake_scores: Tensor) -> Stats:
        return {"energy_real": real_scores.mean(), "energy_fake": fake_scores.mean(), "margin": self.margin.clone()}

    def generator_loss(
        self, critic: nn.Module, fake: Tensor, fake_labels: Tensor | None = None, latent: Tensor | None = None
    ) -> tuple[Tensor, Stats]:
        energy, codes = critic.energy_and_code(fake, fake_labels)
        pt = pulling_away_term(codes)
        loss = energy.mean() + self.params.pt_weight * pt
        return loss, {"generator_loss": loss.detach(), "pulling_away": pt.detach()}

    @torch.no_grad()
    def after_critic_step(self, critic: nn.Module) -> None:
        if not self.params.margin_adaptation or self._batch_energies is None:
            return
        energies = self.average(self._batch_energies)
        smoothed = self._smoothed.to(energies.device)
        momentum = self.params.adaptation_momentum
        smoothed = torch.where(smoothed.isnan(), energies, momentum * smoothed + (1 - momentum) * energies)
        self._smoothed = smoothed
        real, fake = smoothed[0], smoothed[1]
        margin = self.margin.to(energies.device)
        # MAGAN: once real data sit below the margin and generated data above real data, m falls to E[D(x)].
        shrink = (real < margin) & (fake > real)
        self.margin = torch.where(shrink, real, margin)

    def state_dict(self) -> dict[str, Tensor]:
        return {"margin": self.margin.detach().cpu(), "smoothed_energies": self._smoothed.detach().cpu()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.margin = state["margin"].clone()
        self._smoothed = state["smoothed_energies"].clone()


# ------------------------------------------------------------------ BEGAN


@dataclass
class BEGANParams(ObjectiveParams):
    gamma: float = 0.5  # diversity ratio: the equilibrium asks for L(G(z)) = gamma L(x)
    lambda_k: float = 0.001  # k_t's learning rate
    k_initial: float = 0.0

    def validate(self, prefix: str) -> list[str]:
        problems = super().validate(prefix)
        if not 0 < self.gamma <= 1:
            problems.append(f"{prefix}.gamma must be in (0, 1], got {self.gamma}: the paper uses 0.3 to 0.7")
        if self.lambda_k <= 0:
            problems.append(f"{prefix}.lambda_k must be > 0, got {self.lambda_k}: the paper uses 0.001")
        if not 0 <= self.k_initial <= 1:
            problems.append(f"{prefix}.k_initial must be in [0, 1], got {self.k_initial}: the paper starts at 0")
        return problems


def began_k_update(k: Tensor, real_energy: Tensor, fake_energy: Tensor, gamma: float, lambda_k: float) -> Tensor:
    """``clip(k + lambda_k (gamma L(x) - L(G(z))), 0, 1)``: k rises while generated samples are too easy."""
    return (k + lambda_k * (gamma * real_energy - fake_energy)).clamp(0.0, 1.0)


def began_convergence(real_energy: Tensor, fake_energy: Tensor, gamma: float) -> Tensor:
    """BEGAN's global convergence measure ``M = L(x) + |gamma L(x) - L(G(z))|``."""
    return real_energy + (gamma * real_energy - fake_energy).abs()


class BEGAN(Objective):
    name = "began"
    summary = "BEGAN: auto-encoder critic, L1 energy, equilibrium control k_t (gamma, lambda_k), convergence M"
    Params = BEGANParams
    recommended = Recommendation(optimizer="adam", lr=1e-4, betas=(0.5, 0.999), n_critic=1)

    def __init__(self, params: BEGANParams | None = None, fused_critic_forward: bool = True):
        super().__init__(params, fused_critic_forward)
        self.k = torch.tensor(float(self.params.k_initial))
        self._batch_energies: Tensor | None = None

    def critic_head(self) -> CriticHead:
        return AutoEncoderHead(distance="l1")

    def critic_link(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        real, fake = real_scores.mean(), fake_scores.mean()
        self.k = self.k.to(real.device)  # state lives where training does
        # Kept for after_critic_step's k_t update.
        self._batch_energies = torch.stack([real, fake]).detach()
        return real - self.k * fake

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
    def after_critic_step(self, critic: nn.Module) -> None:
        # The energies of the critic step just taken: the same generator whose samples the next step sees.
        if self._batch_energies is None:
            return
        real, fake = self.average(self._batch_energies)
        self.k = began_k_update(self.k.to(real.device), real, fake, self.params.gamma, self.params.lambda_k)

    def state_dict(self) -> dict[str, Tensor]:
        return {"k": self.k.detach().cpu()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.k = state["k"].clone()
